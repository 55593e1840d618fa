import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type {
  GRPCInferenceServiceClient,
  ModelInferRequest,
  ModelStreamInferResponse,
} from "../../gen/proto/inference/grpc_service.js";
import { decodeBytesElements, encodeBytesElements } from "../../src/engine/tensors.js";
import type { DecoyServer } from "../../src/server.js";
import { call, inferenceClient } from "../helpers/grpc.js";
import { startTestServer } from "../helpers/server.js";

/**
 * The simulated LLMs over KServe v2 gRPC with aiperf's / Triton's tensor names: the same
 * request and seed give the same text as the HTTP completions endpoint.
 */

const MODEL = "decoy-llm";
const PROMPT = "Write a few words about lighthouses.";

function int32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32LE(n);
  return b;
}

function textRequest(maxTokens: number, seed: number, stream?: boolean): ModelInferRequest {
  const inputs: ModelInferRequest["inputs"] = [
    { name: "text_input", datatype: "BYTES", shape: [1], parameters: {} },
    { name: "max_tokens", datatype: "INT32", shape: [1], parameters: {} },
  ];
  const raw = [encodeBytesElements([PROMPT]), int32(maxTokens)];
  if (stream !== undefined) {
    inputs.push({ name: "stream", datatype: "BOOL", shape: [1], parameters: {} });
    raw.push(Buffer.from([stream ? 1 : 0]));
  }
  return {
    modelName: MODEL,
    modelVersion: "",
    id: `req-${seed}`,
    parameters: { seed: { parameterChoice: { $case: "int64Param", value: seed } } },
    inputs,
    outputs: [],
    rawInputContents: raw,
  };
}

function streamAll(client: GRPCInferenceServiceClient, req: ModelInferRequest): Promise<ModelStreamInferResponse[]> {
  const stream = client.modelStreamInfer();
  const got: ModelStreamInferResponse[] = [];
  return new Promise((resolve, reject) => {
    stream.on("data", (m: ModelStreamInferResponse) => got.push(m));
    stream.on("end", () => resolve(got));
    stream.on("error", reject);
    stream.write(req);
    stream.end();
  });
}

function textOf(res: ModelStreamInferResponse): string {
  const r = res.inferResponse;
  if (!r) return "";
  const i = r.outputs.findIndex((o) => o.name === "text_output");
  const raw = r.rawOutputContents[i];
  if (raw)
    return decodeBytesElements(Buffer.from(raw))
      .map((b) => b.toString("utf8"))
      .join("");
  return (r.outputs[i]?.contents?.bytesContents ?? []).map((b) => Buffer.from(b).toString("utf8")).join("");
}

async function httpText(server: DecoyServer, maxTokens: number, seed: number): Promise<string> {
  const res = await fetch(`${server.httpUrl}/v1/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: MODEL, prompt: PROMPT, max_tokens: maxTokens, seed }),
  });
  return ((await res.json()) as { choices: { text: string }[] }).choices[0]?.text ?? "";
}

describe("LLMs over KServe v2 gRPC", () => {
  let server: DecoyServer;
  let client: GRPCInferenceServiceClient;
  before(async () => {
    server = await startTestServer({ ttft: 2, itl: 10 });
    client = inferenceClient(server.grpcAddress);
  });
  after(async () => {
    client.close();
    await server.close();
  });

  it("ModelStreamInfer streams the same text as the HTTP endpoint for the same request and seed", async () => {
    const responses = await streamAll(client, textRequest(12, 42));
    assert.ok(responses.length > 1, "token deltas arrive as several responses");
    for (const r of responses) assert.equal(r.errorMessage, "");
    const streamed = responses.map(textOf).join("");
    assert.equal(streamed, await httpText(server, 12, 42));
    assert.notEqual(streamed, await httpText(server, 12, 43), "the seed matters");
  });

  it("ModelInfer answers the whole text at once; stream=false on a stream is one response", async () => {
    const res = await call(client, client.modelInfer, textRequest(9, 5));
    assert.equal(res.modelName, MODEL);
    assert.equal(res.outputs[0]?.name, "text_output");
    assert.equal(res.outputs[0]?.datatype, "BYTES");
    const text = decodeBytesElements(Buffer.from(res.rawOutputContents[0] ?? Buffer.alloc(0)))[0]?.toString("utf8");
    assert.equal(text, await httpText(server, 9, 5));
    const single = await streamAll(client, textRequest(9, 5, false));
    assert.equal(single.length, 1);
    assert.equal(textOf(single[0] as ModelStreamInferResponse), text);
  });

  it("model metadata and readiness use the LLM tensor names", async () => {
    const md = await call(client, client.modelMetadata, { name: MODEL, version: "" });
    assert.equal(md.inputs[0]?.name, "text_input");
    assert.equal(md.outputs[0]?.name, "text_output");
    assert.equal((await call(client, client.modelReady, { name: MODEL, version: "" })).ready, true);
  });

  it("embeddings and rankings models answer embedding_output and scores", async () => {
    const emb = await call(client, client.modelInfer, {
      modelName: "decoy-embedding",
      modelVersion: "",
      id: "e",
      parameters: {},
      inputs: [{ name: "text_input", datatype: "BYTES", shape: [2], parameters: {} }],
      outputs: [],
      rawInputContents: [encodeBytesElements(["alpha", "beta"])],
    });
    assert.deepEqual(emb.outputs[0]?.shape, [2, 768]);
    assert.equal(emb.outputs[0]?.name, "embedding_output");
    assert.equal(emb.rawOutputContents[0]?.length, 2 * 768 * 4);
    const rank = await call(client, client.modelInfer, {
      modelName: "decoy-reranker",
      modelVersion: "",
      id: "r",
      parameters: {},
      inputs: [
        { name: "query", datatype: "BYTES", shape: [1], parameters: {} },
        { name: "passages", datatype: "BYTES", shape: [2], parameters: {} },
      ],
      outputs: [],
      rawInputContents: [encodeBytesElements(["red apples"]), encodeBytesElements(["pears", "red apples in a bowl"])],
    });
    assert.equal(rank.outputs[0]?.name, "scores");
    const raw = Buffer.from(rank.rawOutputContents[0] ?? Buffer.alloc(0));
    const scores = [raw.readFloatLE(0), raw.readFloatLE(4)];
    assert.ok((scores[1] ?? 0) > (scores[0] ?? 0), "scores keep the passage order; the relevant one scores higher");
  });

  it("cancelling a ModelStreamInfer call frees the LLM slot at once", async () => {
    const stream = client.modelStreamInfer();
    const first = new Promise<void>((resolve) => stream.once("data", () => resolve()));
    stream.on("error", () => undefined);
    stream.write({
      ...textRequest(800, 1),
      parameters: { ignore_eos: { parameterChoice: { $case: "boolParam", value: true } } },
    });
    await first;
    assert.equal(server.ctx.llm.stats().running, 1);
    stream.cancel();
    const end = Date.now() + 1000;
    while (server.ctx.llm.stats().running !== 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 2));
    assert.equal(server.ctx.llm.stats().running, 0);
  });
});
