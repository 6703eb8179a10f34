/**
 * The member tool under test as users run it: a real anvil on 127.0.0.1 and a free port, the
 * contracts deployed by the Ignition module with the demo's founders and their identifier prefixes
 * (as the demo deploys them: identifiers under no registered prefix are refused), a deployment record in a
 * temporary directory, and `tm` run as a child process.
 */
import { spawn } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { JsonRpcProvider } from "ethers";
import { network } from "hardhat";
import { deployTracemesh } from "../../ignition/deploy.ts";
import type { Deployment } from "../../lib/deployment.ts";
import { type RunningAnvil, startAnvil } from "../../scripts/local-chain/anvil.ts";
import { demoWallet } from "../../scripts/demo/accounts.ts";
import { DEMO_ORGS, demoFounders, demoPrefixGrants } from "../../scripts/demo/consortium.ts";

const root = path.resolve(import.meta.dirname, "../..");
const TSX = path.join(root, "node_modules/.bin/tsx");
const MAIN = path.join(root, "scripts/cli/main.ts");

export const CHAIN_ID = 31337;
export const QUORUM_BPS = 5001;
export const VOTING_PERIOD = 24 * 3600;

/** The demo organisations by key, with their ids (founders are numbered in order) and keys. */
export const ORGS = Object.fromEntries(
  DEMO_ORGS.map((o, i) => {
    const w = demoWallet(o.accountIndex);
    return [o.key, { id: i + 1, name: o.name, address: w.address, key: w.privateKey }];
  }),
) as Record<
  "steel" | "foundry" | "machining" | "oem" | "regulator" | "lab",
  { id: number; name: string; address: string; key: string }
>;

/** A funded anvil account that belongs to no organisation. */
export const OUTSIDER = (() => {
  const w = demoWallet(9);
  return { address: w.address, key: w.privateKey };
})();

export interface TestChain {
  url: string;
  dir: string;
  deploymentFile: string;
  deployment: Deployment;
  provider: JsonRpcProvider;
  /** A key file (mode 600) holding `key`, in the test's directory. */
  keyFile(name: string, key: string): string;
  stop(): Promise<void>;
}

export async function startChain(): Promise<TestChain> {
  const anvil: RunningAnvil = await startAnvil(["--silent", "--chain-id", String(CHAIN_ID), "--hardfork", "cancun"]);
  const dir = mkdtempSync(path.join(tmpdir(), "tracemesh-cli-"));
  // Ignition journals deployments to a live chain under ignition/deployments/<id>: one of our own,
  // removed again, so runs never resume each other's journal.
  const deploymentId = `cli-test-${process.pid}-${Date.now()}`;
  const journal = path.join(root, "ignition", "deployments", deploymentId);
  const provider = new JsonRpcProvider(anvil.url, CHAIN_ID, { staticNetwork: true });
  try {
    const conn = await network.create({ network: "localhost", override: { url: anvil.url } });
    try {
      const deployment = await deployTracemesh(conn, { deploymentId, founders: demoFounders(), prefixes: demoPrefixGrants(), quorumBps: QUORUM_BPS, votingPeriod: VOTING_PERIOD });
      const deploymentFile = path.join(dir, "deployment.json");
      writeFileSync(deploymentFile, JSON.stringify(deployment, null, 2) + "\n");
      return {
        url: anvil.url,
        dir,
        deploymentFile,
        deployment,
        provider,
        keyFile(name, key) {
          const file = path.join(dir, `${name}.key`);
          writeFileSync(file, key + "\n");
          chmodSync(file, 0o600);
          return file;
        },
        async stop() {
          provider.destroy();
          await anvil.stop();
          rmSync(dir, { recursive: true, force: true });
        },
      };
    } finally {
      await conn.close();
      rmSync(journal, { recursive: true, force: true });
    }
  } catch (e) {
    provider.destroy();
    await anvil.stop();
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}

export interface TmResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** stdout parsed as JSON (for --json runs). */
  json<T = Record<string, unknown>>(): T;
  /** stderr's JSON error document (for failing --json runs). */
  errorJson(): { kind: string; message: string; [k: string]: unknown };
}

export interface TmOptions {
  /** Sets TRACEMESH_KEY. */
  key?: string;
  env?: Record<string, string>;
  /** Leave out --rpc and --deployment. */
  bare?: boolean;
  /** Written to the tool's standard input (otherwise it reads none). */
  stdin?: string;
}

/** Runs `tsx scripts/cli/main.ts --rpc <chain> --deployment <file> ...args` as a child process. */
export function tm(chain: TestChain | undefined, args: string[], opts: TmOptions = {}): Promise<TmResult> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith("TRACEMESH_")) env[k] = v;
  if (opts.key) env.TRACEMESH_KEY = opts.key;
  Object.assign(env, opts.env);
  const base = chain && !opts.bare ? ["--rpc", chain.url, "--deployment", chain.deploymentFile] : [];
  return new Promise((resolve, reject) => {
    const child = spawn(TSX, [MAIN, ...base, ...args], { cwd: root, env, stdio: ["pipe", "pipe", "pipe"] });
    child.stdin.end(opts.stdin ?? "");
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.once("error", reject);
    child.once("close", (code) =>
      resolve({
        code,
        stdout,
        stderr,
        json: <T>() => JSON.parse(stdout) as T,
        errorJson: () => (JSON.parse(stderr) as { error: { kind: string; message: string } }).error,
      }),
    );
  });
}
