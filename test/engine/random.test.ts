import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Random } from "../../src/engine/random.js";

describe("seeded random", () => {
  it("the same seed gives the same sequence, another seed another", () => {
    const a = new Random(42);
    const b = new Random(42);
    const c = new Random(43);
    const sa = Array.from({ length: 20 }, () => a.next());
    assert.deepEqual(
      sa,
      Array.from({ length: 20 }, () => b.next()),
    );
    assert.notDeepEqual(
      sa,
      Array.from({ length: 20 }, () => c.next()),
    );
  });

  it("uniform values stay in [0,1) with a mean near 0.5", () => {
    const r = new Random(1);
    let sum = 0;
    for (let i = 0; i < 20000; i++) {
      const x = r.next();
      assert.ok(x >= 0 && x < 1);
      sum += x;
    }
    assert.ok(Math.abs(sum / 20000 - 0.5) < 0.01);
  });

  it("normal samples have the requested mean and standard deviation", () => {
    const r = new Random(7);
    const xs = Array.from({ length: 20000 }, () => r.normal(10, 2));
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    const sd = Math.sqrt(xs.reduce((s, x) => s + (x - mean) ** 2, 0) / xs.length);
    assert.ok(Math.abs(mean - 10) < 0.05, `mean ${mean}`);
    assert.ok(Math.abs(sd - 2) < 0.05, `sd ${sd}`);
  });

  it("forks are independent of later draws on the parent", () => {
    const a = new Random(5);
    const fa = a.fork("x");
    const b = new Random(5);
    const fb = b.fork("x");
    b.next();
    assert.equal(fa.next(), fb.next());
    assert.notEqual(new Random(5).fork("x").next(), new Random(5).fork("y").next());
  });
});
