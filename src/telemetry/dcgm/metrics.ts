/**
 * The metric families dcgm-exporter prints with its default counter file (`etc/default-counters.csv`),
 * in the order a real scrape lists them, with HELP and TYPE copied verbatim so that anything keyed
 * on them (aiperf parses units out of "(in MiB)" in HELP) sees what it sees against real hardware.
 */
export type PromType = "gauge" | "counter";

export interface MetricFamily {
  readonly name: string;
  readonly type: PromType;
  readonly help: string;
  /** Printed with Go's %f (6 decimals) rather than as an integer, like DCGM's double fields. */
  readonly float: boolean;
}

function fam(name: string, type: PromType, help: string, float = false): MetricFamily {
  return { name, type, help, float };
}

/** The 25 metric rows of the default counter set (the 26th row, DCGM_FI_DRIVER_VERSION, is a label). */
export const DEFAULT_FAMILIES: readonly MetricFamily[] = [
  fam("DCGM_FI_DEV_SM_CLOCK", "gauge", "SM clock frequency (in MHz)."),
  fam("DCGM_FI_DEV_MEM_CLOCK", "gauge", "Memory clock frequency (in MHz)."),
  fam("DCGM_FI_DEV_MEMORY_TEMP", "gauge", "Memory temperature (in C)."),
  fam("DCGM_FI_DEV_GPU_TEMP", "gauge", "GPU temperature (in C)."),
  fam("DCGM_FI_DEV_POWER_USAGE", "gauge", "Power draw (in W).", true),
  fam("DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION", "counter", "Total energy consumption since boot (in mJ)."),
  fam("DCGM_FI_DEV_PCIE_REPLAY_COUNTER", "counter", "Total number of PCIe retries."),
  fam("DCGM_FI_DEV_GPU_UTIL", "gauge", "GPU utilization (in %)."),
  fam("DCGM_FI_DEV_MEM_COPY_UTIL", "gauge", "Memory utilization (in %)."),
  fam("DCGM_FI_DEV_ENC_UTIL", "gauge", "Encoder utilization (in %)."),
  fam("DCGM_FI_DEV_DEC_UTIL", "gauge", "Decoder utilization (in %)."),
  fam("DCGM_FI_DEV_XID_ERRORS", "gauge", "Value of the last XID error encountered."),
  fam("DCGM_FI_DEV_FB_FREE", "gauge", "Framebuffer memory free (in MiB)."),
  fam("DCGM_FI_DEV_FB_USED", "gauge", "Framebuffer memory used (in MiB)."),
  fam("DCGM_FI_DEV_FB_RESERVED", "gauge", "Framebuffer memory reserved (in MiB)."),
  fam("DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS", "counter", "Number of remapped rows for uncorrectable errors"),
  fam("DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS", "counter", "Number of remapped rows for correctable errors"),
  fam("DCGM_FI_DEV_ROW_REMAP_FAILURE", "gauge", "Whether remapping of rows has failed"),
  fam("DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL", "counter", "Total number of NVLink bandwidth counters for all lanes."),
  fam("DCGM_FI_DEV_VGPU_LICENSE_STATUS", "gauge", "vGPU License status"),
  fam("DCGM_FI_PROF_GR_ENGINE_ACTIVE", "gauge", "Ratio of time the graphics engine is active.", true),
  fam("DCGM_FI_PROF_PIPE_TENSOR_ACTIVE", "gauge", "Ratio of cycles the tensor (HMMA) pipe is active.", true),
  fam(
    "DCGM_FI_PROF_DRAM_ACTIVE",
    "gauge",
    "Ratio of cycles the device memory interface is active sending or receiving data.",
    true,
  ),
  fam(
    "DCGM_FI_PROF_PCIE_TX_BYTES",
    "gauge",
    "The rate of data transmitted over the PCIe bus - including both protocol headers and data payloads - in bytes per second.",
  ),
  fam(
    "DCGM_FI_PROF_PCIE_RX_BYTES",
    "gauge",
    "The rate of data received over the PCIe bus - including both protocol headers and data payloads - in bytes per second.",
  ),
];

/**
 * Not in dcgm-exporter's default set (a user enables them in a custom counters CSV); aiperf's faker
 * emits both and its GPU telemetry uses them for "% of power limit" and "% of memory" panels.
 */
export const EXTRA_FAMILIES: readonly MetricFamily[] = [
  fam("DCGM_FI_DEV_POWER_MGMT_LIMIT", "gauge", "Current power limit for the device.", true),
  fam("DCGM_FI_DEV_FB_TOTAL", "gauge", "Framebuffer memory total (in MiB)."),
];

/**
 * dcgm-exporter adds `err_code`/`err_msg` to DCGM_FI_DEV_XID_ERRORS (since 3.3.6-3.4.2), with texts
 * from NVIDIA's XID catalogue. Only codes an operator is likely to inject are listed; others get
 * dcgm-exporter's fallback.
 */
const XID_TEXT: Readonly<Record<number, string>> = {
  0: "No Error",
  13: "Graphics Engine Exception",
  31: "GPU memory page fault",
  43: "GPU stopped processing",
  45: "Preemptive cleanup, due to previous errors -- Most likely to see when running multiple cuda",
  48: "Double Bit ECC Error",
  61: "Internal micro-controller breakpoint/warning",
  62: "Internal micro-controller halt",
  63: "ECC page retirement or row remapping recording event",
  64: "ECC page retirement or row remapper recording failure",
  74: "NVLINK Error",
  79: "GPU has fallen off the bus",
  92: "High single-bit ECC error rate",
  94: "Contained ECC error",
  95: "Uncontained ECC error",
  109: "Context Switch Timeout Error",
  119: "GSP RPC Timeout",
  120: "GSP Error",
  140: "Unrecovered ECC Error",
};

export function xidMessage(code: number): string {
  return XID_TEXT[code] ?? "Unknown Error";
}
