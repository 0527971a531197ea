// `npm test`: every check the project has, in order of cost: types, lint, unit and
// integration tests (real PostgreSQL and Redis), a short chaos campaign, then the end-to-end
// specs in Chromium. Ends with one "N passed, N failed" line over all of them.
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

interface StepResult {
  name: string;
  passed: number;
  failed: number;
}

const root = path.resolve(import.meta.dirname, "..");
const bin = (name: string) => path.join(root, "node_modules", ".bin", name);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "cohort-test-"));

function run(cmd: string, args: string[], env: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: root, stdio: "inherit", env: { ...process.env, ...env } });
    child.on("exit", (code, signal) => resolve(code ?? (signal ? 1 : 0)));
    child.on("error", () => resolve(127));
  });
}

async function simple(name: string, cmd: string, args: string[]): Promise<StepResult> {
  console.log(`\n=== ${name} ===`);
  const code = await run(cmd, args);
  return { name, passed: code === 0 ? 1 : 0, failed: code === 0 ? 0 : 1 };
}

async function vitest(): Promise<StepResult> {
  console.log("\n=== unit and integration tests (vitest) ===");
  const out = path.join(tmp, "vitest.json");
  const code = await run(bin("vitest"), ["run", "--reporter=default", "--reporter=json", `--outputFile.json=${out}`]);
  const report = readJson<{ numPassedTests: number; numFailedTests: number }>(out);
  if (!report) return { name: "vitest", passed: 0, failed: 1 };
  return {
    name: "vitest",
    passed: report.numPassedTests,
    failed: report.numFailedTests + (code !== 0 && report.numFailedTests === 0 ? 1 : 0),
  };
}

async function e2e(): Promise<StepResult> {
  console.log("\n=== end-to-end specs (Playwright, Chromium) ===");
  if (!fs.existsSync("/usr/bin/chromium")) {
    console.error("e2e: /usr/bin/chromium is missing. Install Debian's Chromium: apt-get install chromium");
    return { name: "e2e", passed: 0, failed: 1 };
  }
  const out = path.join(tmp, "playwright.json");
  const code = await run(bin("playwright"), ["test", "--reporter=list,json"], { PLAYWRIGHT_JSON_OUTPUT_NAME: out });
  const report = readJson<{ stats: { expected: number; unexpected: number; flaky: number } }>(out);
  if (!report) return { name: "e2e", passed: 0, failed: 1 };
  const { expected, unexpected, flaky } = report.stats;
  return { name: "e2e", passed: expected + flaky, failed: unexpected + (code !== 0 && unexpected === 0 ? 1 : 0) };
}

function readJson<T>(file: string): T | null {
  try {
    return JSON.parse(fs.readFileSync(file, "utf8")) as T;
  } catch {
    return null;
  }
}

const results: StepResult[] = [];
results.push(await simple("typecheck", bin("tsc"), ["--noEmit"]));
results.push(await simple("lint", bin("eslint"), ["."]));
results.push(await simple("format", bin("prettier"), ["--check", "."]));
results.push(await vitest());
results.push(await simple("chaos (a short campaign, one run per nemesis)", "npm", ["run", "--silent", "chaos"]));
results.push(await e2e());

console.log("\n=== summary ===");
for (const r of results) console.log(`${r.failed ? "FAIL" : "ok  "} ${r.name}: ${r.passed} passed, ${r.failed} failed`);
const passed = results.reduce((n, r) => n + r.passed, 0);
const failed = results.reduce((n, r) => n + r.failed, 0);
console.log(`${passed} passed, ${failed} failed`);
fs.rmSync(tmp, { recursive: true, force: true });
process.exit(failed ? 1 : 0);
