import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { status } from "@grpc/grpc-js";
import type {
  GRPCInferenceServiceClient,
  ModelInferRequest,
  ModelMetadataResponse,
} from "../../gen/proto/inference/grpc_service.js";
import type { DecoyServer } from "../../src/server.js";
import { call, emptyContents, inferenceClient } from "../helpers/grpc.js";
import { startTestServer } from "../helpers/server.js";
import { rawRequest } from "./helpers.js";

type GrpcErr = { code: number; details: string };

const rejectsWith = (p: Promise<unknown>, code: number, ...patterns: RegExp[]) =>
  assert.rejects(p, (e: GrpcErr) => {
    assert.equal(e.code, code, `code ${e.code} (${e.details})`);
    for (const re of patterns) assert.match(e.details, re);
    return true;
  });

const noContents = emptyContents();

describe("KServe v2 gRPC rejects bad requests with the right status and a clear message", () => {
  let server: DecoyServer;
  let client: GRPCInferenceServiceClient;
  let resnet: ModelMetadataResponse;
  let bert: ModelMetadataResponse;
  const infer = (req: ModelInferRequest) => call(client, client.modelInfer, req);
  before(async () => {
    server = await startTestServer({ modelLatencyMs: 1, modelPerItemLatencyMs: 0, modelLatencyStdDevMs: 0 });
    client = inferenceClient(server.grpcAddress);
    resnet = await call(client, client.modelMetadata, { name: "resnet", version: "" });
    bert = await call(client, client.modelMetadata, { name: "bert", version: "" });
  });
  after(async () => {
    client.close();
    await server.close();
  });

  it("unknown model or version: NOT_FOUND", async () => {
    await rejectsWith(infer({ ...rawRequest(resnet), modelName: "nope" }), status.NOT_FOUND, /'nope' is not found/);
    await rejectsWith(infer({ ...rawRequest(resnet), modelVersion: "3" }), status.NOT_FOUND, /'resnet' version 3/);
    await rejectsWith(call(client, client.modelMetadata, { name: "nope", version: "" }), status.NOT_FOUND);
    await rejectsWith(call(client, client.modelConfig, { name: "resnet", version: "2" }), status.NOT_FOUND);
    await rejectsWith(call(client, client.modelStatistics, { name: "nope", version: "" }), status.NOT_FOUND);
    await rejectsWith(
      call(client, client.repositoryModelUnload, { repositoryName: "", modelName: "nope", parameters: {} }),
      status.NOT_FOUND,
    );
  });

  it("wrong input name: INVALID_ARGUMENT naming it and the expected inputs", async () => {
    const req = rawRequest(resnet);
    req.inputs[0]!.name = "pixels";
    await rejectsWith(
      infer(req),
      status.INVALID_ARGUMENT,
      /unexpected inference input 'pixels'/,
      /expected inputs: input/,
    );
  });

  it("missing input: INVALID_ARGUMENT naming it with its datatype and shape", async () => {
    const req = rawRequest(bert);
    req.inputs.pop();
    req.rawInputContents.pop();
    await rejectsWith(infer(req), status.INVALID_ARGUMENT, /input 'token_type_ids' \(INT64 \[-1,384\]\)/, /missing/);
  });

  it("wrong datatype: INVALID_ARGUMENT with the expected datatype", async () => {
    const req = rawRequest(resnet);
    req.inputs[0]!.datatype = "FP16";
    req.rawInputContents[0] = req.rawInputContents[0]!.subarray(0, 3 * 224 * 224 * 2);
    await rejectsWith(infer(req), status.INVALID_ARGUMENT, /input 'input'.*datatype FP16, expected FP32/);
  });

  it("unknown datatype: INVALID_ARGUMENT listing the datatypes", async () => {
    const req = rawRequest(resnet);
    req.inputs[0]!.datatype = "FLOAT";
    await rejectsWith(infer(req), status.INVALID_ARGUMENT, /unknown datatype 'FLOAT'/, /FP32/);
  });

  it("wrong shape: INVALID_ARGUMENT with the expected shape", async () => {
    const req = rawRequest(resnet);
    req.inputs[0]!.shape = [1, 3, 224, 225];
    req.rawInputContents[0] = Buffer.alloc(3 * 224 * 225 * 4);
    await rejectsWith(infer(req), status.INVALID_ARGUMENT, /shape \[1,3,224,225\], expected \[-1,3,224,224\]/);
  });

  it("raw byte size that does not match the shape: INVALID_ARGUMENT with the expected size", async () => {
    const req = rawRequest(resnet);
    req.rawInputContents[0] = Buffer.alloc(1000);
    await rejectsWith(infer(req), status.INVALID_ARGUMENT, /input 'input'.*1000 bytes of data, expected 602112/);
  });

  it("contents count that does not match the shape: INVALID_ARGUMENT with the expected count", async () => {
    const req: ModelInferRequest = {
      ...rawRequest(resnet),
      rawInputContents: [],
    };
    req.inputs[0]!.contents = { ...noContents, fp32Contents: [1, 2, 3] };
    await rejectsWith(
      infer(req),
      status.INVALID_ARGUMENT,
      /input 'input' has 3 elements in fp32_contents, expected 150528/,
    );
  });

  it("contents in the wrong field, or FP16 as typed contents: INVALID_ARGUMENT", async () => {
    const req: ModelInferRequest = { ...rawRequest(resnet), rawInputContents: [] };
    req.inputs[0]!.contents = { ...noContents, intContents: [1] };
    await rejectsWith(infer(req), status.INVALID_ARGUMENT, /must carry its data in fp32_contents, not int_contents/);
    req.inputs[0]!.datatype = "FP16";
    await rejectsWith(infer(req), status.INVALID_ARGUMENT, /FP16.*send it in raw_input_contents/);
  });

  it("raw_input_contents not one per input: INVALID_ARGUMENT", async () => {
    const req = rawRequest(bert);
    req.rawInputContents.pop();
    await rejectsWith(infer(req), status.INVALID_ARGUMENT, /raw_input_contents has 2 entries for 3 inputs/);
  });

  it("batch above the model's max batch size: INVALID_ARGUMENT with the limit", async () => {
    const req = rawRequest(resnet, 33);
    await rejectsWith(infer(req), status.INVALID_ARGUMENT, /batch size 33, expected 1 to 32/);
  });

  it("inputs disagreeing on the batch size: INVALID_ARGUMENT", async () => {
    const req = rawRequest(bert, 2);
    req.inputs[2]!.shape = [1, 384];
    req.rawInputContents[2] = Buffer.alloc(384 * 8);
    await rejectsWith(infer(req), status.INVALID_ARGUMENT, /all inputs must share the batch size/);
  });

  it("unknown requested output: INVALID_ARGUMENT naming the outputs", async () => {
    const req = rawRequest(resnet, 1, { outputs: [{ name: "probs", parameters: {} }] });
    await rejectsWith(infer(req), status.INVALID_ARGUMENT, /unexpected inference output 'probs'.*output/);
  });

  it("loading a model that does not exist: NOT_FOUND; a malformed config: INVALID_ARGUMENT", async () => {
    await rejectsWith(
      call(client, client.repositoryModelLoad, { repositoryName: "", modelName: "ghost", parameters: {} }),
      status.NOT_FOUND,
      /ghost/,
    );
    await rejectsWith(
      call(client, client.repositoryModelLoad, {
        repositoryName: "",
        modelName: "ghost",
        parameters: { config: { parameterChoice: { $case: "stringParam", value: "{" } } },
      }),
      status.INVALID_ARGUMENT,
      /not valid JSON/,
    );
  });
});

describe("KServe v2 gRPC message size limits", () => {
  let server: DecoyServer;
  let client: GRPCInferenceServiceClient;
  before(async () => {
    server = await startTestServer({ grpcMaxMessageSizeMb: 1, modelLatencyMs: 1 });
    client = inferenceClient(server.grpcAddress);
  });
  after(async () => {
    client.close();
    await server.close();
  });

  it("rejects an oversized message (a yolo image) with RESOURCE_EXHAUSTED and keeps serving", async () => {
    const yolo = await call(client, client.modelMetadata, { name: "yolo", version: "" });
    await rejectsWith(call(client, client.modelInfer, rawRequest(yolo)), status.RESOURCE_EXHAUSTED);
    const resnet = await call(client, client.modelMetadata, { name: "resnet", version: "" });
    const ok = await call(client, client.modelInfer, rawRequest(resnet));
    assert.equal(ok.outputs[0]!.name, "output");
  });
});
