/**
 * gRPC ModelInfer: a small text request (BYTES `text_input`) and the resnet input (FP32
 * [1,3,224,224] = 602,112 bytes as raw_input_contents), each driven by h2load (with a
 * length-prefixed gRPC body file) and by a grpc-js client process, against a bare grpc-js
 * server with identity codecs answering the bytes Decoy answered.
 * Targets: Decoy ≥ 0.85 × bare for the small request, ≥ 0.90 for resnet.
 */
import { Client, credentials, type ServiceError } from "@grpc/grpc-js";
import { ModelInferRequest, ModelInferResponse } from "../../gen/proto/inference/grpc_service.js";
import { benchScript } from "../lib/paths.js";
import { runClient } from "../lib/proc.js";
import type { Recorder } from "../lib/report.js";
import {
  type BaselineProcess,
  type BenchContext,
  chatModel,
  type Scenario,
  type ScenarioOutcome,
  sides,
  startBaseline,
  startDecoyWith,
  withCpu,
  writeTmp,
} from "../lib/scenario.js";
import { ensureTool, runH2load } from "../lib/tools.js";

const METHOD = "/inference.GRPCInferenceService/ModelInfer";
const RESNET_BYTES = 3 * 224 * 224 * 4;

function bytesElement(text: string): Buffer {
  const b = Buffer.from(text);
  const len = Buffer.alloc(4);
  len.writeUInt32LE(b.length);
  return Buffer.concat([len, b]);
}

function textRequest(model: string): Buffer {
  return Buffer.from(
    ModelInferRequest.encode(
      ModelInferRequest.fromPartial({
        modelName: model,
        inputs: [{ name: "text_input", datatype: "BYTES", shape: [1] }],
        rawInputContents: [bytesElement("Write one sentence about load testing.")],
      }),
    ).finish(),
  );
}

function resnetRequest(): Buffer {
  const raw = Buffer.alloc(RESNET_BYTES);
  for (let i = 0; i < RESNET_BYTES / 4; i++) raw.writeFloatLE(((i * 2654435761) % 1000) / 1000, i * 4);
  return Buffer.from(
    ModelInferRequest.encode(
      ModelInferRequest.fromPartial({
        modelName: "resnet",
        inputs: [{ name: "input", datatype: "FP32", shape: [1, 3, 224, 224] }],
        rawInputContents: [raw],
      }),
    ).finish(),
  );
}

/** What Decoy would plausibly answer, used only when Decoy cannot answer itself yet. */
function syntheticReply(kind: "text" | "resnet", model: string): Buffer {
  const msg =
    kind === "resnet"
      ? {
          modelName: model,
          outputs: [{ name: "output", datatype: "FP32", shape: [1, 1000] }],
          rawOutputContents: [Buffer.alloc(4000)],
        }
      : {
          modelName: model,
          outputs: [{ name: "text_output", datatype: "BYTES", shape: [1] }],
          rawOutputContents: [bytesElement("Load testing shows how a system behaves before its users do.")],
        };
  return Buffer.from(ModelInferResponse.encode(ModelInferResponse.fromPartial(msg)).finish());
}

/** gRPC length-prefixed message: flag byte 0 (uncompressed), 4-byte big-endian length. */
function frame(msg: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt32BE(msg.length, 1);
  return Buffer.concat([head, msg]);
}

function callOnce(address: string, req: Buffer): Promise<Buffer> {
  const client = new Client(address, credentials.createInsecure(), { "grpc.max_receive_message_length": -1 });
  const id = (b: Buffer) => b;
  return new Promise<Buffer>((resolve, reject) => {
    client.makeUnaryRequest(
      METHOD,
      id,
      id,
      req,
      { deadline: Date.now() + 15_000 },
      (err: ServiceError | null, res?: Buffer) => {
        client.close();
        if (err) reject(new Error(`ModelInfer ${err.code}: ${err.details}`));
        else resolve(res as Buffer);
      },
    );
  });
}

interface ClientResult {
  rps: number;
  ok: number;
  failed: number;
  responseBytes: number;
  clientCpu: number;
  errors: string[];
  error?: string;
}

interface Case {
  id: "small" | "resnet";
  label: string;
  request: Buffer;
  target: number;
  h2: { clients: number; streams: number };
  grpcjs: { concurrency: number; channels: number };
}

export const grpc: Scenario = {
  name: "grpc",
  title: "gRPC ModelInfer: small text request and 602,112-byte resnet input",
  baselineName: "bare grpc-js, identity codecs, same reply bytes",
  async run(ctx: BenchContext, rec: Recorder): Promise<ScenarioOutcome> {
    const h2load = ensureTool("h2load", "nghttp2-client", ctx.log);
    const seconds = ctx.quick ? 2 : Math.min(ctx.durationS, 5);
    const started = await startDecoyWith(ctx, "grpc", 0, 0);
    const { decoy } = started;
    let base: BaselineProcess | undefined;
    try {
      const textModel = ctx.textModel ?? (await chatModel(ctx, decoy));
      const cases: Case[] = [
        {
          id: "small",
          label: `small text (${textModel})`,
          request: textRequest(textModel),
          target: 0.85,
          h2: { clients: 4, streams: 25 },
          grpcjs: { concurrency: 100, channels: 2 },
        },
        {
          id: "resnet",
          label: "resnet 602 KB",
          request: resnetRequest(),
          target: 0.9,
          h2: { clients: 4, streams: 2 },
          grpcjs: { concurrency: 8, channels: 2 },
        },
      ];
      const reasons: string[] = [];
      const replies: string[] = [];
      const decoyOk: Record<string, boolean> = {};
      const replySize: Record<string, number> = {};
      for (const c of cases) {
        const model = c.id === "resnet" ? "resnet" : textModel;
        let reply: Buffer;
        try {
          if (!decoy) throw new Error(started.reason);
          reply = await callOnce(decoy.grpcAddress, c.request);
          decoyOk[c.id] = true;
        } catch (err) {
          reasons.push(decoy ? `${c.label}: ${(err as Error).message}` : (started.reason as string));
          reply = syntheticReply(c.id === "resnet" ? "resnet" : "text", model);
          decoyOk[c.id] = false;
        }
        replySize[c.id] = reply.length;
        replies.push("--response", `${model}=${writeTmp(`grpc-reply-${c.id}.bin`, reply)}`);
        rec.note(
          `${c.label}: request ${c.request.length} B, reply ${reply.length} B${decoyOk[c.id] ? "" : " (synthetic)"}`,
        );
      }
      base = await startBaseline("baselines/grpc-echo", replies);
      const addr: Record<string, { address: string; port: number; pid: number }> = {
        decoy: { address: decoy?.grpcAddress ?? "", port: decoy?.grpcPort ?? 0, pid: decoy?.pid ?? 0 },
        baseline: { address: `127.0.0.1:${base.port}`, port: base.port, pid: base.pid },
      };

      for (const c of cases) {
        const bodyFile = writeTmp(`grpc-${c.id}.grpc`, frame(c.request));
        const reqFile = writeTmp(`grpc-${c.id}.bin`, c.request);
        const drivers = h2load ? (["h2load", "grpc-js"] as const) : (["grpc-js"] as const);
        for (const driver of drivers) {
          const id = `${c.id}.${driver}`;
          rec.metric({
            id,
            label: `${c.label}, ${driver}`,
            unit: "RPC/s",
            target: { kind: "ratio-min", value: c.target },
          });
          rec.metric({ id: `${id}.perCore`, label: `${c.label}, ${driver}: per server core`, unit: "RPC/s" });
          rec.metric({ id: `${id}.cpu`, label: `${c.label}, ${driver}: server CPU`, unit: "cores" });
          if (driver === "grpc-js")
            rec.metric({ id: `${id}.client`, label: `${c.label}, grpc-js: client CPU`, unit: "cores" });
          for (let run = 0; run < ctx.runs; run++) {
            for (const side of sides(run)) {
              if (side === "decoy" && !decoyOk[c.id]) {
                rec.add(id, side, null);
                rec.add(`${id}.perCore`, side, null);
                rec.add(`${id}.cpu`, side, null);
                if (driver === "grpc-js") rec.add(`${id}.client`, side, null);
                continue;
              }
              const a = addr[side] as { address: string; port: number; pid: number };
              if (driver === "h2load") {
                const { value: r, cores } = await withCpu(a.pid, () =>
                  runH2load(`http://${a.address}${METHOD}`, bodyFile, c.h2.clients, c.h2.streams, seconds),
                );
                if (r.failed) rec.note(`${side} ${id} run ${run + 1}: h2load saw ${r.failed} failed requests`);
                // A gRPC error is a trailers-only answer: no DATA, while HTTP still says 200.
                const good = r.dataBytesPerReq >= 0.5 * ((replySize[c.id] ?? 0) + 5);
                if (!good)
                  rec.note(
                    `${side} ${id} run ${run + 1}: ${r.dataBytesPerReq.toFixed(0)} data B/req, expected ~${(replySize[c.id] ?? 0) + 5}: gRPC errors`,
                  );
                ctx.log(
                  `grpc ${id} ${side} run ${run + 1}: ${r.rps.toFixed(0)} RPC/s, ${r.dataBytesPerReq.toFixed(0)} data B/req, server ${cores.toFixed(2)} cores`,
                );
                rec.add(id, side, good ? r.rps : null);
                rec.add(`${id}.perCore`, side, good ? r.rps / cores : null);
                rec.add(`${id}.cpu`, side, cores);
              } else {
                const { value: r, cores } = await withCpu(a.pid, () =>
                  runClient<ClientResult>(
                    benchScript("clients/grpc-client"),
                    [
                      `--address=${a.address}`,
                      `--request=${reqFile}`,
                      `--concurrency=${c.grpcjs.concurrency}`,
                      `--channels=${c.grpcjs.channels}`,
                      `--duration=${seconds}`,
                      "--warmup=1",
                    ],
                    (seconds + 90) * 1000,
                  ),
                );
                if (r.error) throw new Error(`${side} grpc-js client: ${r.error}`);
                if (r.failed)
                  rec.note(`${side} ${id} run ${run + 1}: ${r.failed} failed calls (${r.errors.join("; ")})`);
                ctx.log(
                  `grpc ${id} ${side} run ${run + 1}: ${r.rps.toFixed(0)} RPC/s, client ${r.clientCpu.toFixed(2)} cores, server ${cores.toFixed(2)}`,
                );
                rec.add(id, side, r.failed && !r.ok ? null : r.rps);
                rec.add(`${id}.perCore`, side, r.failed && !r.ok ? null : r.rps / cores);
                if (r.clientCpu > 0.9)
                  rec.note(
                    `${id} (${side}): the grpc-js client used ${r.clientCpu.toFixed(2)} cores: it is the bottleneck`,
                  );
                rec.add(`${id}.cpu`, side, cores);
                rec.add(`${id}.client`, side, r.clientCpu);
              }
            }
          }
        }
      }
      if (!h2load) rec.note("h2load missing: install nghttp2-client (apt-get install -y nghttp2-client)");
      return { decoySkipped: reasons.length ? [...new Set(reasons)].join("; ") : undefined };
    } finally {
      await Promise.all([started.stop(), base?.stop()]);
    }
  },
};
