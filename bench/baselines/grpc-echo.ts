/**
 * Bare grpc-js ceiling for ModelInfer: identity (de)serializers, so the request is never
 * decoded, and a canned reply per model (`--response resnet=file.bin`), the bytes Decoy
 * answered with, so both servers move the same bytes. The model is read from field 1 of the
 * request without decoding the rest.
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { Server, ServerCredentials, type ServerUnaryCall, type sendUnaryData, status } from "@grpc/grpc-js";

const { values: a } = parseArgs({
  options: { port: { type: "string", default: "0" }, response: { type: "string", multiple: true, default: [] } },
});

const replies = new Map<string, Buffer>();
for (const spec of a.response ?? []) {
  const [name, file] = spec.split("=");
  replies.set(name as string, readFileSync(file as string));
}

/** model_name is field 1 (tag 0x0a), normally the first field on the wire. */
function modelName(buf: Buffer): string {
  if (buf[0] !== 0x0a) return "";
  let len = 0;
  let shift = 0;
  let i = 1;
  for (; i < 6; i++) {
    const b = buf[i] as number;
    len |= (b & 0x7f) << shift;
    shift += 7;
    if (!(b & 0x80)) break;
  }
  return buf.toString("utf8", i + 1, i + 1 + len);
}

const identity = (b: Buffer) => b;
const server = new Server({ "grpc.max_receive_message_length": -1, "grpc.max_send_message_length": -1 });
server.addService(
  {
    ModelInfer: {
      path: "/inference.GRPCInferenceService/ModelInfer",
      requestStream: false,
      responseStream: false,
      requestSerialize: identity,
      requestDeserialize: identity,
      responseSerialize: identity,
      responseDeserialize: identity,
    },
  },
  {
    ModelInfer: (call: ServerUnaryCall<Buffer, Buffer>, cb: sendUnaryData<Buffer>) => {
      const reply = replies.get(modelName(call.request));
      if (reply) cb(null, reply);
      else cb({ code: status.NOT_FOUND, details: `no canned reply for model "${modelName(call.request)}"` });
    },
  },
);
server.bindAsync(`127.0.0.1:${a.port}`, ServerCredentials.createInsecure(), (err, port) => {
  if (err) {
    process.stderr.write(`${err.message}\n`);
    process.exit(1);
  }
  process.stdout.write(`ready grpc 127.0.0.1:${port}\n`);
});
const stop = () => {
  server.tryShutdown(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
