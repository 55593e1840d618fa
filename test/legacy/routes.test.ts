import assert from "node:assert/strict";
import { connect } from "node:net";
import { after, before, describe, it } from "node:test";
import type { DecoyServer } from "../../src/server.js";
import { startTestServer } from "../helpers/server.js";

type Json = Record<string, unknown>;

describe("legacy routes keep the seed's shapes", () => {
  let server: DecoyServer;
  let url: string;
  const call = async (method: string, path: string, body?: string, type = "application/json") => {
    const t = performance.now();
    const r = await fetch(
      url + path,
      body === undefined ? { method } : { method, body, headers: { "content-type": type } },
    );
    return { status: r.status, body: (await r.json()) as Json, ms: performance.now() - t };
  };
  before(async () => {
    server = await startTestServer({ sleep: 0.05 });
    url = server.httpUrl;
  });
  after(async () => {
    await server.close();
  });

  it("GET /health/ lists the three models", async () => {
    assert.deepEqual(await call("GET", "/health/").then((r) => r.body), {
      status: "ok",
      models: ["resnet", "yolo", "bert"],
    });
  });

  it("/resnet/ answers {model, class_id, class_label, score} after --sleep", async () => {
    for (const method of ["GET", "POST"]) {
      const r = await call(method, "/resnet/", method === "POST" ? '{"image": "x"}' : undefined);
      assert.equal(r.status, 200);
      assert.deepEqual(Object.keys(r.body).sort(), ["class_id", "class_label", "model", "score"]);
      assert.equal(r.body.model, "resnet");
      assert.ok(Number.isInteger(r.body.class_id) && (r.body.class_id as number) < 1000);
      assert.equal(typeof r.body.class_label, "string");
      assert.ok((r.body.score as number) > 0.5 && (r.body.score as number) <= 1);
      assert.ok(r.ms >= 45, `answered after ${r.ms} ms`);
    }
  });

  it("/yolo/ answers {model, detections: [{bbox, score, category_id}]}", async () => {
    for (const method of ["GET", "POST"]) {
      const r = await call(method, "/yolo/", method === "POST" ? "{}" : undefined);
      assert.equal(r.body.model, "yolo");
      const dets = r.body.detections as { bbox: number[]; score: number; category_id: number }[];
      assert.ok(dets.length >= 1);
      for (const d of dets) {
        assert.deepEqual(Object.keys(d).sort(), ["bbox", "category_id", "score"]);
        const [ymin, xmin, ymax, xmax] = d.bbox as [number, number, number, number];
        assert.ok(ymin >= 0 && xmin >= 0 && ymax <= 1 && xmax <= 1 && ymin < ymax && xmin < xmax, `${d.bbox}`);
        assert.ok(d.score > 0 && d.score < 1);
        assert.ok(Number.isInteger(d.category_id) && d.category_id >= 1 && d.category_id <= 80);
      }
    }
  });

  it("/bert/ answers {model, start, end, answer, score} with start <= end", async () => {
    for (const method of ["GET", "POST"]) {
      const r = await call(method, "/bert/", method === "POST" ? '{"question": "who?", "context": "me"}' : undefined);
      assert.deepEqual(Object.keys(r.body).sort(), ["answer", "end", "model", "score", "start"]);
      assert.equal(r.body.model, "bert");
      assert.ok((r.body.start as number) <= (r.body.end as number));
      assert.ok((r.body.answer as string).length > 0);
    }
  });

  it("derives results deterministically from the body, whatever its content type", async () => {
    const a = await call("POST", "/resnet/", '{"image": 1}');
    const b = await call("POST", "/resnet/", '{"image": 1}');
    assert.deepEqual(a.body, b.body);
    const classes = new Set<unknown>();
    for (let i = 0; i < 6; i++) classes.add((await call("POST", "/resnet/", `{"image": ${i}}`)).body.class_id);
    assert.ok(classes.size >= 4);
    const form = await call("POST", "/yolo/", "a=1&b=2", "application/x-www-form-urlencoded");
    assert.equal(form.status, 200);
    const bin = await call("POST", "/bert/", "\u0000\u0001binary", "application/octet-stream");
    assert.equal(bin.status, 200);
  });

  it("errors use the legacy {detail} shape", async () => {
    const missing = await call("GET", "/resnet/extra");
    assert.deepEqual(missing, { ...missing, status: 404, body: { detail: "Not Found" } });
    const bad = await call("POST", "/resnet/", "{broken");
    assert.equal(bad.status, 400);
    assert.deepEqual(Object.keys(bad.body), ["detail"]);
  });
});

describe("legacy --sleep on the engine clock", () => {
  it("1,000 concurrent requests at 0.5 s all finish in about 0.5 s, not serialized", async () => {
    const server = await startTestServer({ sleep: 0.5 });
    // Raw sockets keep the client's own overhead out of the measurement.
    const latencies: number[] = [];
    const get = (path: string) =>
      new Promise<string>((resolve, reject) => {
        let sent = 0;
        const sock = connect(server.httpPort, "127.0.0.1", () => {
          sent = performance.now();
          sock.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
        });
        let text = "";
        sock.setEncoding("latin1");
        sock.on("data", (d) => (text += d));
        sock.on("end", () => {
          latencies.push(performance.now() - sent);
          resolve(text);
        });
        sock.on("error", reject);
      });
    try {
      const t = performance.now();
      const paths = ["/resnet/", "/yolo/", "/bert/"];
      const res = await Promise.all(Array.from({ length: 1000 }, (_, i) => get(paths[i % 3]!)));
      const ms = performance.now() - t;
      assert.ok(
        res.every((r) => r.startsWith("HTTP/1.1 200")),
        "every request answered 200",
      );
      // Serialized, they would take 500 s; on an idle machine the whole batch takes ~0.7 s. The
      // bounds leave room for a loaded CI box.
      latencies.sort((a, b) => a - b);
      const median = latencies[500]!;
      assert.ok(latencies[0]! >= 490, `fastest ${Math.round(latencies[0]!)} ms`);
      assert.ok(median < 1000, `median request latency ${Math.round(median)} ms`);
      assert.ok(ms < 3000, `took ${Math.round(ms)} ms`);
    } finally {
      await server.close();
    }
  });

  it("--sleep can change at runtime through the configuration", async () => {
    const server = await startTestServer({ sleep: 0.5 });
    try {
      server.ctx.config.patch({ sleep: 0.01 });
      const t = performance.now();
      await (await fetch(`${server.httpUrl}/bert/`)).json();
      assert.ok(performance.now() - t < 300);
    } finally {
      await server.close();
    }
  });
});
