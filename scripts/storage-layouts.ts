/**
 * Storage layouts of the upgradeable Tracemesh contracts, read with OpenZeppelin's upgrades-core
 * from Hardhat's build info (the compiler input and output, storage layouts included: see
 * hardhat.config.ts), ERC-7201 namespaces included.
 *
 * The committed layouts in `contracts/storage-layouts/` are those of the deployed versions: an upgrade must
 * keep them (append-only state variables, unchanged namespaces), and test/contracts/
 * storage-layout.test.ts checks the current sources against them. After a release whose layout
 * grew, record the new one: `npx tsx scripts/storage-layouts.ts --write`.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import {
  type SolcInput,
  type SolcOutput,
  type StorageLayout,
  concatRunData,
  getContractVersion,
  getStorageLayout,
  getStorageUpgradeReport,
  makeNamespacedInput,
  solcInputOutputDecoder,
  validate,
  withValidationDefaults,
} from "@openzeppelin/upgrades-core";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const require = createRequire(import.meta.url);

/** Every contract deployed behind a TracemeshProxy, by source file under contracts/. */
export const UPGRADEABLE_CONTRACTS = {
  Consortium: "Consortium.sol",
  Provenance: "Provenance.sol",
  Certificates: "Certificates.sol",
  AccessGrants: "AccessGrants.sol",
  DataAnchors: "DataAnchors.sol",
  IdentifierNamespaces: "IdentifierNamespaces.sol",
} as const;

export const LAYOUTS_DIR = path.join(root, "contracts/storage-layouts");

interface BuildInfo {
  solcVersion: string;
  input: SolcInput;
}

/** The build info that compiled `contracts/<file>`, from the artifact Hardhat wrote for it. */
function buildInfoOf(file: string, contract: string): { input: BuildInfo; output: SolcOutput } {
  const artifact = JSON.parse(readFileSync(path.join(root, "artifacts/contracts", file, `${contract}.json`), "utf8")) as {
    buildInfoId?: string;
  };
  if (!artifact.buildInfoId) throw new Error(`artifact of ${contract} names no build info: run hardhat build`);
  const dir = path.join(root, "artifacts/build-info");
  const input = JSON.parse(readFileSync(path.join(dir, `${artifact.buildInfoId}.json`), "utf8")) as BuildInfo;
  const { output } = JSON.parse(readFileSync(path.join(dir, `${artifact.buildInfoId}.output.json`), "utf8")) as { output: SolcOutput };
  return { input, output };
}

/** The compiler's answer for the namespaced input upgrades-core derives (it lists ERC-7201 structs' slots). */
function compileNamespaced(input: SolcInput, output: SolcOutput): SolcOutput {
  const solc = require("solc") as { compile(input: string): string };
  const namespaced = makeNamespacedInput(input, output);
  const answer = JSON.parse(solc.compile(JSON.stringify(namespaced))) as SolcOutput & { errors?: { severity: string; formattedMessage: string }[] };
  const errors = (answer.errors ?? []).filter((e) => e.severity === "error");
  if (errors.length > 0) throw new Error(`namespaced compilation failed:\n${errors.map((e) => e.formattedMessage).join("\n")}`);
  return answer;
}

/**
 * The current storage layout of each named contract (fully qualified in the build as
 * `project/contracts/<file>:<name>`).
 */
export function currentLayouts(contracts: Record<string, string> = UPGRADEABLE_CONTRACTS): Record<string, StorageLayout> {
  const byBuild = new Map<string, { input: BuildInfo; output: SolcOutput; namespaced?: SolcOutput }>();
  const layouts: Record<string, StorageLayout> = {};
  for (const [name, file] of Object.entries(contracts)) {
    const build = buildInfoOf(file, name);
    const key = JSON.stringify(Object.keys(build.input.input.sources).sort());
    let entry = byBuild.get(key);
    if (!entry) {
      entry = { ...build, namespaced: compileNamespaced(build.input.input, build.output) };
      byBuild.set(key, entry);
    }
    const decodeSrc = solcInputOutputDecoder(entry.input.input, entry.output, root);
    const runData = validate(entry.output, decodeSrc, entry.input.solcVersion, entry.input.input, entry.namespaced);
    const fullName = `project/contracts/${file}:${name}`;
    layouts[name] = getStorageLayout(concatRunData(runData), getContractVersion(runData, fullName));
  }
  return layouts;
}

/** The committed layout of a deployed contract. */
export function committedLayout(name: string): StorageLayout {
  return JSON.parse(readFileSync(path.join(LAYOUTS_DIR, `${name}.json`), "utf8")) as StorageLayout;
}

/** Why `updated` cannot replace `original` behind a proxy; empty when it can. */
export function layoutIncompatibilities(original: StorageLayout, updated: StorageLayout): string {
  const report = getStorageUpgradeReport(original, updated, withValidationDefaults({}));
  return report.ok ? "" : report.explain(false);
}

/** Keeps only what the comparison reads, so a snapshot does not change with source positions. */
function stable(layout: StorageLayout): StorageLayout {
  return JSON.parse(JSON.stringify(layout, (k, v: unknown) => (k === "src" ? undefined : v))) as StorageLayout;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  if (!process.argv.includes("--write")) {
    console.error("usage: tsx scripts/storage-layouts.ts --write   (records the current layouts as the deployed ones)");
    process.exit(2);
  }
  for (const [name, layout] of Object.entries(currentLayouts())) {
    writeFileSync(path.join(LAYOUTS_DIR, `${name}.json`), `${JSON.stringify(stable(layout), null, 2)}\n`);
    console.log(`contracts/storage-layouts/${name}.json: ${layout.storage.length} variables, ${Object.keys(layout.namespaces ?? {}).length} namespaces`);
  }
}
