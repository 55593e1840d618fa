import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { cppDouble, goFloat, pythonRepr, renderFamilies } from "../../src/telemetry/exposition.js";
import { build125Buckets } from "../../src/telemetry/vllm-metrics.js";
import { parseExposition } from "./prom-text.js";

describe("exposition: numbers printed like the originals' client libraries", () => {
  it("python dialect matches prometheus_client's floatToGoString (values and le)", () => {
    // Expected strings are what CPython 3 + prometheus_client print for these floats.
    const cases: Array<[number, string]> = [
      [0, "0.0"],
      [1, "1.0"],
      [2.5, "2.5"],
      [0.001, "0.001"],
      [0.0001, "0.0001"],
      [0.00001, "1e-05"],
      [1234, "1234.0"],
      [123456, "123456.0"],
      [1000000, "1e+06"],
      [444810000, "4.4481e+08"],
      [1776930173.6864316, "1.7769301736864316e+09"],
      [12345678.9, "1.23456789e+07"],
      [1e16, "1e+16"],
      [-2.5, "-2.5"],
      [0.1 + 0.2, "0.30000000000000004"],
      [Number.POSITIVE_INFINITY, "+Inf"],
      [Number.NaN, "NaN"],
    ];
    for (const [v, s] of cases) assert.equal(goFloat(v), s, `goFloat(${v})`);
    assert.equal(pythonRepr(1e22), "1e+22");
    assert.equal(pythonRepr(123456789012345.6), "123456789012345.6");
  });

  it("cpp dialect matches prometheus-cpp (ostream, precision 16)", () => {
    const cases: Array<[number, string]> = [
      [0, "0"],
      [268435456, "268435456"],
      [0.02255639097744361, "0.02255639097744361"],
      [0.1, "0.1"],
      [1 / 3, "0.3333333333333333"],
      [68.211, "68.211"],
      [1.2345678901234568e17, "1.234567890123457e+17"],
      [0.00001, "1e-05"],
      [Number.POSITIVE_INFINITY, "+Inf"],
    ];
    for (const [v, s] of cases) assert.equal(cppDouble(v), s, `cppDouble(${v})`);
  });

  it("vLLM's 1-2-5 buckets stop at max_model_len", () => {
    assert.deepEqual(build125Buckets(100), [1, 2, 5, 10, 20, 50, 100]);
    assert.deepEqual(build125Buckets(1024), [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000]);
    assert.deepEqual(build125Buckets(1), [1]);
  });

  it("python dialect sorts labels, orders histogram samples and adds _created families", () => {
    const text = renderFamilies(
      [
        {
          name: "x:requests_total",
          help: "Requests.",
          type: "counter",
          values: [{ value: 3, labels: { model_name: "m", engine: "0" } }],
        },
        {
          name: "x:latency_seconds",
          help: "Latency.",
          type: "histogram",
          values: [
            { value: 0.5, labels: { model_name: "m" }, metricName: "x:latency_seconds_sum" },
            { value: 2, labels: { le: "+Inf", model_name: "m" }, metricName: "x:latency_seconds_bucket" },
            { value: 1, labels: { le: 1, model_name: "m" }, metricName: "x:latency_seconds_bucket" },
            { value: 2, labels: { model_name: "m" }, metricName: "x:latency_seconds_count" },
          ],
        },
      ],
      { dialect: "python", created: () => 1700000000.25 },
    );
    assert.equal(
      text,
      [
        "# HELP x:requests_total Requests.",
        "# TYPE x:requests_total counter",
        'x:requests_total{engine="0",model_name="m"} 3.0',
        "# HELP x:requests_created Requests.",
        "# TYPE x:requests_created gauge",
        'x:requests_created{engine="0",model_name="m"} 1.70000000025e+09',
        "# HELP x:latency_seconds Latency.",
        "# TYPE x:latency_seconds histogram",
        'x:latency_seconds_bucket{le="1.0",model_name="m"} 1.0',
        'x:latency_seconds_bucket{le="+Inf",model_name="m"} 2.0',
        'x:latency_seconds_count{model_name="m"} 2.0',
        'x:latency_seconds_sum{model_name="m"} 0.5',
        "# HELP x:latency_seconds_created Latency.",
        "# TYPE x:latency_seconds_created gauge",
        'x:latency_seconds_created{model_name="m"} 1.70000000025e+09',
        "",
      ].join("\n"),
    );
    parseExposition(text);
  });

  it("escapes label values and HELP text", () => {
    const text = renderFamilies(
      [{ name: "g", help: "a\\b\nc", type: "gauge", values: [{ value: 1, labels: { v: 'q"\\\n' } }] }],
      { dialect: "cpp" },
    );
    assert.equal(text, '# HELP g a\\\\b\\nc\n# TYPE g gauge\ng{v="q\\"\\\\\\n"} 1\n');
    const e = parseExposition(text);
    assert.equal(e.families.get("g")?.samples[0]?.labels.v, 'q"\\\n');
  });
});
