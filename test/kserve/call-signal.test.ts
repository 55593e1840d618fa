import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { CallSignal } from "../../src/engine/models/call-signal.js";

describe("CallSignal, the per-call cancellation signal of gRPC inference", () => {
  it("behaves like AbortSignal for the parts models use", () => {
    const c = new CallSignal();
    const s = c.signal;
    const seen: string[] = [];
    const a = () => seen.push("a");
    const b = () => seen.push("b");
    const gone = () => seen.push("removed");
    s.addEventListener("abort", a, { once: true });
    s.addEventListener("abort", a);
    s.addEventListener("abort", gone);
    s.addEventListener("abort", { handleEvent: b });
    s.removeEventListener("abort", gone);
    assert.equal(s.aborted, false);
    s.throwIfAborted();
    const reason = new Error("client went away");
    c.abort(reason);
    c.abort(new Error("second"));
    assert.deepEqual(seen, ["a", "b"], "each listener once, in order; removed ones never");
    assert.equal(s.aborted, true);
    assert.equal(s.reason, reason);
    assert.throws(() => s.throwIfAborted(), /client went away/);
    s.addEventListener("abort", gone);
    assert.deepEqual(seen, ["a", "b"], "listeners added after the abort never run");
  });

  it("gives an AbortError reason when aborted without one", () => {
    const c = new CallSignal();
    c.abort();
    assert.equal((c.reason as DOMException).name, "AbortError");
  });

  it("hands the engine a canceller that aborts the call but does not keep the request alive", async () => {
    setFlagsFromString("--expose-gc");
    const gc = runInNewContext("gc") as () => void;
    const registry = new Set<(reason: unknown) => void>();
    let ref: WeakRef<object> | undefined;
    let signal: CallSignal | undefined;
    // Shaped like the ModelInfer handler: the request is captured by a closure of the same
    // scope as the registration, so an inline arrow would share (and keep) its context.
    (() => {
      const req = { raw: Buffer.alloc(1 << 20) };
      ref = new WeakRef(req);
      const ac = new CallSignal();
      signal = ac;
      registry.add(ac.canceller());
      const respond = () => req.raw.length;
      respond();
    })();
    for (let i = 0; i < 3 && ref?.deref() !== undefined; i++) {
      await new Promise((r) => setImmediate(r));
      gc();
    }
    assert.equal(ref?.deref(), undefined, "the registered canceller holds the request");
    const reason = new Error("draining");
    for (const cancel of registry) cancel(reason);
    assert.equal(signal?.aborted, true);
    assert.equal(signal?.reason, reason);
  });
});
