import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { FastifyReply, FastifyRequest } from "fastify";
import type { AppContext } from "../../context.js";
import { DecoyError } from "../../engine/errors.js";
import { EXPOSITION_CONTENT_TYPE } from "../../telemetry/telemetry.js";
import { openAiErrorBody } from "../errors.js";
import type { OperationHandlers } from "../types.js";

type Render = () => string | Promise<string>;

function renderers(ctx: AppContext): Record<string, Render> {
  return {
    "/metrics": () => ctx.telemetry.render(),
    "/dcgm1/metrics": () => ctx.telemetry.renderDcgm(1),
    "/dcgm2/metrics": () => ctx.telemetry.renderDcgm(2),
  };
}

/** Prometheus scrape targets: vLLM + Triton + process metrics, and the two dcgm-exporters. */
export function metricsHandlers(ctx: AppContext): OperationHandlers {
  const r = renderers(ctx);
  const handler = (render: Render) => async (_req: FastifyRequest, reply: FastifyReply) =>
    reply.header("content-type", EXPOSITION_CONTENT_TYPE).send(await render());
  return {
    getMetrics: handler(r["/metrics"] as Render),
    getDcgm1Metrics: handler(r["/dcgm1/metrics"] as Render),
    getDcgm2Metrics: handler(r["/dcgm2/metrics"] as Render),
  };
}

export interface MetricsServer {
  port: number;
  close(): Promise<void>;
}

/**
 * `--metrics-port`: the scrape targets on a port of their own, as Triton serves /metrics on 8002.
 * A bare node:http listener: three fixed GET routes need none of the API app's machinery, and it
 * keeps answering while the main app drains.
 */
export async function startMetricsServer(ctx: AppContext, host: string, port: number): Promise<MetricsServer> {
  const routes = renderers(ctx);
  const json = (res: ServerResponse, status: number, body: unknown): void => {
    const text = JSON.stringify(body);
    res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
    res.end(text);
  };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? "/").split("?")[0] as string;
    const render = routes[path];
    if (!render || (req.method !== "GET" && req.method !== "HEAD")) {
      const err = new DecoyError("NOT_FOUND", `Route ${req.method} ${path} not found.`);
      json(res, 404, openAiErrorBody(err));
      return;
    }
    Promise.resolve()
      .then(render)
      .then(
        (text) => {
          res.writeHead(200, {
            "content-type": EXPOSITION_CONTENT_TYPE,
            "content-length": Buffer.byteLength(text),
          });
          res.end(req.method === "HEAD" ? undefined : text);
        },
        () => json(res, 500, openAiErrorBody(new DecoyError("INTERNAL", "Internal server error."))),
      );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
