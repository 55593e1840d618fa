import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { describe, it } from "node:test";
import { FakeClock } from "../../src/engine/clock.js";
import {
  DcgmExporter,
  type DcgmExporterOptions,
  GPU_PROFILE_KEYS,
  GPU_PROFILES,
  type GpuLoadSample,
  type GpuLoadSource,
} from "../../src/telemetry/dcgm/index.js";

/**
 * dcgm-exporter's default counter set as a real scrape prints it (order, TYPE, HELP). Kept here
 * rather than imported so that an edit to the source table shows up as a failing test.
 */
const EXPECTED: ReadonlyArray<readonly [string, "gauge" | "counter", string]> = [
  ["DCGM_FI_DEV_SM_CLOCK", "gauge", "SM clock frequency (in MHz)."],
  ["DCGM_FI_DEV_MEM_CLOCK", "gauge", "Memory clock frequency (in MHz)."],
  ["DCGM_FI_DEV_MEMORY_TEMP", "gauge", "Memory temperature (in C)."],
  ["DCGM_FI_DEV_GPU_TEMP", "gauge", "GPU temperature (in C)."],
  ["DCGM_FI_DEV_POWER_USAGE", "gauge", "Power draw (in W)."],
  ["DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION", "counter", "Total energy consumption since boot (in mJ)."],
  ["DCGM_FI_DEV_PCIE_REPLAY_COUNTER", "counter", "Total number of PCIe retries."],
  ["DCGM_FI_DEV_GPU_UTIL", "gauge", "GPU utilization (in %)."],
  ["DCGM_FI_DEV_MEM_COPY_UTIL", "gauge", "Memory utilization (in %)."],
  ["DCGM_FI_DEV_ENC_UTIL", "gauge", "Encoder utilization (in %)."],
  ["DCGM_FI_DEV_DEC_UTIL", "gauge", "Decoder utilization (in %)."],
  ["DCGM_FI_DEV_XID_ERRORS", "gauge", "Value of the last XID error encountered."],
  ["DCGM_FI_DEV_FB_FREE", "gauge", "Framebuffer memory free (in MiB)."],
  ["DCGM_FI_DEV_FB_USED", "gauge", "Framebuffer memory used (in MiB)."],
  ["DCGM_FI_DEV_FB_RESERVED", "gauge", "Framebuffer memory reserved (in MiB)."],
  ["DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS", "counter", "Number of remapped rows for uncorrectable errors"],
  ["DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS", "counter", "Number of remapped rows for correctable errors"],
  ["DCGM_FI_DEV_ROW_REMAP_FAILURE", "gauge", "Whether remapping of rows has failed"],
  ["DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL", "counter", "Total number of NVLink bandwidth counters for all lanes."],
  ["DCGM_FI_DEV_VGPU_LICENSE_STATUS", "gauge", "vGPU License status"],
  ["DCGM_FI_PROF_GR_ENGINE_ACTIVE", "gauge", "Ratio of time the graphics engine is active."],
  ["DCGM_FI_PROF_PIPE_TENSOR_ACTIVE", "gauge", "Ratio of cycles the tensor (HMMA) pipe is active."],
  [
    "DCGM_FI_PROF_DRAM_ACTIVE",
    "gauge",
    "Ratio of cycles the device memory interface is active sending or receiving data.",
  ],
  [
    "DCGM_FI_PROF_PCIE_TX_BYTES",
    "gauge",
    "The rate of data transmitted over the PCIe bus - including both protocol headers and data payloads - in bytes per second.",
  ],
  [
    "DCGM_FI_PROF_PCIE_RX_BYTES",
    "gauge",
    "The rate of data received over the PCIe bus - including both protocol headers and data payloads - in bytes per second.",
  ],
];

const COUNTERS = EXPECTED.filter(([, t]) => t === "counter").map(([n]) => n);
const BASE_LABELS = ["gpu", "UUID", "pci_bus_id", "device", "modelName", "Hostname", "DCGM_FI_DRIVER_VERSION"];

interface Sample {
  name: string;
  labels: Array<[string, string]>;
  value: number;
  raw: string;
}

interface Scrape {
  help: Map<string, string>;
  type: Map<string, string>;
  order: string[];
  samples: Sample[];
}

function parse(text: string): Scrape {
  const help = new Map<string, string>();
  const type = new Map<string, string>();
  const order: string[] = [];
  const samples: Sample[] = [];
  assert.ok(text.endsWith("\n"), "exposition ends with a newline");
  for (const line of text.slice(0, -1).split("\n")) {
    let m = /^# HELP (\S+) (.*)$/.exec(line);
    if (m) {
      help.set(m[1] as string, m[2] as string);
      order.push(m[1] as string);
      continue;
    }
    m = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (m) {
      type.set(m[1] as string, m[2] as string);
      continue;
    }
    m = /^([A-Za-z_:][A-Za-z0-9_:]*)\{(.*)\} (\S+)$/.exec(line);
    assert.ok(m, `unparseable line: ${line}`);
    const labels: Array<[string, string]> = [];
    const re = /([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)",?/gy;
    const body = m[2] as string;
    let consumed = 0;
    for (let lm = re.exec(body); lm !== null; lm = re.exec(body)) {
      labels.push([lm[1] as string, lm[2] as string]);
      consumed = re.lastIndex;
    }
    assert.equal(consumed, body.length, `bad label set: ${body}`);
    samples.push({ name: m[1] as string, labels, value: Number(m[3]), raw: m[3] as string });
  }
  return { help, type, order, samples };
}

function values(s: Scrape, name: string): number[] {
  return s.samples.filter((x) => x.name === name).map((x) => x.value);
}

function value(s: Scrape, name: string, gpu = 0): number {
  const v = values(s, name)[gpu];
  assert.ok(v !== undefined, `${name} gpu ${gpu} missing`);
  return v;
}

class TestLoad implements GpuLoadSource {
  active = 0;
  capacity = 256;
  tps = 0;
  kv = 0;
  sample(): GpuLoadSample {
    return { activeRequests: this.active, capacity: this.capacity, tokensPerSecond: this.tps, kvCacheUsage: this.kv };
  }
  full(): void {
    this.active = this.capacity;
    this.tps = 5000;
    this.kv = 0.9;
  }
}

function make(
  over: Partial<DcgmExporterOptions> = {},
  load: GpuLoadSource = new TestLoad(),
  clock = new FakeClock(),
): { ex: DcgmExporter; clock: FakeClock } {
  const opts: DcgmExporterOptions = {
    gpuName: "h100-sxm",
    numGpus: 2,
    initialLoad: 0,
    hostname: "node-a",
    hostnameLabel: "Hostname",
    instance: 1,
    seed: 7,
    ...over,
  };
  return { ex: new DcgmExporter(opts, clock, load), clock };
}

/** Scrape every `stepMs` for `totalMs`, returning every scrape. */
function run(ex: DcgmExporter, clock: FakeClock, totalMs: number, stepMs = 1000): Scrape[] {
  const out: Scrape[] = [];
  for (let t = 0; t < totalMs; t += stepMs) {
    clock.advance(stepMs);
    out.push(parse(ex.render()));
  }
  return out;
}

describe("dcgm exporter: exposition format", () => {
  it("prints the 25 default families in dcgm-exporter's order with its HELP and TYPE", () => {
    const { ex } = make();
    const s = parse(ex.render());
    assert.deepEqual(
      s.order,
      EXPECTED.map(([n]) => n),
    );
    for (const [name, type, help] of EXPECTED) {
      assert.equal(s.type.get(name), type, `${name} TYPE`);
      assert.equal(s.help.get(name), help, `${name} HELP`);
      assert.equal(values(s, name).length, 2, `${name} has one series per GPU`);
    }
  });

  it("labels every series like dcgm-exporter, in its order, with err_code/err_msg on XID", () => {
    const { ex } = make({ driverVersion: "570.133.20" });
    const s = parse(ex.render());
    for (const smp of s.samples) {
      const keys = smp.labels.map(([k]) => k);
      const expected = smp.name === "DCGM_FI_DEV_XID_ERRORS" ? [...BASE_LABELS, "err_code", "err_msg"] : BASE_LABELS;
      assert.deepEqual(keys, expected, smp.name);
      const l = new Map(smp.labels);
      assert.match(l.get("UUID") ?? "", /^GPU-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      assert.match(l.get("pci_bus_id") ?? "", /^00000000:[0-9A-F]{2}:00\.0$/);
      assert.equal(l.get("device"), `nvidia${l.get("gpu")}`);
      assert.equal(l.get("modelName"), "NVIDIA H100 80GB HBM3");
      assert.equal(l.get("Hostname"), "node-a");
      assert.equal(l.get("DCGM_FI_DRIVER_VERSION"), "570.133.20");
      if (smp.name === "DCGM_FI_DEV_XID_ERRORS") {
        assert.equal(l.get("err_code"), "0");
        assert.equal(l.get("err_msg"), "No Error");
      }
    }
  });

  it("prints integers for integer fields and %f for power and PROF ratios", () => {
    const { ex } = make();
    const s = parse(ex.render());
    const floats = new Set([
      "DCGM_FI_DEV_POWER_USAGE",
      "DCGM_FI_PROF_GR_ENGINE_ACTIVE",
      "DCGM_FI_PROF_PIPE_TENSOR_ACTIVE",
      "DCGM_FI_PROF_DRAM_ACTIVE",
    ]);
    for (const smp of s.samples) {
      assert.match(smp.raw, floats.has(smp.name) ? /^\d+\.\d{6}$/ : /^\d+$/, `${smp.name}=${smp.raw}`);
    }
  });

  it("switches the hostname label's case and omits it for an empty hostname", () => {
    const lower = parse(make({ hostnameLabel: "hostname" }).ex.render());
    for (const smp of lower.samples) {
      const keys = smp.labels.map(([k]) => k);
      assert.equal(keys[5], "hostname");
      assert.ok(!keys.includes("Hostname"));
    }
    const none = parse(make({ hostname: "" }).ex.render());
    for (const smp of none.samples) {
      const keys = smp.labels.map(([k]) => k);
      assert.ok(!keys.includes("Hostname") && !keys.includes("hostname"));
      assert.equal(keys[5], "DCGM_FI_DRIVER_VERSION");
    }
  });

  it("escapes awkward label values", () => {
    const s = parse(make({ hostname: 'a"b\\c' }).ex.render());
    assert.equal(new Map(s.samples[0]?.labels).get("Hostname"), 'a\\"b\\\\c');
  });

  it("adds POWER_MGMT_LIMIT and FB_TOTAL only when extras are asked for", () => {
    const plain = parse(make().ex.render());
    assert.ok(!plain.type.has("DCGM_FI_DEV_POWER_MGMT_LIMIT"));
    const s = parse(make({ extras: true, gpuName: "h200" }).ex.render());
    assert.equal(s.order.length, 27);
    assert.equal(s.type.get("DCGM_FI_DEV_POWER_MGMT_LIMIT"), "gauge");
    assert.equal(value(s, "DCGM_FI_DEV_POWER_MGMT_LIMIT"), 700);
    assert.equal(value(s, "DCGM_FI_DEV_FB_TOTAL"), GPU_PROFILES.h200.fbTotalMiB);
  });

  it("renders every profile with 1 and 8 GPUs", () => {
    for (const gpuName of GPU_PROFILE_KEYS) {
      for (const numGpus of [1, 8]) {
        const s = parse(make({ gpuName, numGpus }).ex.render());
        assert.equal(values(s, "DCGM_FI_DEV_GPU_UTIL").length, numGpus);
        const bus = s.samples
          .filter((x) => x.name === "DCGM_FI_DEV_GPU_UTIL")
          .map((x) => new Map(x.labels).get("pci_bus_id"));
        assert.equal(new Set(bus).size, numGpus, `${gpuName}: distinct bus ids`);
      }
    }
  });

  it("passes promtool's parser (naming-convention lint aside, which real dcgm-exporter also fails)", (t) => {
    const probe = spawnSync("promtool", ["--version"]);
    if (probe.error) {
      t.skip("promtool not installed");
      return;
    }
    const load = new TestLoad();
    load.full();
    const { ex, clock } = make({ numGpus: 8, extras: true, hostname: 'x"y' }, load);
    ex.injectXid(2, 45);
    clock.advance(3000);
    const r = spawnSync("promtool", ["check", "metrics"], { input: ex.render(), encoding: "utf8" });
    const problems = `${r.stdout}${r.stderr}`
      .split("\n")
      .filter((l) => l.trim() !== "")
      .filter((l) => !/snake_case|should have "_total" suffix|should not include type 'counter'/.test(l));
    assert.deepEqual(problems, []);
  });
});

describe("dcgm exporter: behaviour", () => {
  it("looks idle with no traffic", () => {
    const { ex, clock } = make();
    const scrapes = run(ex, clock, 30_000);
    const last = scrapes.at(-1) as Scrape;
    for (let g = 0; g < 2; g++) {
      assert.ok(value(last, "DCGM_FI_DEV_GPU_UTIL", g) < 5);
      const p = value(last, "DCGM_FI_DEV_POWER_USAGE", g);
      assert.ok(Math.abs(p - 70) < 70 * 0.12, `idle power ${p}`);
      assert.ok(value(last, "DCGM_FI_DEV_GPU_TEMP", g) <= 45);
      assert.equal(value(last, "DCGM_FI_DEV_SM_CLOCK", g), 345);
      assert.ok(value(last, "DCGM_FI_PROF_GR_ENGINE_ACTIVE", g) < 0.05);
    }
  });

  it("heats up gradually and runs near the power limit under full load", () => {
    const load = new TestLoad();
    const { ex, clock } = make({}, load);
    const idleTemp = value(parse(ex.render()), "DCGM_FI_DEV_GPU_TEMP");
    load.full();
    const scrapes = run(ex, clock, 60_000);
    const at = (sec: number): Scrape => scrapes[sec - 1] as Scrape;
    const last = at(60);
    for (let g = 0; g < 2; g++) {
      assert.ok(value(last, "DCGM_FI_DEV_GPU_UTIL", g) > 80);
      assert.ok(value(last, "DCGM_FI_DEV_POWER_USAGE", g) > 700 * 0.9);
      assert.ok(value(last, "DCGM_FI_DEV_POWER_USAGE", g) <= 700 * 1.02);
      assert.ok(value(last, "DCGM_FI_PROF_GR_ENGINE_ACTIVE", g) > 0.8);
      // Power-capped: boosted above base but pulled below max boost.
      const clk = value(last, "DCGM_FI_DEV_SM_CLOCK", g);
      assert.ok(clk >= 1590 && clk < 1980, `throttled clock ${clk}`);
    }
    // Power reacts within seconds, temperature over tens of seconds.
    assert.ok(value(at(5), "DCGM_FI_DEV_POWER_USAGE") > 700 * 0.9);
    const t2 = value(at(2), "DCGM_FI_DEV_GPU_TEMP");
    const t20 = value(at(20), "DCGM_FI_DEV_GPU_TEMP");
    const t60 = value(last, "DCGM_FI_DEV_GPU_TEMP");
    assert.ok(t2 - idleTemp <= 3, `no instant jump: ${idleTemp} -> ${t2}`);
    assert.ok(t2 < t20 && t20 < t60, `monotone rise ${t2} ${t20} ${t60}`);
    assert.ok(t60 - idleTemp >= 20, `substantial rise ${idleTemp} -> ${t60}`);
    assert.ok(t60 <= 88, "stays below slowdown");
    assert.ok(value(last, "DCGM_FI_DEV_MEMORY_TEMP") > t60);
  });

  it("cools down after load stops", () => {
    const load = new TestLoad();
    const { ex, clock } = make({}, load);
    load.full();
    run(ex, clock, 120_000, 5000);
    const hot = value(parse(ex.render()), "DCGM_FI_DEV_GPU_TEMP");
    load.active = 0;
    const after = run(ex, clock, 120_000, 5000);
    const s = after.at(-1) as Scrape;
    assert.ok(value(s, "DCGM_FI_DEV_GPU_TEMP") < hot - 20);
    assert.ok(value(s, "DCGM_FI_DEV_GPU_UTIL") < 5);
    assert.ok(value(s, "DCGM_FI_DEV_POWER_USAGE") < 100);
  });

  it("counts energy as the integral of power over time", () => {
    const load = new TestLoad();
    load.active = 40;
    const { ex, clock } = make({}, load);
    run(ex, clock, 10_000);
    const before = parse(ex.render());
    const scrapes = run(ex, clock, 120_000);
    for (let g = 0; g < 2; g++) {
      const dE =
        value(scrapes.at(-1) as Scrape, "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION", g) -
        value(before, "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION", g);
      const integral = scrapes.reduce((a, s) => a + value(s, "DCGM_FI_DEV_POWER_USAGE", g) * 1000, 0);
      assert.ok(Math.abs(dE - integral) / integral < 0.03, `gpu ${g}: ${dE} mJ vs ∫P dt ${integral} mJ`);
    }
  });

  it("does not tie energy to the scrape rate", () => {
    const mk = (): { ex: DcgmExporter; clock: FakeClock } => {
      const load = new TestLoad();
      load.full();
      return make({}, load);
    };
    const fast = mk();
    const slow = mk();
    const e0 = value(parse(fast.ex.render()), "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION");
    assert.equal(value(parse(slow.ex.render()), "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION"), e0);
    run(fast.ex, fast.clock, 120_000, 1000);
    run(slow.ex, slow.clock, 120_000, 30_000);
    const ef = value(parse(fast.ex.render()), "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION") - e0;
    const es = value(parse(slow.ex.render()), "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION") - e0;
    // ~120 s near 700 W ≈ 84 kJ, whatever the scrape interval.
    assert.ok(ef > 120 * 600 * 1000 && ef < 120 * 700 * 1000, `energy ${ef}`);
    assert.ok(Math.abs(ef - es) / ef < 0.01, `1 s scrapes ${ef} vs 30 s scrapes ${es}`);
  });

  it("never lets a counter go down, and moves NVLink traffic under load", () => {
    const load = new TestLoad();
    const { ex, clock } = make({ numGpus: 4 }, load);
    let prev = parse(ex.render());
    const firstNvlink = value(prev, "DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL");
    for (let i = 0; i < 400; i++) {
      load.active = (i * 37) % 300;
      load.kv = (i % 10) / 10;
      clock.advance(((i * 7919) % 5000) + (i % 3 === 0 ? 0 : 1));
      const cur = parse(ex.render());
      for (const name of COUNTERS) {
        for (let g = 0; g < 4; g++) {
          assert.ok(value(cur, name, g) >= value(prev, name, g), `${name} gpu ${g} decreased at step ${i}`);
        }
      }
      prev = cur;
    }
    assert.ok(value(prev, "DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL") > firstNvlink);
  });

  it("has no NVLink traffic on a single GPU or a PCIe card", () => {
    for (const over of [{ numGpus: 1 }, { gpuName: "h100", numGpus: 4 }]) {
      const load = new TestLoad();
      load.full();
      const { ex, clock } = make(over, load);
      run(ex, clock, 10_000);
      assert.equal(value(parse(ex.render()), "DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL"), 0);
    }
  });

  it("sizes framebuffer use from the KV cache and keeps free + used + reserved = total", () => {
    const load = new TestLoad();
    const { ex, clock } = make({ gpuName: "h200" }, load);
    const total = GPU_PROFILES.h200.fbTotalMiB;
    const usedAt = (kv: number): number => {
      load.kv = kv;
      clock.advance(1000);
      const s = parse(ex.render());
      for (let g = 0; g < 2; g++) {
        const sum =
          value(s, "DCGM_FI_DEV_FB_FREE", g) +
          value(s, "DCGM_FI_DEV_FB_USED", g) +
          value(s, "DCGM_FI_DEV_FB_RESERVED", g);
        assert.equal(sum, total);
      }
      return value(s, "DCGM_FI_DEV_FB_USED");
    };
    const empty = usedAt(0);
    const half = usedAt(0.5);
    const full = usedAt(1);
    assert.ok(empty > total * 0.25 && empty < total * 0.4, "weights resident with an empty cache");
    assert.ok(empty < half && half < full);
    assert.ok(full < total);
  });

  it("adds the initial load as a baseline on top of engine load", () => {
    const load = new TestLoad();
    const { ex, clock } = make({ initialLoad: 0.5 }, load);
    const s0 = parse(ex.render());
    assert.ok(value(s0, "DCGM_FI_DEV_GPU_UTIL") > 50, "a baseline starts in steady state");
    assert.ok(value(s0, "DCGM_FI_DEV_POWER_USAGE") > 200);
    load.full();
    const s1 = run(ex, clock, 10_000).at(-1) as Scrape;
    assert.ok(value(s1, "DCGM_FI_DEV_POWER_USAGE") > value(s0, "DCGM_FI_DEV_POWER_USAGE"));
    assert.ok(value(s1, "DCGM_FI_DEV_GPU_UTIL") <= 100);
  });

  it("keeps the last XID until restart and moves row-remap fields for XID 63/64", () => {
    const { ex, clock } = make();
    ex.injectXid(1, 63);
    clock.advance(1000);
    let s = parse(ex.render());
    assert.equal(value(s, "DCGM_FI_DEV_XID_ERRORS", 0), 0);
    assert.equal(value(s, "DCGM_FI_DEV_XID_ERRORS", 1), 63);
    const xid1 = s.samples.filter((x) => x.name === "DCGM_FI_DEV_XID_ERRORS")[1];
    assert.equal(new Map(xid1?.labels).get("err_msg"), "ECC page retirement or row remapping recording event");
    assert.equal(value(s, "DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS", 1), 1);
    ex.injectXid(1, 64);
    clock.advance(60_000);
    s = parse(ex.render());
    assert.equal(value(s, "DCGM_FI_DEV_XID_ERRORS", 1), 64);
    assert.equal(value(s, "DCGM_FI_DEV_ROW_REMAP_FAILURE", 1), 1);
    assert.throws(() => ex.injectXid(5, 13), RangeError);
  });

  it("reports no memory temperature on a GDDR board and idles its memory clock", () => {
    const { ex } = make({ gpuName: "rtx6000" });
    const s = parse(ex.render());
    assert.equal(value(s, "DCGM_FI_DEV_MEMORY_TEMP"), 0);
    assert.equal(value(s, "DCGM_FI_DEV_MEM_CLOCK"), 405);
    assert.equal(new Map(s.samples[0]?.labels).get("modelName"), "NVIDIA RTX 6000 Ada Generation");
  });

  it("ticks on its own clock timers between scrapes", () => {
    const load = new TestLoad();
    const { ex, clock } = make({}, load);
    ex.start(1000);
    load.full();
    clock.advance(30_000);
    // Drop the load just before scraping: the scrape shows the heat built up while ticking.
    load.active = 0;
    const s = parse(ex.render());
    ex.stop();
    assert.equal(clock.pendingTimers(), 0);
    assert.ok(value(s, "DCGM_FI_DEV_GPU_TEMP") > 55);
  });
});

describe("dcgm exporter: identity and determinism", () => {
  const script = (ex: DcgmExporter, clock: FakeClock, load: TestLoad): string[] => {
    const out: string[] = [ex.render()];
    for (let i = 0; i < 50; i++) {
      load.active = (i * 13) % 200;
      load.kv = (i % 7) / 7;
      load.tps = i * 10;
      clock.advance(250 + ((i * 331) % 2000));
      out.push(ex.render());
    }
    return out;
  };

  it("reproduces scrapes byte for byte from a seed", () => {
    const la = new TestLoad();
    const lb = new TestLoad();
    const a = make({ seed: "abc", numGpus: 4 }, la);
    const b = make({ seed: "abc", numGpus: 4 }, lb);
    assert.deepEqual(script(a.ex, a.clock, la), script(b.ex, b.clock, lb));
    const lc = new TestLoad();
    const c = make({ seed: "abd", numGpus: 4 }, lc);
    const ld = new TestLoad();
    const d = make({ seed: "abc", numGpus: 4 }, ld);
    assert.notDeepEqual(script(c.ex, c.clock, lc), script(d.ex, d.clock, ld));
  });

  it("gives the two exporters different boards", () => {
    const uuids = (instance: number): string[] =>
      parse(make({ instance, numGpus: 8 }).ex.render())
        .samples.filter((x) => x.name === "DCGM_FI_DEV_GPU_UTIL")
        .map((x) => new Map(x.labels).get("UUID") as string);
    const one = uuids(1);
    const two = uuids(2);
    assert.equal(new Set([...one, ...two]).size, 16);
    assert.deepEqual(uuids(1), one, "stable per instance");
  });

  it("keeps UUIDs stable across restarts without a seed, keyed by hostname", () => {
    const uuid = (hostname: string): string => {
      const s = parse(make({ seed: undefined, hostname }).ex.render());
      return new Map(s.samples[0]?.labels).get("UUID") as string;
    };
    assert.equal(uuid("host-1"), uuid("host-1"));
    assert.notEqual(uuid("host-1"), uuid("host-2"));
  });

  it("rejects bad options", () => {
    assert.throws(() => make({ numGpus: 0 }), RangeError);
    assert.throws(() => make({ numGpus: 9 }), RangeError);
    assert.throws(() => make({ numGpus: 1.5 }), RangeError);
    assert.throws(() => make({ initialLoad: 1.2 }), RangeError);
    assert.throws(() => make({ gpuName: "h300" }), /expected one of: rtx6000, a100/);
    assert.throws(() => make({ instance: 0 }), RangeError);
    assert.doesNotThrow(() => make({ gpuName: "H100-SXM" }));
  });
});
