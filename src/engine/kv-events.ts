/**
 * KV events over ZMQ, as vLLM and llm-d-inference-sim publish them for KV-aware routers:
 * PUB socket, topic `kv@<pod-ip>:<port>@<model>`, three frames
 * `[topic, 8-byte big-endian sequence, msgpack(batch)]`, batch `[ts, events, dp_rank]` with
 * events in vLLM's positional form (`["BlockStored", block_hashes, parent_block_hash,
 * token_ids, block_size, lora_id, medium, lora_name]`, `["BlockRemoved", block_hashes,
 * medium]`, `["AllBlocksCleared"]`) or, with the map format, msgspec's tagged maps.
 * Events are batched per topic and sent when a batch is full or a second after its first
 * event (a deadline on the engine scheduler, not a timer of its own).
 */
import { createRequire } from "node:module";
import type { Clock } from "./clock.js";
import type { KvEvent } from "./kv-cache.js";
import type { Deadline, Scheduler } from "./scheduler.js";

export type KvFrames = [Buffer, Buffer, Uint8Array];

/** Where encoded batches go: a ZMQ PUB socket in production, an array in tests. */
export interface KvEventSink {
  send(frames: KvFrames): void | Promise<void>;
  close(): void | Promise<void>;
  /** Settles when the sink can send (a socket bound or connecting); rejects if it never will. */
  ready?: Promise<void>;
  /** The socket's resolved endpoint (a wildcard port bound to a real one), once ready. */
  endpoint?(): string | undefined;
}

export interface KvEventPublisherOptions {
  sink: KvEventSink;
  scheduler: Scheduler;
  clock: Clock;
  /** Events per batch (--event-batch-size). */
  batchSize: number;
  /** A partial batch waits at most this long (ms); llm-d and vLLM use one second. */
  flushMs?: number;
  /** Topic of a model's events. */
  topic: (model: string) => string;
  /** Newer vLLM's map encoding instead of positional arrays. */
  mapFormat?: boolean;
  dataParallelRank?: number;
  /** Called when the sink fails to send (the batch is dropped, like a PUB socket would). */
  onError?: (err: unknown) => void;
}

/** `kv@<pod-ip>:<port>@<model>`. */
export function kvTopic(podIp: string, port: number, model: string): string {
  return `kv@${podIp}:${port}@${model}`;
}

function encodeEvent(e: KvEvent, map: boolean): unknown {
  switch (e.type) {
    case "BlockStored":
      return map
        ? {
            type: "BlockStored",
            block_hashes: e.blockHashes,
            parent_block_hash: e.parentBlockHash,
            token_ids: e.tokenIds,
            block_size: e.blockSize,
            lora_id: e.loraId,
            medium: e.medium,
            lora_name: e.loraName,
          }
        : ["BlockStored", e.blockHashes, e.parentBlockHash, e.tokenIds, e.blockSize, e.loraId, e.medium, e.loraName];
    case "BlockRemoved":
      return map
        ? { type: "BlockRemoved", block_hashes: e.blockHashes, medium: e.medium }
        : ["BlockRemoved", e.blockHashes, e.medium];
    case "AllBlocksCleared":
      return map ? { type: "AllBlocksCleared" } : ["AllBlocksCleared"];
  }
}

let msgpack: typeof import("@msgpack/msgpack") | undefined;

/** Encode one batch the way vLLM's msgspec encoder does (hashes as 64-bit unsigned ints). */
export function encodeBatch(ts: number, events: KvEvent[], dpRank: number, map = false): Uint8Array {
  const evs = events.map((e) => encodeEvent(e, map));
  const batch = map ? { ts, events: evs, data_parallel_rank: dpRank } : [ts, evs, dpRank];
  // Loaded on the first batch: a server without --enable-kvcache never needs msgpack.
  msgpack ??= createRequire(import.meta.url)("@msgpack/msgpack") as typeof import("@msgpack/msgpack");
  return msgpack.encode(batch, { useBigInt64: true });
}

interface Pending {
  events: KvEvent[];
  deadline: Deadline | undefined;
}

export class KvEventPublisher {
  private readonly opts: Required<Omit<KvEventPublisherOptions, "onError">> & Pick<KvEventPublisherOptions, "onError">;
  private readonly pending = new Map<string, Pending>();
  private seq = 0n;
  /** Sends are chained so frames leave in sequence order even when the sink is async. */
  private chain: Promise<void> = Promise.resolve();
  private closed = false;
  published = 0;

  constructor(opts: KvEventPublisherOptions) {
    this.opts = { flushMs: 1000, mapFormat: false, dataParallelRank: 0, ...opts };
  }

  /** Settles once the sink is usable; await it at startup to report a bind failure. */
  get ready(): Promise<void> {
    return this.opts.sink.ready ?? Promise.resolve();
  }

  /** Where events go, once `ready` (with a bound wildcard port resolved). */
  get endpoint(): string | undefined {
    return this.opts.sink.endpoint?.();
  }

  /** Change the topic (e.g. once the HTTP port is known); pending events use the new one. */
  setTopic(topic: (model: string) => string): void {
    this.opts.topic = topic;
  }

  /** Listener to hand to `KvCache`. */
  readonly listener = (e: KvEvent): void => this.push(e);

  push(e: KvEvent): void {
    if (this.closed) return;
    let p = this.pending.get(e.model);
    if (!p) {
      p = { events: [], deadline: undefined };
      this.pending.set(e.model, p);
    }
    p.events.push(e);
    if (p.events.length >= this.opts.batchSize) {
      this.flush(e.model);
    } else if (!p.deadline) {
      p.deadline = this.opts.scheduler.after(this.opts.flushMs, () => {
        if (p) p.deadline = undefined;
        this.flush(e.model);
      });
    }
  }

  /** Send the pending batch of one model, or of all. */
  flush(model?: string): void {
    const models = model === undefined ? [...this.pending.keys()] : [model];
    for (const m of models) {
      const p = this.pending.get(m);
      if (!p || p.events.length === 0) continue;
      this.opts.scheduler.cancel(p.deadline);
      this.pending.delete(m);
      // A full batch never exceeds batchSize, even when events arrived in a burst.
      for (let i = 0; i < p.events.length; i += this.opts.batchSize) {
        this.sendBatch(m, p.events.slice(i, i + this.opts.batchSize));
      }
    }
  }

  private sendBatch(model: string, events: KvEvent[]): void {
    const seq = Buffer.alloc(8);
    seq.writeBigUInt64BE(this.seq++);
    const payload = encodeBatch(
      this.opts.clock.wallNow() / 1000,
      events,
      this.opts.dataParallelRank,
      this.opts.mapFormat,
    );
    const frames: KvFrames = [Buffer.from(this.opts.topic(model), "utf8"), seq, payload];
    this.published++;
    this.chain = this.chain.then(() => this.opts.sink.send(frames)).catch((err: unknown) => this.opts.onError?.(err));
  }

  /** Flush what is pending, wait for it to leave, close the sink. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    await this.chain;
    await this.opts.sink.close();
  }
}

/** vLLM's rule: bind when the endpoint is a wildcard, IPv6 any, ipc:// or inproc://; else connect. */
export function zmqShouldBind(endpoint: string): boolean {
  return (
    endpoint.includes("*") ||
    endpoint.includes("::") ||
    endpoint.startsWith("ipc://") ||
    endpoint.startsWith("inproc://")
  );
}

/**
 * A ZMQ PUB sink. The zeromq addon is loaded on first use so a server without KV events never
 * loads native code; `ready` settles once the socket is bound or connecting (await it to turn
 * a bind failure into a startup error). Sends wait for `ready`.
 */
export function zmqSink(endpoint: string): KvEventSink & { ready: Promise<void> } {
  let sock: { send(f: KvFrames): Promise<void>; close(): void; readonly lastEndpoint: string | null } | undefined;
  const ready = (async () => {
    const zmq = await import("zeromq");
    const pub = new zmq.Publisher({ linger: 1000, sendHighWaterMark: 100_000 });
    if (zmqShouldBind(endpoint)) await pub.bind(endpoint);
    else pub.connect(endpoint);
    sock = pub;
  })();
  // Callers that never await `ready` must not see an unhandled rejection.
  ready.catch(() => undefined);
  return {
    ready,
    endpoint: () => sock?.lastEndpoint ?? endpoint,
    async send(frames) {
      await ready;
      await sock?.send(frames);
    },
    async close() {
      await ready.catch(() => undefined);
      sock?.close();
      sock = undefined;
    },
  };
}
