/**
 * Hardware profiles for the simulated GPUs.
 *
 * Keys and the power/temperature envelope follow aiperf's DCGM faker (so `--dcgm-gpu-name` values
 * carry over), but model names, framebuffer sizes and clocks are what `nvidia-smi`/DCGM report on
 * the real boards where aiperf's table is off (it calls an H100 SXM "NVIDIA H100 SXM5", gives it
 * HBM2e memory clocks and rounds framebuffers to decimal GB). Values a dashboard would compare
 * against a real fleet (model name, FB total, power limit, boost clock) are the ones kept exact.
 */
export interface GpuProfile {
  readonly key: GpuProfileKey;
  /** DCGM_FI_DEV_NAME as printed in the `modelName` label. */
  readonly modelName: string;
  /** DCGM_FI_DEV_FB_TOTAL (MiB): what the driver exposes, not the marketing capacity. */
  readonly fbTotalMiB: number;
  /** DCGM_FI_DEV_FB_RESERVED (MiB): driver/firmware carve-out, constant for a board. */
  readonly fbReservedMiB: number;
  readonly powerIdleW: number;
  /** Default power management limit (TDP) in W. */
  readonly powerLimitW: number;
  /** SM clock parked at idle (P8), MHz. */
  readonly smClockIdleMHz: number;
  /** Guaranteed base clock: the floor power-capping throttles down to, MHz. */
  readonly smClockBaseMHz: number;
  /** Max boost clock, MHz. */
  readonly smClockBoostMHz: number;
  /** Memory clock at idle; HBM boards keep it at max, GDDR boards drop to 405 MHz. */
  readonly memClockIdleMHz: number;
  readonly memClockMHz: number;
  readonly tempIdleC: number;
  /** Slowdown threshold; sustained full power settles a few degrees below it. */
  readonly tempMaxC: number;
  /** GDDR boards report DCGM_FI_DEV_MEMORY_TEMP as 0 (no HBM sensor); HBM boards report it. */
  readonly memoryTempSensor: boolean;
  readonly pcieGen: number;
  readonly pcieWidth: number;
  /** NVLink links per GPU (0: PCIe card without bridge). */
  readonly nvlinkCount: number;
  /** Per-link bandwidth per direction, GB/s. */
  readonly nvlinkGBps: number;
  /** Typical PCIe bus ids of an 8-GPU chassis of this kind, in nvidia-smi order. */
  readonly pciBusIds: readonly string[];
}

export type GpuProfileKey = "rtx6000" | "a100" | "h100" | "h100-sxm" | "h200" | "b200" | "gb200";

/** Bus numbers of an HGX baseboard (DGX H100/H200/B200 enumerate GPUs at these buses). */
const HGX_BUSES = ["18", "2A", "3A", "5D", "9A", "AB", "BA", "DB"] as const;
/** A dual-socket PCIe server with one GPU per root port. */
const PCIE_BUSES = ["01", "21", "41", "61", "81", "A1", "C1", "E1"] as const;
/** GB200 NVL trays: 4 GPUs per tray; a second tray continues the numbering. */
const GB200_BUSES = ["01", "02", "03", "04", "05", "06", "07", "08"] as const;

function busIds(buses: readonly string[]): string[] {
  return buses.map((b) => `00000000:${b}:00.0`);
}

export const GPU_PROFILES: Readonly<Record<GpuProfileKey, GpuProfile>> = {
  rtx6000: {
    key: "rtx6000",
    modelName: "NVIDIA RTX 6000 Ada Generation",
    fbTotalMiB: 49140,
    fbReservedMiB: 596,
    powerIdleW: 30,
    powerLimitW: 300,
    smClockIdleMHz: 210,
    smClockBaseMHz: 915,
    smClockBoostMHz: 2505,
    memClockIdleMHz: 405,
    memClockMHz: 10001,
    tempIdleC: 35,
    tempMaxC: 83,
    memoryTempSensor: false,
    pcieGen: 4,
    pcieWidth: 16,
    nvlinkCount: 0,
    nvlinkGBps: 0,
    pciBusIds: busIds(PCIE_BUSES),
  },
  a100: {
    key: "a100",
    modelName: "NVIDIA A100-SXM4-40GB",
    fbTotalMiB: 40960,
    fbReservedMiB: 371,
    powerIdleW: 50,
    powerLimitW: 400,
    smClockIdleMHz: 210,
    smClockBaseMHz: 765,
    smClockBoostMHz: 1410,
    memClockIdleMHz: 1215,
    memClockMHz: 1215,
    tempIdleC: 40,
    tempMaxC: 85,
    memoryTempSensor: true,
    pcieGen: 4,
    pcieWidth: 16,
    nvlinkCount: 12,
    nvlinkGBps: 25,
    pciBusIds: busIds(["07", "0F", "47", "4E", "87", "90", "B7", "BD"]),
  },
  h100: {
    key: "h100",
    modelName: "NVIDIA H100 PCIe",
    fbTotalMiB: 81559,
    fbReservedMiB: 551,
    powerIdleW: 40,
    powerLimitW: 350,
    smClockIdleMHz: 345,
    smClockBaseMHz: 1125,
    smClockBoostMHz: 1755,
    memClockIdleMHz: 1593,
    memClockMHz: 1593,
    tempIdleC: 35,
    tempMaxC: 82,
    memoryTempSensor: true,
    pcieGen: 5,
    pcieWidth: 16,
    nvlinkCount: 0,
    nvlinkGBps: 0,
    pciBusIds: busIds(PCIE_BUSES),
  },
  "h100-sxm": {
    key: "h100-sxm",
    modelName: "NVIDIA H100 80GB HBM3",
    fbTotalMiB: 81559,
    fbReservedMiB: 551,
    powerIdleW: 70,
    powerLimitW: 700,
    smClockIdleMHz: 345,
    smClockBaseMHz: 1590,
    smClockBoostMHz: 1980,
    memClockIdleMHz: 2619,
    memClockMHz: 2619,
    tempIdleC: 40,
    tempMaxC: 88,
    memoryTempSensor: true,
    pcieGen: 5,
    pcieWidth: 16,
    nvlinkCount: 18,
    nvlinkGBps: 25,
    pciBusIds: busIds(HGX_BUSES),
  },
  h200: {
    key: "h200",
    modelName: "NVIDIA H200",
    fbTotalMiB: 143771,
    fbReservedMiB: 643,
    powerIdleW: 70,
    powerLimitW: 700,
    smClockIdleMHz: 345,
    smClockBaseMHz: 1590,
    smClockBoostMHz: 1980,
    memClockIdleMHz: 3201,
    memClockMHz: 3201,
    tempIdleC: 40,
    tempMaxC: 88,
    memoryTempSensor: true,
    pcieGen: 5,
    pcieWidth: 16,
    nvlinkCount: 18,
    nvlinkGBps: 25,
    pciBusIds: busIds(HGX_BUSES),
  },
  b200: {
    key: "b200",
    modelName: "NVIDIA B200",
    fbTotalMiB: 183359,
    fbReservedMiB: 1015,
    powerIdleW: 100,
    powerLimitW: 1000,
    smClockIdleMHz: 120,
    smClockBaseMHz: 1500,
    smClockBoostMHz: 1965,
    memClockIdleMHz: 3996,
    memClockMHz: 3996,
    tempIdleC: 40,
    tempMaxC: 90,
    memoryTempSensor: true,
    pcieGen: 5,
    pcieWidth: 16,
    nvlinkCount: 18,
    nvlinkGBps: 50,
    pciBusIds: busIds(HGX_BUSES),
  },
  gb200: {
    key: "gb200",
    modelName: "NVIDIA GB200",
    fbTotalMiB: 189471,
    fbReservedMiB: 1039,
    powerIdleW: 100,
    powerLimitW: 1200,
    smClockIdleMHz: 120,
    smClockBaseMHz: 1500,
    smClockBoostMHz: 2062,
    memClockIdleMHz: 3996,
    memClockMHz: 3996,
    tempIdleC: 40,
    tempMaxC: 90,
    memoryTempSensor: true,
    pcieGen: 5,
    pcieWidth: 16,
    nvlinkCount: 18,
    nvlinkGBps: 50,
    pciBusIds: busIds(GB200_BUSES),
  },
};

export const GPU_PROFILE_KEYS = Object.keys(GPU_PROFILES) as GpuProfileKey[];

export function isGpuProfileKey(name: string): name is GpuProfileKey {
  return Object.hasOwn(GPU_PROFILES, name);
}

/** Case-insensitive lookup; throws with the valid names so a CLI typo is self-explaining. */
export function getGpuProfile(name: string): GpuProfile {
  const key = name.trim().toLowerCase();
  if (!isGpuProfileKey(key)) {
    throw new RangeError(`unknown GPU profile "${name}" (expected one of: ${GPU_PROFILE_KEYS.join(", ")})`);
  }
  return GPU_PROFILES[key];
}

/** PCIe payload bandwidth per direction in bytes/s (after 128b/130b or 8b/10b encoding). */
export function pcieBytesPerSecond(gen: number, width: number): number {
  const perLaneGTs = [0, 2.5, 5, 8, 16, 32, 64][gen] ?? 32;
  const efficiency = gen <= 2 ? 0.8 : 128 / 130;
  return (perLaneGTs * 1e9 * efficiency * width) / 8;
}
