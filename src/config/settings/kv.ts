import { defineSettings } from "../define.js";

/** KV cache simulation and the ZMQ event stream a KV-aware router consumes (llm-d / vLLM names). */
export const kvSettings = defineSettings({
  enableKvcache: {
    type: "boolean",
    default: false,
    description:
      "Simulate vLLM's prefix cache: prompt blocks are hashed, cached tokens skip prefill and KV events are published.",
    group: "KV cache",
  },
  kvCacheSize: {
    type: "integer",
    default: 1024,
    minimum: 1,
    description: "KV cache capacity in blocks.",
    group: "KV cache",
    placeholder: "BLOCKS",
  },
  blockSize: {
    type: "integer",
    default: 16,
    enum: [8, 16, 32, 64, 128],
    description: "Tokens per KV block.",
    group: "KV cache",
    placeholder: "TOKENS",
  },
  hashSeed: {
    type: "string",
    default: "",
    description: "Seed of the root block hash (vLLM's PYTHONHASHSEED); the same seed gives the same block hashes.",
    group: "KV cache",
    env: ["PYTHONHASHSEED"],
  },
  zmqEndpoint: {
    type: "string",
    default: "tcp://127.0.0.1:5557",
    description:
      'ZMQ PUB endpoint for KV events: connects to it, or binds when it has a wildcard ("tcp://*:5557"), is ipc:// or inproc://. Empty disables publishing.',
    group: "KV cache",
    placeholder: "URL",
  },
  eventBatchSize: {
    type: "integer",
    default: 16,
    minimum: 1,
    description: "KV events per published batch; a partial batch is flushed after 1 s.",
    group: "KV cache",
  },
  useVllmMapEventFormat: {
    type: "boolean",
    default: false,
    description: "Encode KV event batches as msgpack maps (newer vLLM) instead of positional arrays.",
    group: "KV cache",
  },
  podIp: {
    type: "string",
    default: "127.0.0.1",
    description: "Address in the KV event topic kv@<pod-ip>:<port>@<model>.",
    group: "KV cache",
    env: ["POD_IP"],
  },
});
