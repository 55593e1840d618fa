import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { appendFileSync, cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { PROJECT_ROOT } from "../../src/version.js";

const run = promisify(execFile);

/** Run the gen drift check against a copy of the specs and gen/ in `root`. */
async function checkGen(root: string): Promise<{ ok: boolean; output: string }> {
  try {
    const r = await run(
      process.execPath,
      ["--import", "tsx", join(PROJECT_ROOT, "scripts/generate.ts"), "--check", "--root", root],
      {
        cwd: PROJECT_ROOT,
      },
    );
    return { ok: true, output: r.stdout + r.stderr };
  } catch (err) {
    const e = err as { stdout: string; stderr: string };
    return { ok: false, output: e.stdout + e.stderr };
  }
}

describe("gen/ drift check", { timeout: 120_000 }, () => {
  let root: string;
  before(() => {
    root = mkdtempSync(join(tmpdir(), "decoy-drift-"));
    for (const p of ["proto", "openapi", "gen", "buf.yaml", "buf.gen.yaml"]) {
      cpSync(join(PROJECT_ROOT, p), join(root, p), { recursive: true });
    }
    symlinkSync(join(PROJECT_ROOT, "node_modules"), join(root, "node_modules"));
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it("passes when gen/ matches the specs", async () => {
    const r = await checkGen(root);
    assert.ok(r.ok, r.output);
    assert.match(r.output, /gen\/ is up to date/);
  });

  it("fails when a proto changes without regenerating", async () => {
    const file = join(root, "proto/inference/grpc_service.proto");
    const original = readFileSync(file, "utf8");
    appendFileSync(file, "\nmessage DriftProbe { string note = 1; }\n");
    try {
      const r = await checkGen(root);
      assert.equal(r.ok, false);
      assert.match(r.output, /stale gen\/proto\/inference\/grpc_service\.ts/);
      assert.match(r.output, /run npm run generate/);
    } finally {
      writeFileSync(file, original);
    }
  });

  it("fails when an OpenAPI document changes without regenerating", async () => {
    const file = join(root, "openapi/ops.yaml");
    const original = readFileSync(file, "utf8");
    writeFileSync(file, original.replace("summary: Readiness", "summary: Readiness probe"));
    try {
      const r = await checkGen(root);
      assert.equal(r.ok, false);
      assert.match(r.output, /stale gen\/schemas\/ops\.json/);
    } finally {
      writeFileSync(file, original);
    }
  });
});
