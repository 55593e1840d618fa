import type { Clock } from "../../engine/clock.js";
import { Random } from "../../engine/random.js";
import { DEFAULT_FAMILIES, EXTRA_FAMILIES, type MetricFamily, xidMessage } from "./metrics.js";
import { type GpuProfile, getGpuProfile, pcieBytesPerSecond } from "./profiles.js";

/** What the inference engine is doing right now; sampled whenever the simulation advances. */
export interface GpuLoadSample {
  activeRequests: number;
  /** Batch capacity, e.g. vLLM's max-num-seqs. */
  capacity: number;
  tokensPerSecond: number;
  /** KV-cache occupancy, 0..1. */
  kvCacheUsage: number;
}

export interface GpuLoadSource {
  sample(): GpuLoadSample;
}

/** A load source for an exporter that is not attached to an engine: permanently idle. */
export const IDLE_LOAD: GpuLoadSource = {
  sample: () => ({ activeRequests: 0, capacity: 1, tokensPerSecond: 0, kvCacheUsage: 0 }),
};

export type HostnameLabel = "Hostname" | "hostname";

export interface DcgmExporterOptions {
  /** Profile key (`h200`, `h100-sxm`, ...), case-insensitive. */
  gpuName: string;
  /** 1..8 GPUs behind this exporter. */
  numGpus: number;
  /** Baseline load 0..1 added to the engine-derived load (clamped to 1). */
  initialLoad: number;
  /** Value of the hostname label; empty string omits the label like dcgm-exporter's --no-hostname. */
  hostname: string;
  /** Same seed + same clock steps + same load samples give byte-identical scrapes. */
  seed?: number | string | undefined;
  /** dcgm-exporter up to 4.5.x prints `Hostname`; later builds print `hostname`. */
  hostnameLabel: HostnameLabel;
  driverVersion?: string;
  /** Exporter number (1 for /dcgm1/metrics, 2 for /dcgm2/metrics): each is a different set of boards. */
  instance: number;
  /** Also print DCGM_FI_DEV_POWER_MGMT_LIMIT and DCGM_FI_DEV_FB_TOTAL (not in the default set). */
  extras?: boolean;
  /** Share of usable framebuffer held by weights, activations and CUDA graphs whatever the load. */
  fbBaseFraction?: number;
  /** Share of usable framebuffer that a full KV cache occupies on top of the base. */
  fbKvFraction?: number;
}

export const DCGM_DEFAULTS = {
  gpuName: "h200",
  numGpus: 2,
  initialLoad: 0,
  hostname: "localhost",
  hostnameLabel: "Hostname" as HostnameLabel,
  driverVersion: "580.95.05",
  fbBaseFraction: 0.3,
  fbKvFraction: 0.55,
} as const;

/** Per-GPU view of the simulation, for tests and health endpoints; not printed as such. */
export interface GpuSnapshot {
  gpu: number;
  uuid: string;
  pciBusId: string;
  load: number;
  utilization: number;
  powerW: number;
  temperatureC: number;
  smClockMHz: number;
  energyMJ: number;
  fbUsedMiB: number;
}

// Time constants (seconds). Power follows the workload within about a second (board power loop);
// the die heats through the heatsink's thermal mass, which takes tens of seconds.
const TAU_UTIL_S = 0.5;
const TAU_POWER_S = 0.8;
const TAU_CLOCK_S = 0.3;
const TAU_TEMP_S = 40;
/** Largest integration step; a long gap between scrapes is split into many of these. */
const MAX_STEP_S = 0.1;
const MAX_STEPS_PER_ADVANCE = 4000;
/** Sustained full power settles this far below the slowdown temperature. */
const TEMP_HEADROOM_C = 5;
/** PCIe replays on a healthy link: about one every few hours of heavy traffic. */
const PCIE_REPLAY_PER_S = 1 / (4 * 3600);
/** CUDA context and driver allocations present on any GPU a server process has opened. */
const CUDA_CONTEXT_MIB = 512;

interface GpuState {
  readonly index: number;
  readonly uuid: string;
  readonly pciBusId: string;
  readonly device: string;
  /** Share of the server's load this rank sees (tensor-parallel ranks are near-equal, rank 0 leads). */
  readonly loadGain: number;
  readonly powerIdleW: number;
  readonly tempIdleC: number;
  readonly memTempDeltaC: number;
  readonly fbExtraMiB: number;
  load: number;
  util: number;
  powerW: number;
  demandW: number;
  smClockMHz: number;
  tempC: number;
  energyMJ: number;
  pcieReplays: number;
  nvlinkKiB: number;
  lastXid: number;
  uncorrectableRemappedRows: number;
  correctableRemappedRows: number;
  rowRemapFailure: number;
}

/** Validates options up front so a bad flag fails at startup, not on the first scrape. */
export function validateDcgmOptions(opts: DcgmExporterOptions): GpuProfile {
  const profile = getGpuProfile(opts.gpuName);
  if (!Number.isInteger(opts.numGpus) || opts.numGpus < 1 || opts.numGpus > 8) {
    throw new RangeError(`numGpus must be an integer in 1..8, got ${opts.numGpus}`);
  }
  if (!Number.isFinite(opts.initialLoad) || opts.initialLoad < 0 || opts.initialLoad > 1) {
    throw new RangeError(`initialLoad must be in 0..1, got ${opts.initialLoad}`);
  }
  if (!Number.isInteger(opts.instance) || opts.instance < 1) {
    throw new RangeError(`instance must be a positive integer, got ${opts.instance}`);
  }
  if (opts.hostnameLabel !== "Hostname" && opts.hostnameLabel !== "hostname") {
    throw new RangeError(`hostnameLabel must be "Hostname" or "hostname", got ${String(opts.hostnameLabel)}`);
  }
  for (const k of ["fbBaseFraction", "fbKvFraction"] as const) {
    const v = opts[k];
    if (v !== undefined && (!Number.isFinite(v) || v < 0 || v > 1)) throw new RangeError(`${k} must be in 0..1`);
  }
  if (
    (opts.fbBaseFraction ?? DCGM_DEFAULTS.fbBaseFraction) + (opts.fbKvFraction ?? DCGM_DEFAULTS.fbKvFraction) >
    0.98
  ) {
    throw new RangeError("fbBaseFraction + fbKvFraction must leave some framebuffer free");
  }
  return profile;
}

function clamp(x: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, x));
}

/** Exact first-order lag over a step of `dt` toward `target`. */
function lag(x: number, target: number, dt: number, tau: number): number {
  return target + (x - target) * Math.exp(-dt / tau);
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

function hex(rng: Random, digits: number): string {
  let s = "";
  for (let i = 0; i < digits; i++) s += rng.int(0, 15).toString(16);
  return s;
}

/**
 * A simulated dcgm-exporter: a small thermal/electrical model per GPU driven by the engine's load,
 * rendered in dcgm-exporter's exposition format.
 *
 * State is integrated over clock time whenever `render()` or `tick()` runs, so counters such as
 * energy are right whatever the scrape interval (aiperf's faker adds one second's energy per scrape).
 */
export class DcgmExporter {
  readonly profile: GpuProfile;
  private readonly opts: DcgmExporterOptions;
  private readonly gpus: GpuState[];
  /** Draws that depend on the scrape sequence (measurement jitter, rare events). */
  private readonly noise: Random;
  private readonly labelPrefixes: string[];
  private readonly driverVersion: string;
  private readonly fbBaseFraction: number;
  private readonly fbKvFraction: number;
  private lastT: number;
  private lastSample: GpuLoadSample = { activeRequests: 0, capacity: 1, tokensPerSecond: 0, kvCacheUsage: 0 };
  private timer: unknown = undefined;

  constructor(
    opts: DcgmExporterOptions,
    private readonly clock: Clock,
    private readonly loadSource: GpuLoadSource = IDLE_LOAD,
  ) {
    this.profile = validateDcgmOptions(opts);
    this.opts = { ...opts };
    this.driverVersion = opts.driverVersion ?? DCGM_DEFAULTS.driverVersion;
    this.fbBaseFraction = opts.fbBaseFraction ?? DCGM_DEFAULTS.fbBaseFraction;
    this.fbKvFraction = opts.fbKvFraction ?? DCGM_DEFAULTS.fbKvFraction;

    // Board identity (UUIDs, per-board offsets, uptime) comes from the seed, or else from the
    // hostname, so an unseeded server still shows the same "hardware" after a restart.
    const identitySeed = `dcgm-identity:${opts.seed ?? opts.hostname}:${opts.instance}`;
    const identity = new Random(identitySeed);
    this.noise = new Random(
      opts.seed === undefined
        ? `dcgm-noise:${Date.now()}:${Math.random()}`
        : `dcgm-noise:${opts.seed}:${opts.instance}`,
    );

    const p = this.profile;
    this.gpus = [];
    for (let i = 0; i < opts.numGpus; i++) {
      const r = identity.fork(`gpu${i}`);
      const uuid = `GPU-${hex(r, 8)}-${hex(r, 4)}-${hex(r, 4)}-${hex(r, 4)}-${hex(r, 12)}`;
      const powerIdleW = p.powerIdleW * r.uniform(0.94, 1.06);
      const tempIdleC = p.tempIdleC + r.uniform(-2, 2);
      // Energy since boot: days of uptime at a mix of idle and busy power.
      const uptimeS = r.uniform(2, 30) * 86400;
      const energyMJ = Math.floor(uptimeS * powerIdleW * r.uniform(1.2, 2.5) * 1000);
      this.gpus.push({
        index: i,
        uuid,
        pciBusId: p.pciBusIds[i] ?? `00000000:${(i + 2).toString(16).toUpperCase().padStart(2, "0")}:00.0`,
        device: `nvidia${i}`,
        loadGain: i === 0 ? 1 : r.uniform(0.93, 0.995),
        powerIdleW,
        tempIdleC,
        memTempDeltaC: r.uniform(3, 7),
        fbExtraMiB: i === 0 ? r.int(300, 500) : r.int(0, 120),
        load: 0,
        util: 0,
        powerW: powerIdleW,
        demandW: powerIdleW,
        smClockMHz: p.smClockIdleMHz,
        tempC: tempIdleC,
        energyMJ,
        pcieReplays: 0,
        nvlinkKiB: 0,
        lastXid: 0,
        uncorrectableRemappedRows: 0,
        correctableRemappedRows: 0,
        rowRemapFailure: 0,
      });
    }
    this.labelPrefixes = this.gpus.map((g) => this.labelsFor(g));
    this.lastT = clock.now();
    // A baseline load means the server has been busy for a while: start at its steady state.
    this.settle(this.totalLoad(this.lastSample));
  }

  /** Advance the simulation to the clock's current time. */
  tick(): void {
    const now = this.clock.now();
    const dtS = (now - this.lastT) / 1000;
    this.lastSample = this.readLoad();
    if (dtS > 0) this.integrate(dtS, this.lastSample);
    this.lastT = Math.max(this.lastT, now);
  }

  /** Advance the model and print one scrape. */
  render(): string {
    this.tick();
    return this.format();
  }

  /** Tick on the clock's timers so the model follows load between scrapes too. */
  start(intervalMs = 1000): void {
    if (this.timer !== undefined) return;
    const arm = (): void => {
      this.timer = this.clock.setTimer(intervalMs, () => {
        this.tick();
        arm();
      });
    };
    arm();
  }

  stop(): void {
    if (this.timer === undefined) return;
    this.clock.clearTimer(this.timer);
    this.timer = undefined;
  }

  /**
   * Record an XID event on one GPU, as the driver would. DCGM_FI_DEV_XID_ERRORS keeps the last value
   * until the exporter restarts; 63/64 also move the row-remapping fields they report on.
   */
  injectXid(gpu: number, xid: number): void {
    const g = this.gpus[gpu];
    if (!g) throw new RangeError(`no GPU ${gpu} (have ${this.gpus.length})`);
    if (!Number.isInteger(xid) || xid < 0) throw new RangeError(`XID must be a non-negative integer, got ${xid}`);
    g.lastXid = xid;
    if (xid === 63) g.uncorrectableRemappedRows += 1;
    if (xid === 64) g.rowRemapFailure = 1;
    if (xid === 92) g.correctableRemappedRows += 1;
  }

  snapshot(): GpuSnapshot[] {
    return this.gpus.map((g) => ({
      gpu: g.index,
      uuid: g.uuid,
      pciBusId: g.pciBusId,
      load: g.load,
      utilization: g.util,
      powerW: g.powerW,
      temperatureC: g.tempC,
      smClockMHz: g.smClockMHz,
      energyMJ: g.energyMJ,
      fbUsedMiB: this.fbUsed(g, this.lastSample),
    }));
  }

  private readLoad(): GpuLoadSample {
    const s = this.loadSource.sample();
    const num = (v: number): number => (Number.isFinite(v) && v > 0 ? v : 0);
    return {
      activeRequests: num(s.activeRequests),
      capacity: num(s.capacity),
      tokensPerSecond: num(s.tokensPerSecond),
      kvCacheUsage: clamp(num(s.kvCacheUsage), 0, 1),
    };
  }

  /**
   * Engine load as batch occupancy, compressed with a square root: a handful of decoding
   * sequences already keeps the SMs busy most of the time, so load is far from linear in batch size.
   */
  private totalLoad(s: GpuLoadSample): number {
    const occupancy = s.activeRequests <= 0 ? 0 : s.capacity > 0 ? Math.min(1, s.activeRequests / s.capacity) : 1;
    return clamp(this.opts.initialLoad + Math.sqrt(occupancy), 0, 1);
  }

  /** Fraction of time a kernel is running: saturates well before the batch is full. */
  private static duty(load: number): number {
    return 1 - (1 - load) ** 3;
  }

  private demandW(g: GpuState, util: number, load: number): number {
    const p = this.profile;
    return g.powerIdleW + (p.powerLimitW - g.powerIdleW) * (0.3 * util + 0.8 * load);
  }

  private tempTarget(g: GpuState, powerW: number): number {
    const p = this.profile;
    const frac = clamp((powerW - g.powerIdleW) / (p.powerLimitW - g.powerIdleW), 0, 1.05);
    return g.tempIdleC + (p.tempMaxC - TEMP_HEADROOM_C - g.tempIdleC) * frac;
  }

  private clockTarget(util: number, demandW: number): number {
    const p = this.profile;
    if (util < 0.005) return p.smClockIdleMHz;
    // Any real activity boosts to max clocks; power capping then pulls them toward base.
    const boosted = p.smClockIdleMHz + (p.smClockBoostMHz - p.smClockIdleMHz) * Math.min(1, util / 0.1);
    const over = demandW / p.powerLimitW - 1;
    const throttle = over > 0 ? Math.min(1, over / 0.15) : 0;
    return boosted - (p.smClockBoostMHz - p.smClockBaseMHz) * throttle;
  }

  private settle(load: number): void {
    for (const g of this.gpus) {
      g.load = clamp(load * g.loadGain, 0, 1);
      g.util = DcgmExporter.duty(g.load);
      g.demandW = this.demandW(g, g.util, g.load);
      g.powerW = Math.min(g.demandW, this.profile.powerLimitW);
      g.smClockMHz = this.clockTarget(g.util, g.demandW);
      g.tempC = this.tempTarget(g, g.powerW);
    }
  }

  private integrate(dtS: number, sample: GpuLoadSample): void {
    const p = this.profile;
    const load = this.totalLoad(sample);
    const steps = Math.min(MAX_STEPS_PER_ADVANCE, Math.ceil(dtS / MAX_STEP_S));
    const h = dtS / steps;
    const nvlinkPeers = this.gpus.length > 1 && p.nvlinkCount > 0;
    // Tensor-parallel all-reduce traffic: a few percent of the aggregate link bandwidth at full load.
    const nvlinkKiBps = nvlinkPeers ? (p.nvlinkCount * p.nvlinkGBps * 2 * 1e9 * 0.04) / 1024 : 0;
    for (const g of this.gpus) {
      g.load = clamp(load * g.loadGain, 0, 1);
      const utilTarget = DcgmExporter.duty(g.load);
      for (let k = 0; k < steps; k++) {
        g.util = lag(g.util, utilTarget, h, TAU_UTIL_S);
        g.demandW = this.demandW(g, g.util, g.load);
        const p0 = g.powerW;
        g.powerW = lag(g.powerW, Math.min(g.demandW, p.powerLimitW), h, TAU_POWER_S);
        g.energyMJ += ((p0 + g.powerW) / 2) * h * 1000;
        g.smClockMHz = lag(g.smClockMHz, this.clockTarget(g.util, g.demandW), h, TAU_CLOCK_S);
        g.tempC = lag(g.tempC, this.tempTarget(g, g.powerW), h, TAU_TEMP_S);
        g.nvlinkKiB += nvlinkKiBps * g.util * g.load * h;
        if (this.noise.chance(PCIE_REPLAY_PER_S * g.load * h)) g.pcieReplays += 1;
      }
    }
  }

  private fbUsed(g: GpuState, s: GpuLoadSample): number {
    const p = this.profile;
    const usable = p.fbTotalMiB - p.fbReservedMiB;
    const used = CUDA_CONTEXT_MIB + g.fbExtraMiB + usable * (this.fbBaseFraction + this.fbKvFraction * s.kvCacheUsage);
    return Math.min(usable, Math.round(used));
  }

  private labelsFor(g: GpuState): string {
    const o = this.opts;
    let s = `gpu="${g.index}",UUID="${g.uuid}",pci_bus_id="${g.pciBusId}",device="${g.device}",`;
    s += `modelName="${escapeLabel(this.profile.modelName)}"`;
    if (o.hostname !== "") s += `,${o.hostnameLabel}="${escapeLabel(o.hostname)}"`;
    s += `,DCGM_FI_DRIVER_VERSION="${escapeLabel(this.driverVersion)}"`;
    return s;
  }

  private format(): string {
    const p = this.profile;
    const s = this.lastSample;
    const n = this.noise;
    const pcieBw = pcieBytesPerSecond(p.pcieGen, p.pcieWidth);
    const values = new Map<string, number[]>();
    const put = (name: string, v: number): void => {
      const arr = values.get(name);
      if (arr) arr.push(v);
      else values.set(name, [v]);
    };

    for (const g of this.gpus) {
      const busy = g.util > 0.01;
      const jitter = (sd: number): number => (busy ? n.normal(0, sd) : 0);
      // Saturated and idle GPUs read a steady 100 / 0; the reading wobbles in between.
      const util = clamp(Math.round(g.util * 100 + jitter(0.3 + 4 * g.util * (1 - g.util))), 0, 100);
      const powerW = clamp(g.powerW * (1 + n.normal(0, busy ? 0.006 : 0.01)), 0, p.powerLimitW * 1.02);
      const tempC = Math.round(g.tempC);
      const powerFrac = clamp((g.powerW - g.powerIdleW) / (p.powerLimitW - g.powerIdleW), 0, 1);
      const memTemp = p.memoryTempSensor ? Math.round(g.tempC + g.memTempDeltaC * (0.6 + 0.4 * powerFrac)) : 0;
      const dram = clamp(0.0002 + g.util * (0.3 + 0.45 * g.load) + 0.05 * s.kvCacheUsage * g.util + jitter(0.01), 0, 1);
      const tensor = clamp(g.util * (0.04 + 0.36 * g.load) + jitter(0.008), 0, 1);
      const gr = clamp(g.util * 0.985 + jitter(0.006), 0, 1);
      // Host traffic: prompts in, sampled tokens out (only rank 0 talks to the host's sampler).
      const tokenBytes = g.index === 0 ? s.tokensPerSecond * 96 : 0;
      const rx = Math.max(0, Math.round((1.6e5 + g.load * 0.004 * pcieBw + tokenBytes) * (1 + n.normal(0, 0.05))));
      const tx = Math.max(0, Math.round((2.5e4 + g.load * 0.0015 * pcieBw + tokenBytes) * (1 + n.normal(0, 0.05))));
      const fbUsed = this.fbUsed(g, s);
      const memClock = g.util > 0.005 || p.memClockIdleMHz === p.memClockMHz ? p.memClockMHz : p.memClockIdleMHz;

      put("DCGM_FI_DEV_SM_CLOCK", Math.round(g.smClockMHz));
      put("DCGM_FI_DEV_MEM_CLOCK", memClock);
      put("DCGM_FI_DEV_MEMORY_TEMP", memTemp);
      put("DCGM_FI_DEV_GPU_TEMP", tempC);
      put("DCGM_FI_DEV_POWER_USAGE", Math.round(powerW * 1000) / 1000);
      put("DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION", Math.floor(g.energyMJ));
      put("DCGM_FI_DEV_PCIE_REPLAY_COUNTER", g.pcieReplays);
      put("DCGM_FI_DEV_GPU_UTIL", util);
      put("DCGM_FI_DEV_MEM_COPY_UTIL", clamp(Math.round(dram * 100), 0, 100));
      put("DCGM_FI_DEV_ENC_UTIL", 0);
      put("DCGM_FI_DEV_DEC_UTIL", 0);
      put("DCGM_FI_DEV_XID_ERRORS", g.lastXid);
      put("DCGM_FI_DEV_FB_FREE", p.fbTotalMiB - p.fbReservedMiB - fbUsed);
      put("DCGM_FI_DEV_FB_USED", fbUsed);
      put("DCGM_FI_DEV_FB_RESERVED", p.fbReservedMiB);
      put("DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS", g.uncorrectableRemappedRows);
      put("DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS", g.correctableRemappedRows);
      put("DCGM_FI_DEV_ROW_REMAP_FAILURE", g.rowRemapFailure);
      put("DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL", Math.floor(g.nvlinkKiB));
      // Bare-metal boards have no vGPU license; DCGM reports 0 there.
      put("DCGM_FI_DEV_VGPU_LICENSE_STATUS", 0);
      put("DCGM_FI_PROF_GR_ENGINE_ACTIVE", gr);
      put("DCGM_FI_PROF_PIPE_TENSOR_ACTIVE", tensor);
      put("DCGM_FI_PROF_DRAM_ACTIVE", dram);
      put("DCGM_FI_PROF_PCIE_TX_BYTES", tx);
      put("DCGM_FI_PROF_PCIE_RX_BYTES", rx);
      put("DCGM_FI_DEV_POWER_MGMT_LIMIT", p.powerLimitW);
      put("DCGM_FI_DEV_FB_TOTAL", p.fbTotalMiB);
    }

    const families: readonly MetricFamily[] = this.opts.extras
      ? [...DEFAULT_FAMILIES, ...EXTRA_FAMILIES]
      : DEFAULT_FAMILIES;
    const out: string[] = [];
    for (const f of families) {
      out.push(`# HELP ${f.name} ${f.help}`, `# TYPE ${f.name} ${f.type}`);
      const vs = values.get(f.name) ?? [];
      for (const g of this.gpus) {
        const v = vs[g.index] ?? 0;
        let labels = this.labelPrefixes[g.index] ?? "";
        if (f.name === "DCGM_FI_DEV_XID_ERRORS") {
          labels += `,err_code="${v}",err_msg="${escapeLabel(xidMessage(v))}"`;
        }
        out.push(`${f.name}{${labels}} ${f.float ? v.toFixed(6) : String(Math.trunc(v))}`);
      }
    }
    return `${out.join("\n")}\n`;
  }
}
