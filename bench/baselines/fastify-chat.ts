/**
 * Bare fastify ceiling for the non-streaming chat scenario (also the startup baseline): the
 * default JSON body parser, and a response schema inferred from a body captured from Decoy,
 * so fast-json-stringify writes the same bytes Decoy sends (fresh id and created per request).
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import Fastify from "fastify";

const { values: a } = parseArgs({
  options: { port: { type: "string", default: "0" }, response: { type: "string" }, path: { type: "string" } },
});

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

function inferSchema(v: Json): Record<string, unknown> {
  if (v === null) return { type: "null" };
  if (Array.isArray(v)) return { type: "array", items: v.length ? inferSchema(v[0] as Json) : {} };
  switch (typeof v) {
    case "string":
      return { type: "string" };
    case "boolean":
      return { type: "boolean" };
    case "number":
      return { type: Number.isInteger(v) ? "integer" : "number" };
    default: {
      const properties: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) properties[k] = inferSchema(x);
      return { type: "object", properties };
    }
  }
}

const sample = JSON.parse(a.response ? readFileSync(a.response, "utf8") : '{"id":"x","object":"ok"}') as Record<
  string,
  Json
>;
const idPrefix = typeof sample.id === "string" ? sample.id.replace(/[0-9a-f]+$/i, "") : "id-";
const idDigits = typeof sample.id === "string" ? sample.id.length - idPrefix.length : 16;
let counter = 0;

const app = Fastify({ logger: false });
app.get("/health", async () => ({ status: "ok" }));
app.post(a.path ?? "/v1/chat/completions", {
  schema: { response: { 200: inferSchema(sample) } },
  handler: async (req) => {
    // Touch the parsed body as a real handler would.
    const body = req.body as { model?: string } | undefined;
    counter++;
    return {
      ...sample,
      id: idPrefix + counter.toString(16).padStart(idDigits, "0"),
      created: Math.floor(Date.now() / 1000),
      model: body?.model ?? sample.model,
    };
  },
});

const address = await app.listen({ host: "127.0.0.1", port: Number(a.port) });
process.stdout.write(`ready ${address}\n`);
const stop = () => {
  app.close().then(() => process.exit(0));
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
