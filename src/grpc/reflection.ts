import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { DescriptorProto, FileDescriptorProto } from "@bufbuild/protobuf/wkt";
import type { ServerDuplexStream } from "@grpc/grpc-js";
import type * as v1 from "../../gen/proto/grpc/reflection/v1/reflection.js";
import { PROJECT_ROOT } from "../version.js";

interface ProtobufRuntime {
  fromBinary: typeof import("@bufbuild/protobuf").fromBinary;
  toBinary: typeof import("@bufbuild/protobuf").toBinary;
  FileDescriptorProtoSchema: typeof import("@bufbuild/protobuf/wkt").FileDescriptorProtoSchema;
  FileDescriptorSetSchema: typeof import("@bufbuild/protobuf/wkt").FileDescriptorSetSchema;
}

/**
 * gRPC server reflection (v1 and v1alpha) from the FileDescriptorSet that `buf build` wrote
 * to gen/descriptors.binpb. Serving buf's descriptors rather than ones rebuilt from a
 * proto-loader definition keeps map-entry and nested type names exactly as protoc emits them.
 */
export class DescriptorIndex {
  private readonly files = new Map<string, FileDescriptorProto>();
  private readonly encoded = new Map<string, Buffer>();
  private readonly fileBySymbol = new Map<string, string>();
  readonly services: string[] = [];

  private constructor(binary: Uint8Array, pb: ProtobufRuntime) {
    const { fromBinary, toBinary, FileDescriptorProtoSchema, FileDescriptorSetSchema } = pb;
    const set = fromBinary(FileDescriptorSetSchema, binary);
    for (const f of set.file) {
      this.files.set(f.name, f);
      this.encoded.set(f.name, Buffer.from(toBinary(FileDescriptorProtoSchema, f)));
      const pkg = f.package ? `${f.package}.` : "";
      const addMessages = (msgs: DescriptorProto[], prefix: string) => {
        for (const m of msgs) {
          const full = `${prefix}${m.name}`;
          this.fileBySymbol.set(full, f.name);
          for (const e of m.enumType) this.fileBySymbol.set(`${full}.${e.name}`, f.name);
          addMessages(m.nestedType, `${full}.`);
        }
      };
      addMessages(f.messageType, pkg);
      for (const e of f.enumType) this.fileBySymbol.set(`${pkg}${e.name}`, f.name);
      for (const s of f.service) {
        const full = `${pkg}${s.name}`;
        this.fileBySymbol.set(full, f.name);
        for (const m of s.method) this.fileBySymbol.set(`${full}.${m.name}`, f.name);
      }
    }
  }

  /**
   * Reads and indexes the descriptors. The protobuf runtime is imported here rather than at
   * module load: reflection is rarely used and the import is a sizeable share of startup.
   */
  static async load(path = join(PROJECT_ROOT, "gen", "descriptors.binpb")): Promise<DescriptorIndex> {
    const [base, wkt] = await Promise.all([import("@bufbuild/protobuf"), import("@bufbuild/protobuf/wkt")]);
    const pb: ProtobufRuntime = {
      fromBinary: base.fromBinary,
      toBinary: base.toBinary,
      FileDescriptorProtoSchema: wkt.FileDescriptorProtoSchema,
      FileDescriptorSetSchema: wkt.FileDescriptorSetSchema,
    };
    return new DescriptorIndex(readFileSync(path), pb);
  }

  /** A file and everything it imports, dependencies first is not required by clients. */
  closure(name: string): Buffer[] | undefined {
    if (!this.files.has(name)) return undefined;
    const out: Buffer[] = [];
    const seen = new Set<string>();
    const visit = (n: string) => {
      if (seen.has(n)) return;
      seen.add(n);
      const f = this.files.get(n);
      if (!f) return;
      out.push(this.encoded.get(n) as Buffer);
      for (const d of f.dependency) visit(d);
    };
    visit(name);
    return out;
  }

  fileForSymbol(symbol: string): string | undefined {
    return this.fileBySymbol.get(symbol.replace(/^\./, ""));
  }
}

type Stream = ServerDuplexStream<v1.ServerReflectionRequest, v1.ServerReflectionResponse>;

/**
 * One implementation for both reflection versions: their messages are wire-identical. The
 * descriptor index is built on the first reflection call; replies keep request order.
 */
export function reflectionHandler(loadIndex: () => Promise<DescriptorIndex>, services: string[]) {
  let indexPromise: Promise<DescriptorIndex> | undefined;
  return (call: Stream): void => {
    let chain: Promise<void> = Promise.resolve();
    call.on("data", (req: v1.ServerReflectionRequest) => {
      chain = chain.then(async () => {
        indexPromise ??= loadIndex();
        call.write(answer(await indexPromise, services, req));
      });
    });
    call.on("end", () => {
      chain.then(
        () => call.end(),
        () => call.end(),
      );
    });
    call.on("error", () => {
      /* the client went away; nothing to release */
    });
  };
}

function answer(
  index: DescriptorIndex,
  services: string[],
  req: v1.ServerReflectionRequest,
): v1.ServerReflectionResponse {
  const res: v1.ServerReflectionResponse = {
    validHost: req.host,
    originalRequest: req,
    messageResponse: undefined,
  };
  const notFound = (what: string) => {
    res.messageResponse = { $case: "errorResponse", value: { errorCode: 5, errorMessage: `${what} not found` } };
  };
  const mr = req.messageRequest;
  switch (mr?.$case) {
    case "listServices":
      res.messageResponse = {
        $case: "listServicesResponse",
        value: { service: services.map((name) => ({ name })) },
      };
      break;
    case "fileByFilename": {
      const files = index.closure(mr.value);
      if (files) res.messageResponse = { $case: "fileDescriptorResponse", value: { fileDescriptorProto: files } };
      else notFound(`file ${mr.value}`);
      break;
    }
    case "fileContainingSymbol": {
      const file = index.fileForSymbol(mr.value);
      const files = file ? index.closure(file) : undefined;
      if (files) res.messageResponse = { $case: "fileDescriptorResponse", value: { fileDescriptorProto: files } };
      else notFound(`symbol ${mr.value}`);
      break;
    }
    case "fileContainingExtension":
      notFound(`extension ${mr.value.containingType}#${mr.value.extensionNumber}`);
      break;
    case "allExtensionNumbersOfType":
      if (index.fileForSymbol(mr.value)) {
        res.messageResponse = {
          $case: "allExtensionNumbersResponse",
          value: { baseTypeName: mr.value, extensionNumber: [] },
        };
      } else notFound(`type ${mr.value}`);
      break;
    default:
      res.messageResponse = { $case: "errorResponse", value: { errorCode: 3, errorMessage: "empty request" } };
  }
  return res;
}
