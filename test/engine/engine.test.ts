import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { DecoyError } from "../../src/engine/errors.js";
import { fakeLlm } from "../llm/helpers.js";

describe("Engine in-flight registry", () => {
  it("the drain deadline cancels exactly the work still in flight, across reused slots", async () => {
    const { engine } = fakeLlm();
    const cancelled: string[] = [];
    const unit = (name: string) => engine.begin((reason: DecoyError) => cancelled.push(`${name}:${reason.code}`));
    const a = unit("a");
    const b = unit("b");
    const c = unit("c");
    b();
    b(); // a second release changes nothing
    const d = unit("d"); // takes b's slot
    a();
    const plain = engine.begin(); // no canceller: counted, never cancelled
    assert.equal(engine.inflightUnits, 3);
    assert.equal(engine.inflightCount, 3);
    assert.equal(await engine.drain(1), 2);
    assert.deepEqual(cancelled.sort(), ["c:UNAVAILABLE", "d:UNAVAILABLE"]);
    c();
    d();
    plain();
    assert.equal(engine.inflightUnits, 0);
    assert.throws(() => engine.begin(), /shutting down/);
  });

  it("drains at once when nothing is in flight, and waits for work that finishes in time", async () => {
    const { engine } = fakeLlm();
    const release = engine.begin(() => assert.fail("finished work is never cancelled"));
    const drained = engine.drain(60_000);
    setImmediate(release);
    assert.equal(await drained, 0);
  });
});
