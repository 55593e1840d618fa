/** A minimal KServe v2 gRPC server for the loadgen tests: metadata plus a validating ModelInfer. */
import { Server, ServerCredentials, type ServiceError, status, type UntypedServiceImplementation } from "@grpc/grpc-js";
import {
  GRPCInferenceServiceService,
  type ModelInferRequest,
  type ModelInferResponse,
  type ModelMetadataResponse,
} from "../../gen/proto/inference/grpc_service.js";

const MODELS: Record<string, ModelMetadataResponse> = {
  resnet: {
    name: "resnet",
    versions: ["1"],
    platform: "onnxruntime_onnx",
    inputs: [{ name: "input", datatype: "FP32", shape: [-1, 3, 224, 224] }],
    outputs: [{ name: "output", datatype: "FP32", shape: [-1, 1000] }],
  },
  bert: {
    name: "bert",
    versions: ["1"],
    platform: "onnxruntime_onnx",
    inputs: [
      { name: "input_ids", datatype: "INT64", shape: [-1, 384] },
      { name: "attention_mask", datatype: "INT64", shape: [-1, 384] },
      { name: "token_type_ids", datatype: "INT64", shape: [-1, 384] },
    ],
    outputs: [
      { name: "start_logits", datatype: "FP32", shape: [-1, 384] },
      { name: "end_logits", datatype: "FP32", shape: [-1, 384] },
    ],
  },
};

const SIZE: Record<string, number> = { FP32: 4, INT64: 8 };

function fail(code: status, details: string): Partial<ServiceError> {
  return { code, details, message: details };
}

export interface FakeGrpcServer {
  address: string;
  calls: number;
  close(): Promise<void>;
}

export async function startFakeGrpcServer(latencyMs = 3): Promise<FakeGrpcServer> {
  const server = new Server({ "grpc.max_receive_message_length": -1 });
  const state: FakeGrpcServer = { address: "", calls: 0, close: async () => {} };
  const impl = {
    modelMetadata: (
      call: { request: { name: string } },
      cb: (e: Partial<ServiceError> | null, r?: ModelMetadataResponse) => void,
    ) => {
      const m = MODELS[call.request.name];
      if (!m) cb(fail(status.NOT_FOUND, `model ${call.request.name} not found`));
      else cb(null, m);
    },
    modelInfer: (
      call: { request: ModelInferRequest },
      cb: (e: Partial<ServiceError> | null, r?: ModelInferResponse) => void,
    ) => {
      state.calls++;
      const req = call.request;
      const m = MODELS[req.modelName];
      if (!m) return cb(fail(status.NOT_FOUND, "no model"));
      if (req.rawInputContents.length !== m.inputs.length)
        return cb(fail(status.INVALID_ARGUMENT, "raw contents count"));
      for (const [i, want] of m.inputs.entries()) {
        const got = req.inputs[i];
        const n = want.shape.map((d) => (d < 0 ? 1 : d)).reduce((a, b) => a * b, 1) * (SIZE[want.datatype] ?? 4);
        if (!got || got.name !== want.name || req.rawInputContents[i]?.length !== n)
          return cb(fail(status.INVALID_ARGUMENT, `input ${want.name}`));
      }
      setTimeout(
        () =>
          cb(null, {
            modelName: req.modelName,
            modelVersion: "1",
            id: req.id,
            parameters: {},
            outputs: m.outputs.map((o) => ({ name: o.name, datatype: o.datatype, shape: [1, 1], parameters: {} })),
            rawOutputContents: m.outputs.map(() => Buffer.alloc(4)),
          }),
        latencyMs,
      );
    },
  };
  server.addService(GRPCInferenceServiceService, impl as unknown as UntypedServiceImplementation);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  state.address = `127.0.0.1:${port}`;
  state.close = () => new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
  return state;
}
