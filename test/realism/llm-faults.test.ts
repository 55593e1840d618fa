import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Metadata, type ServiceError } from "@grpc/grpc-js";
import OpenAI, { APIError } from "openai";
import type { ModelInferRequest } from "../../gen/proto/inference/grpc_service.js";
import type { DecoyServer } from "../../src/server.js";
import { emptyContents, inferenceClient } from "../helpers/grpc.js";
import { startTestServer } from "../helpers/server.js";

const TYPES = [
  ["rate_limit", 429, 8, null, /^Rate limit reached for decoy-llm in organization org-xxx/],
  ["invalid_api_key", 401, 16, null, /^Incorrect API key provided\.$/],
  ["context_length", 400, 3, "messages", /maximum context length is 4096 tokens/],
  ["server_error", 503, 14, null, /^The server is overloaded or not ready yet\.$/],
  ["invalid_request", 400, 3, "model", /missing required parameter 'model'/],
  ["model_not_found", 404, 5, "model", /^The model 'decoy-llm-nonexistent' does not exist$/],
] as const;

const CHAT = { model: "decoy-llm", messages: [{ role: "user" as const, content: "hello there" }], max_tokens: 8 };

function kserveRequest(text: string): ModelInferRequest {
  return {
    modelName: "decoy-llm",
    modelVersion: "",
    id: "",
    parameters: {},
    inputs: [
      {
        name: "text_input",
        datatype: "BYTES",
        shape: [1],
        parameters: {},
        contents: { ...emptyContents(), bytesContents: [Buffer.from(text)] },
      },
    ],
    outputs: [],
    rawInputContents: [],
  };
}

describe("failure injection on both protocols", () => {
  let server: DecoyServer;
  let client: OpenAI;
  before(async () => {
    server = await startTestServer({ ttft: 0, itl: 0, failureInjectionRate: 100, seed: 1 });
    client = new OpenAI({ baseURL: `${server.httpUrl}/v1`, apiKey: "none", maxRetries: 0 });
  });
  after(async () => {
    await server.close();
  });

  it("each failure type reaches the OpenAI SDK with its status and llm-d's body", async () => {
    for (const [type, status, , param, msg] of TYPES) {
      server.ctx.config.patch({ "failure-types": [type] });
      const err = await client.chat.completions.create(CHAT).then(
        () => assert.fail(`${type} did not fail`),
        (e: unknown) => e,
      );
      assert.ok(err instanceof APIError, type);
      assert.equal(err.status, status, type);
      const body = err.error as { message: string; type: string; param: string | null; code: number };
      assert.match(body.message, msg, type);
      assert.equal(body.param, param, type);
      assert.equal(body.code, status, type);
    }
  });

  it("each failure type reaches a KServe gRPC client of the LLM with the mapped status code", async () => {
    const grpc = inferenceClient(server.grpcAddress);
    try {
      for (const [type, , code, , msg] of TYPES) {
        server.ctx.config.patch({ "failure-types": [type] });
        const err = await new Promise<ServiceError | null>((resolve) =>
          grpc.modelInfer(kserveRequest("hello"), (e) => resolve(e)),
        );
        assert.ok(err, type);
        assert.equal(err.code, code, type);
        assert.match(err.details, msg, type);
      }
    } finally {
      grpc.close();
    }
  });

  it("X-Decoy-Return-Error forces an error through the SDK and as gRPC metadata with injection off", async () => {
    server.ctx.config.patch({ "failure-injection-rate": 0 });
    try {
      const ok = await client.chat.completions.create(CHAT);
      assert.ok(ok.choices[0]);
      const err = await client.chat.completions.create(CHAT, { headers: { "X-Decoy-Return-Error": "429" } }).then(
        () => null,
        (e: unknown) => e,
      );
      assert.ok(err instanceof APIError);
      assert.equal(err.status, 429);
      const grpc = inferenceClient(server.grpcAddress);
      try {
        const md = new Metadata();
        md.set("x-decoy-return-error", "model_not_found");
        const e = await new Promise<ServiceError | null>((resolve) =>
          grpc.modelInfer(kserveRequest("hello"), md, (x) => resolve(x)),
        );
        assert.equal(e?.code, 5);
      } finally {
        grpc.close();
      }
    } finally {
      server.ctx.config.patch({ "failure-injection-rate": 100 });
    }
  });
});

describe("mid-stream cuts, latency spikes and determinism", () => {
  it("a cut stream delivers some tokens and then fails instead of finishing", async () => {
    const server = await startTestServer({ ttft: 0, itl: 1, midStreamFailureRate: 100, seed: 3 });
    try {
      const client = new OpenAI({ baseURL: `${server.httpUrl}/v1`, apiKey: "none", maxRetries: 0 });
      const stream = await client.chat.completions.create({ ...CHAT, max_tokens: 20, stream: true });
      let content = 0;
      let finished = false;
      const err = await (async () => {
        for await (const chunk of stream) {
          if (chunk.choices[0]?.delta?.content) content++;
          if (chunk.choices[0]?.finish_reason) finished = true;
        }
      })().then(
        () => null,
        (e: unknown) => e,
      );
      assert.ok(content >= 1 && content < 20, `${content} tokens before the cut`);
      assert.equal(finished, false, "no finish_reason on a cut stream");
      assert.ok(err, "the client sees the stream fail");
      assert.match(String((err as Error).message), /cut after \d+ tokens/);
    } finally {
      await server.close();
    }
  });

  it("a latency spike delays the first token by --latency-spike-ms", async () => {
    const server = await startTestServer({ ttft: 0, itl: 0, latencySpikeRate: 100, latencySpikeMs: 300 });
    try {
      const client = new OpenAI({ baseURL: `${server.httpUrl}/v1`, apiKey: "none", maxRetries: 0 });
      const t0 = performance.now();
      await client.chat.completions.create(CHAT);
      assert.ok(performance.now() - t0 >= 290);
      server.ctx.config.patch({ "latency-spike-rate": 0 });
      const t1 = performance.now();
      await client.chat.completions.create(CHAT);
      assert.ok(performance.now() - t1 < 200);
    } finally {
      await server.close();
    }
  });

  it("with --seed the same requests fail the same way, and the texts do not depend on injection", async () => {
    const run = async (flags: Record<string, unknown>) => {
      const server = await startTestServer({ ttft: 0, itl: 0, seed: 77, mode: "random", ...flags });
      try {
        const client = new OpenAI({ baseURL: `${server.httpUrl}/v1`, apiKey: "none", maxRetries: 0 });
        const out: string[] = [];
        for (let i = 0; i < 12; i++) {
          out.push(
            await client.chat.completions.create(CHAT).then(
              (r) => `ok:${r.choices[0]?.message.content}`,
              (e: APIError) => `err:${e.status}`,
            ),
          );
        }
        return out;
      } finally {
        await server.close();
      }
    };
    const a = await run({ failureInjectionRate: 40 });
    const b = await run({ failureInjectionRate: 40 });
    assert.deepEqual(a, b);
    assert.ok(a.some((x) => x.startsWith("err:")) && a.some((x) => x.startsWith("ok:")), a.join(" "));
    const clean = await run({});
    // Request i says the same thing with or without injection: fault draws have their own stream.
    a.forEach((x, i) => {
      if (x.startsWith("ok:")) assert.equal(x, clean[i], `request ${i}`);
    });
  });
});
