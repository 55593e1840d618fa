import { credentials, type Metadata, type ServiceError } from "@grpc/grpc-js";
import { GRPCInferenceServiceClient, type InferTensorContents } from "../../gen/proto/inference/grpc_service.js";

export function inferenceClient(address: string): GRPCInferenceServiceClient {
  return new GRPCInferenceServiceClient(address, credentials.createInsecure(), {
    "grpc.max_receive_message_length": 256 * 1024 * 1024,
    "grpc.max_send_message_length": 256 * 1024 * 1024,
  });
}

type UnaryMethod<Req, Res> = (
  req: Req,
  metadata: Metadata,
  options: object,
  cb: (err: ServiceError | null, res: Res) => void,
) => unknown;

/** Promise wrapper for a generated unary method: `await call(client, client.serverLive, {})`. */
export function call<Req, Res>(client: object, method: UnaryMethod<Req, Res>, req: Req): Promise<Res> {
  return new Promise((resolve, reject) => {
    (method as unknown as (r: Req, cb: (err: ServiceError | null, res: Res) => void) => void).call(
      client,
      req,
      (err, res) => (err ? reject(err) : resolve(res)),
    );
  });
}

/** An InferTensorContents with every typed field empty; spread and set the one you need. */
export function emptyContents(): InferTensorContents {
  return {
    boolContents: [],
    intContents: [],
    int64Contents: [],
    uintContents: [],
    uint64Contents: [],
    fp32Contents: [],
    fp64Contents: [],
    bytesContents: [],
  };
}
