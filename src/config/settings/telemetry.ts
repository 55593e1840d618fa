import { GPU_PROFILE_KEYS } from "../../telemetry/dcgm/profiles.js";
import { defineSettings } from "../define.js";

/** Prometheus endpoints and the simulated dcgm-exporters (flags as in aiperf's mock server). */
export const telemetrySettings = defineSettings({
  metricsPort: {
    type: "integer",
    default: null,
    nullable: true,
    minimum: 0,
    maximum: 65535,
    description:
      "Also serve /metrics, /dcgm1/metrics and /dcgm2/metrics on this port, as Triton does on 8002. Unset: only on --port. 0 picks a free port.",
    group: "Metrics",
  },
  dcgmGpuName: {
    type: "string",
    default: "h200",
    enum: GPU_PROFILE_KEYS,
    parse: (raw: string) => raw.trim().toLowerCase(),
    description: "GPU profile of the simulated DCGM exporters (model name, memory, power, clocks).",
    group: "Metrics",
    env: ["MOCK_SERVER_DCGM_GPU_NAME"],
  },
  dcgmNumGpus: {
    type: "integer",
    default: 2,
    minimum: 1,
    maximum: 8,
    description: "GPUs behind each DCGM endpoint; the engine's load is spread over them like tensor-parallel ranks.",
    group: "Metrics",
    env: ["MOCK_SERVER_DCGM_NUM_GPUS"],
  },
  dcgmInitialLoad: {
    type: "number",
    default: 0,
    minimum: 0,
    maximum: 1,
    description: "Baseline GPU load 0..1 added to the load from the engine (aiperf's default is 0.7; 0 = idle GPUs).",
    group: "Metrics",
    env: ["MOCK_SERVER_DCGM_INITIAL_LOAD"],
  },
  dcgmHostname: {
    type: "string",
    default: "localhost",
    description: "Value of the DCGM hostname label; empty drops the label (dcgm-exporter's --no-hostname).",
    group: "Metrics",
    env: ["MOCK_SERVER_DCGM_HOSTNAME"],
  },
  dcgmHostnameLabel: {
    type: "string",
    default: "Hostname",
    enum: ["Hostname", "hostname"],
    description: "Name of the DCGM hostname label: Hostname (dcgm-exporter up to 4.5.x) or hostname (newer).",
    group: "Metrics",
  },
  dcgmSeed: {
    type: "integer",
    default: null,
    nullable: true,
    description:
      "Seed for the GPUs' identity and reading jitter (same seed and load, same scrapes). Unset: --seed, else random jitter and identity from the hostname.",
    group: "Metrics",
    env: ["MOCK_SERVER_DCGM_SEED"],
  },
  dcgmDriverVersion: {
    type: "string",
    default: "580.95.05",
    description: "Value of the DCGM_FI_DRIVER_VERSION label.",
    group: "Metrics",
  },
  dcgmExtras: {
    type: "boolean",
    default: false,
    description:
      "Also print DCGM_FI_DEV_POWER_MGMT_LIMIT and DCGM_FI_DEV_FB_TOTAL (outside dcgm-exporter's default set).",
    group: "Metrics",
  },
});
