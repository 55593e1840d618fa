/**
 * Builds the realism features every surface shares — KV cache with its ZMQ event stream,
 * failure injection and fake metrics — from the configuration, and keeps the runtime-patchable
 * ones in step with `/configure`.
 */
import type { ConfigStore } from "../config/load.js";
import type { Engine } from "./engine.js";
import { FakeMetrics } from "./fake-metrics.js";
import { Faults } from "./faults.js";
import { KvCache } from "./kv-cache.js";
import { KvEventPublisher, kvTopic, zmqSink } from "./kv-events.js";

export interface Realism {
  /** Present with --enable-kvcache. */
  kv?: KvCache;
  /** Present with --enable-kvcache and a non-empty --zmq-endpoint. */
  kvEvents?: KvEventPublisher;
  faults: Faults;
  fakeMetrics: FakeMetrics;
}

export function createRealism(engine: Engine, store: ConfigStore): Realism {
  const cfg = store.current;
  const faults = new Faults(store, engine.random.fork("faults"));
  const fakeMetrics = new FakeMetrics(engine.clock, cfg.fakeMetrics, cfg.fakeMetricsRefreshInterval);
  store.onChange((next, _prev, changed) => {
    if (changed.includes("fakeMetrics") || changed.includes("fakeMetricsRefreshInterval")) {
      fakeMetrics.set(next.fakeMetrics, next.fakeMetricsRefreshInterval);
    }
  });
  const out: Realism = { faults, fakeMetrics };
  if (!cfg.enableKvcache) return out;
  if (cfg.zmqEndpoint) {
    out.kvEvents = new KvEventPublisher({
      sink: zmqSink(cfg.zmqEndpoint),
      scheduler: engine.scheduler,
      clock: engine.clock,
      batchSize: cfg.eventBatchSize,
      // The real port is known after listen (port 0); server.ts sets the topic again then.
      topic: (model) => kvTopic(cfg.podIp, cfg.port, model),
      mapFormat: cfg.useVllmMapEventFormat,
    });
  }
  out.kv = new KvCache(
    { blockSize: cfg.blockSize, capacityBlocks: cfg.kvCacheSize, hashSeed: cfg.hashSeed },
    out.kvEvents?.listener,
  );
  return out;
}
