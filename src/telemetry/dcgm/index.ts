export {
  DCGM_DEFAULTS,
  DcgmExporter,
  type DcgmExporterOptions,
  type GpuLoadSample,
  type GpuLoadSource,
  type GpuSnapshot,
  type HostnameLabel,
  IDLE_LOAD,
  validateDcgmOptions,
} from "./exporter.js";
export { DEFAULT_FAMILIES, EXTRA_FAMILIES, type MetricFamily, type PromType, xidMessage } from "./metrics.js";
export {
  GPU_PROFILE_KEYS,
  GPU_PROFILES,
  type GpuProfile,
  type GpuProfileKey,
  getGpuProfile,
  isGpuProfileKey,
  pcieBytesPerSecond,
} from "./profiles.js";
