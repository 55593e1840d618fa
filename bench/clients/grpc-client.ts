/**
 * grpc-js unary load client: a pre-encoded request sent with identity serializers, so the
 * client spends nothing on protobuf. `--concurrency` calls in flight spread over
 * `--channels` HTTP/2 connections, for `--duration` seconds after `--warmup`. Last stdout
 * line is JSON.
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { Client, credentials, type ServiceError } from "@grpc/grpc-js";
import { percentileSorted, sortedCopy } from "../lib/stats.js";

const { values: a } = parseArgs({
  options: {
    address: { type: "string" },
    method: { type: "string", default: "/inference.GRPCInferenceService/ModelInfer" },
    request: { type: "string" },
    concurrency: { type: "string", default: "16" },
    channels: { type: "string", default: "1" },
    duration: { type: "string", default: "10" },
    warmup: { type: "string", default: "1" },
  },
});

const req = readFileSync(String(a.request));
const identity = (b: Buffer) => b;
const channels = Array.from(
  { length: Number(a.channels) },
  (_, i) =>
    new Client(String(a.address), credentials.createInsecure(), {
      "grpc.max_receive_message_length": -1,
      "grpc.max_send_message_length": -1,
      "grpc.bench_channel": i,
    } as Record<string, number>),
);

let measuring = false;
let stopping = false;
let ok = 0;
let failed = 0;
let responseBytes = 0;
const errors: string[] = [];
const lat: number[] = [];

function call(i: number): void {
  const client = channels[i % channels.length] as Client;
  const t = performance.now();
  client.makeUnaryRequest(String(a.method), identity, identity, req, (err: ServiceError | null, res?: Buffer) => {
    if (measuring) {
      if (err) {
        failed++;
        if (errors.length < 3) errors.push(`${err.code} ${err.details}`);
      } else {
        ok++;
        responseBytes = res?.length ?? 0;
        if (lat.length < 1_000_000) lat.push(performance.now() - t);
      }
    } else if (err && errors.length < 3) errors.push(`${err.code} ${err.details}`);
    if (!stopping) call(i);
  });
}

const done = (obj: unknown) => {
  process.stdout.write(`${JSON.stringify(obj)}\n`);
  process.exit(0);
};
setTimeout(() => done({ error: "hard time limit" }), (Number(a.duration) + Number(a.warmup) + 60) * 1000).unref();

// Connect every channel before the load starts.
await Promise.all(
  channels.map(
    (c) =>
      new Promise<void>((resolve, reject) =>
        c.waitForReady(Date.now() + 10_000, (err) => (err ? reject(err) : resolve())),
      ),
  ),
);
const conc = Number(a.concurrency);
for (let i = 0; i < conc; i++) call(i);
await new Promise((r) => setTimeout(r, Number(a.warmup) * 1000));
measuring = true;
const cpu0 = process.cpuUsage();
const t0 = performance.now();
await new Promise((r) => setTimeout(r, Number(a.duration) * 1000));
measuring = false;
stopping = true;
const wall = performance.now() - t0;
const cpu = process.cpuUsage(cpu0);
const s = sortedCopy(lat);
done({
  rps: ok / (wall / 1000),
  ok,
  failed,
  responseBytes,
  latP50: percentileSorted(s, 50),
  latP99: percentileSorted(s, 99),
  clientCpu: (cpu.user + cpu.system) / 1000 / wall,
  errors,
});
