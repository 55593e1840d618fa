import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { PROJECT_ROOT } from "../version.js";
import type { ErrorStyle } from "./errors.js";

type Json = Record<string, unknown>;

const METHODS = ["get", "post", "put", "patch", "delete", "head", "options"] as const;

/** One operation of one OpenAPI document, ready to become a fastify route. */
export interface Operation {
  document: string;
  operationId: string;
  method: Uppercase<(typeof METHODS)[number]>;
  /** OpenAPI path template (`/v1/models/{model}`). */
  path: string;
  /** fastify URL (`/v1/models/:model`). */
  url: string;
  errorStyle: ErrorStyle;
  /** `x-decoy-drain-exempt: true`: probes and scrapes that must answer while draining. */
  drainExempt: boolean;
  schema: {
    body?: Json;
    params?: Json;
    querystring?: Json;
    response?: Record<string, Json>;
  };
  /** Content types the request body may have. */
  bodyTypes: string[];
}

export interface SpecDocument {
  name: string;
  doc: Json;
  errorStyle: ErrorStyle;
}

/** The dereferenced documents from gen/schemas (written by `npm run generate`). */
export function loadSpecDocuments(dir = join(PROJECT_ROOT, "gen", "schemas")): SpecDocument[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith(".json"))
    .sort()
    .map((f) => {
      const doc = JSON.parse(readFileSync(join(dir, f), "utf8")) as Json;
      const errorStyle = (doc["x-decoy-error-style"] as ErrorStyle | undefined) ?? "openai";
      return { name: f.replace(/\.json$/, ""), doc, errorStyle };
    });
}

function paramsSchema(params: Json[], where: "path" | "query"): Json | undefined {
  const list = params.filter((p) => p.in === where);
  if (list.length === 0) return undefined;
  const properties: Json = {};
  const required: string[] = [];
  for (const p of list) {
    properties[p.name as string] = (p.schema as Json | undefined) ?? { type: "string" };
    if (p.required) required.push(p.name as string);
  }
  return { type: "object", properties, required };
}

export function operationsOf(spec: SpecDocument): Operation[] {
  const ops: Operation[] = [];
  const paths = (spec.doc.paths ?? {}) as Record<string, Json>;
  for (const [path, item] of Object.entries(paths)) {
    const shared = (item.parameters as Json[] | undefined) ?? [];
    for (const m of METHODS) {
      const op = item[m] as Json | undefined;
      if (!op) continue;
      const params = [...shared, ...((op.parameters as Json[] | undefined) ?? [])];
      const schema: Operation["schema"] = {};
      const p = paramsSchema(params, "path");
      if (p) schema.params = p;
      const q = paramsSchema(params, "query");
      if (q) schema.querystring = q;
      const reqBody = op.requestBody as Json | undefined;
      const content = (reqBody?.content ?? {}) as Record<string, Json>;
      const bodyTypes = Object.keys(content);
      if (bodyTypes.length === 1 && bodyTypes[0] === "application/json" && content["application/json"]?.schema) {
        schema.body = content["application/json"].schema as Json;
      } else if (bodyTypes.length > 0) {
        // Per-content-type validation: JSON bodies are checked, raw bodies pass through.
        const byType: Json = {};
        for (const [type, media] of Object.entries(content)) {
          byType[type] = { schema: type.includes("json") ? ((media.schema as Json | undefined) ?? {}) : {} };
        }
        schema.body = { content: byType };
      }
      const response: Record<string, Json> = {};
      for (const [status, res] of Object.entries((op.responses ?? {}) as Record<string, Json>)) {
        const json = ((res.content ?? {}) as Record<string, Json>)["application/json"];
        if (json?.schema) response[status] = json.schema as Json;
      }
      if (Object.keys(response).length) schema.response = response;
      ops.push({
        document: spec.name,
        operationId: op.operationId as string,
        method: m.toUpperCase() as Operation["method"],
        path,
        url: path.replace(/\{([^}]+)\}/g, ":$1"),
        errorStyle: ((op["x-decoy-error-style"] as ErrorStyle | undefined) ?? spec.errorStyle) as ErrorStyle,
        drainExempt: op["x-decoy-drain-exempt"] === true,
        schema,
        bodyTypes,
      });
    }
  }
  return ops;
}

export function allOperations(docs: SpecDocument[] = loadSpecDocuments()): Operation[] {
  return docs.flatMap(operationsOf);
}
