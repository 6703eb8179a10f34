/**
 * `npm test`: the whole check a clean clone must pass. Compiles the contracts (which also
 * generates the TypeScript bindings), runs the Solidity and TypeScript linters and the type
 * checker, builds the explorer (explorer/dist, which the browser tests open), then every vitest
 * suite. Ends with one line `tests: N passed, M failed` that counts
 * each lint check as one test next to the vitest tests.
 *
 * Extra arguments go to vitest, e.g. `npm test -- test/contracts/provenance.test.ts`.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync } from "node:fs";
import path from "node:path";

const root = path.resolve(import.meta.dirname, "..");
const bin = (name: string) => path.join(root, "node_modules", ".bin", name);
const vitestArgs = process.argv.slice(2);

function run(label: string, cmd: string, args: string[]): boolean {
  process.stdout.write(`\n== ${label}\n`);
  const started = Date.now();
  const result = spawnSync(cmd, args, { cwd: root, stdio: "inherit", env: process.env });
  const ok = result.status === 0;
  process.stdout.write(`== ${label}: ${ok ? "ok" : "FAILED"} (${((Date.now() - started) / 1000).toFixed(1)} s)\n`);
  return ok;
}

let passed = 0;
let failed = 0;

if (!run("compile contracts and bindings", bin("hardhat"), ["build"])) {
  console.log("\ntests: 0 passed, 1 failed");
  process.exit(1);
}

const checks: [string, string, string[]][] = [
  ["solhint", bin("solhint"), ["--max-warnings", "0", "contracts/**/*.sol"]],
  ["tsc (strict type check)", bin("tsc"), ["--noEmit", "-p", "tsconfig.json"]],
  // The explorer's own program: the DOM and JSX for the browser, and the lib/ code it imports.
  ["tsc (explorer, strict)", bin("tsc"), ["--noEmit", "-p", "explorer/tsconfig.json"]],
  ["eslint", bin("eslint"), ["--max-warnings", "0", "."]],
  // The browser tests (test/explorer/) open the built explorer, as the gateway serves it.
  ["explorer build", bin("vite"), ["build", "--config", "explorer/vite.config.ts"]],
];
for (const [label, cmd, args] of checks) {
  if (run(label, cmd, args)) passed++;
  else failed++;
}

const reportDir = path.join(root, "reports");
mkdirSync(reportDir, { recursive: true });

/**
 * Whole-system suites start the full demo consortium (six member processes and a chain); run next
 * to the other suites they would starve them of the two cores, so they run alone, last.
 */
const ALONE = ["test/demo/**"];
const phases: { label: string; args: string[] }[] =
  vitestArgs.length > 0
    ? [{ label: "vitest", args: vitestArgs }]
    : [
        { label: "vitest", args: ALONE.map((g) => `--exclude=${g}`) },
        // One file at a time: each starts its own demo consortium.
        { label: "vitest (whole-system, alone)", args: [...ALONE.map((g) => g.replace(/\/\*\*$/, "")), "--no-file-parallelism"] },
      ];
for (const [i, phase] of phases.entries()) {
  const report = path.join(reportDir, `vitest-${i + 1}.json`);
  rmSync(report, { force: true });
  run(phase.label, bin("vitest"), ["run", "--reporter=default", "--reporter=json", `--outputFile.json=${report}`, ...phase.args]);
  try {
    const summary = JSON.parse(readFileSync(report, "utf8")) as {
      numPassedTests: number;
      numFailedTests: number;
      numFailedTestSuites: number;
    };
    passed += summary.numPassedTests;
    failed += summary.numFailedTests + (summary.numFailedTests === 0 ? summary.numFailedTestSuites : 0);
  } catch {
    failed++;
    console.log(`${phase.label} wrote no report: counted as one failure`);
  }
}

console.log(`\ntests: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
