import assert from "node:assert/strict";
import { describe, it } from "node:test";
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
});
