/**
 * Dependency-free SVG line charts for the Markdown reports. Output is deterministic (same data,
 * same bytes) so reports can be diffed, and self-contained so they render on GitHub.
 */

export interface Series {
  name: string;
  points: readonly (readonly [number, number])[];
}

export interface ChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  series: readonly Series[];
  width?: number;
  height?: number;
  /** Draw a dot on every point (for sparse data such as a concurrency sweep). */
  markers?: boolean;
  /** Step plot, for empirical CDFs. */
  step?: boolean;
  yMin?: number;
  yMax?: number;
  xMin?: number;
}

const PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"];

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

/** Tick step of 1, 2 or 5 times a power of ten giving about `target` intervals. */
export function niceStep(range: number, target = 5): number {
  if (!(range > 0) || !Number.isFinite(range)) return 1;
  const raw = range / target;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const norm = raw / mag;
  const step = norm <= 1 ? 1 : norm <= 2 ? 2 : norm <= 5 ? 5 : 10;
  return step * mag;
}

function fmt(v: number): string {
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (a >= 1e6) return `${+(v / 1e6).toPrecision(3)}M`;
  if (a >= 1e4) return `${+(v / 1e3).toPrecision(3)}k`;
  if (a >= 1) return String(+v.toPrecision(4));
  return String(+v.toPrecision(2));
}

export function lineChart(opts: ChartOptions): string {
  const width = opts.width ?? 720;
  const height = opts.height ?? 400;
  const m = { left: 70, right: 20, top: 40, bottom: 55 };
  const pw = width - m.left - m.right;
  const ph = height - m.top - m.bottom;
  const all = opts.series.flatMap((s) => s.points).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  let xMin = opts.xMin ?? Math.min(...all.map((p) => p[0]));
  let xMax = Math.max(...all.map((p) => p[0]));
  let yMin = opts.yMin ?? Math.min(0, ...all.map((p) => p[1]));
  let yMax = opts.yMax ?? Math.max(...all.map((p) => p[1]));
  if (all.length === 0) {
    xMin = 0;
    xMax = 1;
    yMin = 0;
    yMax = 1;
  }
  if (xMax <= xMin) xMax = xMin + (xMin === 0 ? 1 : Math.abs(xMin) * 0.1);
  if (yMax <= yMin) yMax = yMin + (yMin === 0 ? 1 : Math.abs(yMin) * 0.1);
  const xStep = niceStep(xMax - xMin);
  const yStep = niceStep(yMax - yMin);
  if (opts.yMax === undefined) yMax = Math.ceil(yMax / yStep) * yStep;
  if (opts.xMin === undefined) xMin = Math.floor(xMin / xStep) * xStep;
  xMax = Math.ceil(xMax / xStep) * xStep;
  const sx = (x: number): number => m.left + ((x - xMin) / (xMax - xMin)) * pw;
  const sy = (y: number): number => m.top + ph - ((y - yMin) / (yMax - yMin)) * ph;
  const r = (v: number): string => v.toFixed(1);

  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${width / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${esc(opts.title)}</text>`,
  );
  for (let x = xMin; x <= xMax + xStep / 1e6; x += xStep) {
    out.push(
      `<line x1="${r(sx(x))}" y1="${m.top}" x2="${r(sx(x))}" y2="${m.top + ph}" stroke="#e5e5e5"/>`,
      `<text x="${r(sx(x))}" y="${m.top + ph + 16}" text-anchor="middle">${esc(fmt(x))}</text>`,
    );
  }
  for (let y = yMin; y <= yMax + yStep / 1e6; y += yStep) {
    out.push(
      `<line x1="${m.left}" y1="${r(sy(y))}" x2="${m.left + pw}" y2="${r(sy(y))}" stroke="#e5e5e5"/>`,
      `<text x="${m.left - 6}" y="${r(sy(y) + 4)}" text-anchor="end">${esc(fmt(y))}</text>`,
    );
  }
  out.push(
    `<rect x="${m.left}" y="${m.top}" width="${pw}" height="${ph}" fill="none" stroke="#333"/>`,
    `<text x="${m.left + pw / 2}" y="${height - 12}" text-anchor="middle">${esc(opts.xLabel)}</text>`,
    `<text transform="translate(16 ${m.top + ph / 2}) rotate(-90)" text-anchor="middle">${esc(opts.yLabel)}</text>`,
  );
  const named = opts.series.filter((s) => s.points.length > 0);
  const legendWidth = 34 + 7 * Math.max(0, ...named.map((s) => s.name.length));
  if (named.length > 0) {
    out.push(
      `<rect x="${m.left + pw - legendWidth - 6}" y="${m.top + 4}" width="${legendWidth}" height="${named.length * 16 + 6}" fill="#ffffff" fill-opacity="0.85" stroke="#ccc"/>`,
    );
  }
  let legendRow = 0;
  opts.series.forEach((s, i) => {
    const color = PALETTE[i % PALETTE.length] as string;
    const pts = s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
    if (pts.length === 0) return;
    let d = "";
    pts.forEach(([x, y], j) => {
      if (j === 0) d += `M${r(sx(x))},${r(sy(y))}`;
      else if (opts.step) d += `H${r(sx(x))}V${r(sy(y))}`;
      else d += `L${r(sx(x))},${r(sy(y))}`;
    });
    out.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="2"/>`);
    if (opts.markers || pts.length === 1) {
      for (const [x, y] of pts) out.push(`<circle cx="${r(sx(x))}" cy="${r(sy(y))}" r="3.5" fill="${color}"/>`);
    }
    const ly = m.top + 18 + legendRow++ * 16;
    const lx = m.left + pw - legendWidth;
    out.push(
      `<line x1="${lx}" y1="${ly - 4}" x2="${lx + 20}" y2="${ly - 4}" stroke="${color}" stroke-width="3"/>`,
      `<text x="${lx + 26}" y="${ly}">${esc(s.name)}</text>`,
    );
  });
  out.push("</svg>\n");
  return out.join("\n");
}
