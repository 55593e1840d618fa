import assert from "node:assert/strict";
import { test } from "node:test";
import { csvCell, csvRow } from "../../src/loadgen/common/csv.js";
import { cdfPoints, linearRegression, percentile, summarize } from "../../src/loadgen/common/stats.js";
import { lineChart, niceStep } from "../../src/loadgen/common/svg.js";

test("percentiles interpolate linearly between ranks, like numpy.percentile", () => {
  const v = [1, 2, 3, 4];
  assert.equal(percentile(v, 50), 2.5);
  assert.equal(percentile(v, 90), 3.7);
  assert.equal(percentile(v, 0), 1);
  assert.equal(percentile(v, 100), 4);
  assert.equal(percentile([7], 99), 7);
  assert.ok(Number.isNaN(percentile([], 50)));
});

test("summary: sorted numerically, population std, non-finite values ignored", () => {
  const s = summarize([10, 2, 30, Number.NaN, 4]);
  assert.ok(s);
  assert.equal(s.count, 4);
  assert.equal(s.min, 2);
  assert.equal(s.max, 30);
  assert.equal(s.avg, 11.5);
  assert.equal(s.p50, 7);
  assert.ok(
    Math.abs(s.std - Math.sqrt(((10 - 11.5) ** 2 + (2 - 11.5) ** 2 + (30 - 11.5) ** 2 + (4 - 11.5) ** 2) / 4)) < 1e-12,
  );
  assert.equal(summarize([]), undefined);
});

test("regression recovers a line; CDF ends at 1", () => {
  const r = linearRegression([0, 1, 2, 3], [1, 3, 5, 7]);
  assert.ok(r);
  assert.ok(Math.abs(r.slope - 2) < 1e-12 && Math.abs(r.intercept - 1) < 1e-12 && Math.abs(r.r2 - 1) < 1e-12);
  assert.equal(linearRegression([1, 1], [2, 3]), undefined);
  const cdf = cdfPoints(
    Array.from({ length: 1000 }, (_, i) => i),
    100,
  );
  assert.ok(cdf.length <= 101);
  assert.deepEqual(cdf[cdf.length - 1], [999, 1]);
});

test("CSV quoting and chart output", () => {
  assert.equal(csvCell('a "b", c'), '"a ""b"", c"');
  assert.equal(csvRow([1, undefined, "x", Number.NaN]), "1,,x,\n");
  assert.equal(niceStep(97), 20);
  assert.equal(niceStep(0.9), 0.2);
  const svg = lineChart({
    title: "t <1>",
    xLabel: "x",
    yLabel: "y",
    series: [
      {
        name: "s",
        points: [
          [0, 1],
          [1, 2],
        ],
      },
    ],
  });
  assert.match(svg, /^<svg /);
  assert.match(svg, /t &lt;1&gt;/);
  assert.match(lineChart({ title: "empty", xLabel: "x", yLabel: "y", series: [] }), /<\/svg>/);
});
