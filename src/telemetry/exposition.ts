/**
 * Prometheus text exposition (format 0.0.4) as the imitated servers print it.
 *
 * prom-client holds the values; this file prints them the way each original's client library does,
 * because scrapers, recording rules and hand-written regexes see these details:
 * - `python` (vLLM, prometheus_client): labels sorted by name, floats as Python's repr turned into
 *   Go style (`0.0`, `1.7e+09`, `le="1.0"`), and every counter and histogram followed by its
 *   `<name>_created` gauge family, as vLLM's /metrics shows.
 * - `cpp` (Triton, prometheus-cpp): labels sorted (std::map), values as `%.16g` (`0`, `0.25`).
 */

export type Dialect = "python" | "cpp";

export interface Sample {
  value: number;
  labels: Record<string, string | number | undefined>;
  /** Sample name when it differs from the family name (`_bucket`, `_sum`, `_count`). */
  metricName?: string;
}

export interface Family {
  name: string;
  help: string;
  type: string;
  values: Sample[];
}

/** Python's `repr(float)`: shortest round-trip digits, fixed notation for exponents -4..15. */
export function pythonRepr(d: number): string {
  if (Number.isNaN(d)) return "nan";
  if (!Number.isFinite(d)) return d > 0 ? "inf" : "-inf";
  if (d === 0) return Object.is(d, -0) ? "-0.0" : "0.0";
  const sign = d < 0 ? "-" : "";
  const [mant, expText] = Math.abs(d).toExponential().split("e") as [string, string];
  const digits = mant.replace(".", "");
  const exp = Number(expText);
  if (exp >= -4 && exp < 16) {
    if (exp >= 0) {
      const int = digits.length > exp + 1 ? digits.slice(0, exp + 1) : digits.padEnd(exp + 1, "0");
      const frac = digits.length > exp + 1 ? digits.slice(exp + 1) : "0";
      return `${sign}${int}.${frac}`;
    }
    return `${sign}0.${"0".repeat(-exp - 1)}${digits}`;
  }
  const m = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
  const e = Math.abs(exp).toString().padStart(2, "0");
  return `${sign}${m}e${exp < 0 ? "-" : "+"}${e}`;
}

/** prometheus_client's `floatToGoString`, used for every value and for `le`. */
export function goFloat(d: number): string {
  if (d === Number.POSITIVE_INFINITY) return "+Inf";
  if (d === Number.NEGATIVE_INFINITY) return "-Inf";
  if (Number.isNaN(d)) return "NaN";
  const s = pythonRepr(d);
  const dot = s.indexOf(".");
  // Go switches to exponents sooner than Python; prometheus_client mimics it for positive values.
  if (d > 0 && dot > 6) {
    const mantissa = `${s[0]}.${s.slice(1, dot)}${s.slice(dot + 1)}`.replace(/[0.]+$/, "");
    return `${mantissa}e+0${dot - 1}`;
  }
  return s;
}

/** C++ `ostream << double` with precision 16, which prometheus-cpp's serializer uses. */
export function cppDouble(d: number): string {
  if (Number.isNaN(d)) return "Nan";
  if (!Number.isFinite(d)) return d > 0 ? "+Inf" : "-Inf";
  if (d === 0) return "0";
  const precision = 16;
  const exp = Number(d.toExponential(precision - 1).split("e")[1]);
  if (exp >= -4 && exp < precision) {
    const fixed = d.toFixed(Math.max(0, precision - 1 - exp));
    return fixed.includes(".") ? fixed.replace(/\.?0+$/, "") : fixed;
  }
  const [m, e] = d.toExponential(precision - 1).split("e") as [string, string];
  const mant = m.includes(".") ? m.replace(/\.?0+$/, "") : m;
  const n = Number(e);
  return `${mant}e${n < 0 ? "-" : "+"}${Math.abs(n).toString().padStart(2, "0")}`;
}

export function escapeLabelValue(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

export function escapeHelp(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}

/** Both client libraries print labels sorted by name (prometheus-cpp keeps them in a std::map). */
function labelText(labels: Record<string, string | number | undefined>): string {
  const entries: [string, string][] = [];
  for (const [k, v] of Object.entries(labels)) {
    if (v !== undefined) entries.push([k, String(v)]);
  }
  if (entries.length === 0) return "";
  entries.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return `{${entries.map(([k, v]) => `${k}="${escapeLabelValue(v)}"`).join(",")}}`;
}

function formatValue(v: number, dialect: Dialect): string {
  return dialect === "python" ? goFloat(v) : cppDouble(v);
}

/** Identity of a child series: its labels without `le`, in a stable order. */
export function seriesKey(labels: Record<string, string | number | undefined>): string {
  return Object.keys(labels)
    .filter((k) => k !== "le" && labels[k] !== undefined)
    .sort()
    .map((k) => `${k}=${String(labels[k])}`)
    .join("\u0000");
}

export interface RenderOptions {
  dialect: Dialect;
  /**
   * Creation time (Unix seconds) of a counter or histogram child, for the python dialect's
   * `_created` families; called once per child and scrape.
   */
  created?: (family: string, labels: Record<string, string | number | undefined>) => number;
}

/** Histogram samples grouped per child, each as buckets (ascending), `_count`, `_sum`. */
function orderHistogram(f: Family): Sample[][] {
  const children = new Map<string, { buckets: Sample[]; count?: Sample; sum?: Sample }>();
  for (const s of f.values) {
    const key = seriesKey(s.labels);
    let c = children.get(key);
    if (!c) {
      c = { buckets: [] };
      children.set(key, c);
    }
    const n = s.metricName ?? f.name;
    if (n.endsWith("_bucket")) c.buckets.push(s);
    else if (n.endsWith("_count")) c.count = s;
    else if (n.endsWith("_sum")) c.sum = s;
  }
  const le = (s: Sample): number => {
    const v = s.labels.le;
    return v === "+Inf" ? Number.POSITIVE_INFINITY : Number(v);
  };
  const out: Sample[][] = [];
  for (const c of children.values()) {
    const list = [...c.buckets].sort((a, b) => le(a) - le(b));
    if (c.count) list.push(c.count);
    if (c.sum) list.push(c.sum);
    out.push(list);
  }
  return out;
}

/** Print families in the given order; ends with a newline when anything was printed. */
export function renderFamilies(families: readonly Family[], opts: RenderOptions): string {
  const out: string[] = [];
  const { dialect } = opts;
  for (const f of families) {
    const help = escapeHelp(f.help);
    out.push(`# HELP ${f.name} ${help}`, `# TYPE ${f.name} ${f.type}`);
    const groups = f.type === "histogram" ? orderHistogram(f) : f.values.map((s) => [s]);
    for (const group of groups) {
      for (const s of group) {
        const name = s.metricName ?? f.name;
        const labels = { ...s.labels };
        if (typeof labels.le === "number") labels.le = formatValue(labels.le, dialect);
        out.push(`${name}${labelText(labels)} ${formatValue(s.value, dialect)}`);
      }
    }
    if (dialect === "python" && opts.created && (f.type === "counter" || f.type === "histogram")) {
      // prometheus_client names the creation gauge after the counter without its `_total`.
      const base = f.type === "counter" && f.name.endsWith("_total") ? f.name.slice(0, -"_total".length) : f.name;
      const createdName = `${base}_created`;
      const seen = new Set<string>();
      const lines: string[] = [];
      for (const s of f.values) {
        const key = seriesKey(s.labels);
        if (seen.has(key)) continue;
        seen.add(key);
        const labels = { ...s.labels };
        delete labels.le;
        lines.push(`${createdName}${labelText(labels)} ${goFloat(opts.created(f.name, labels))}`);
      }
      if (lines.length) out.push(`# HELP ${createdName} ${help}`, `# TYPE ${createdName} gauge`, ...lines);
    }
  }
  return out.length ? `${out.join("\n")}\n` : "";
}
