/**
 * Test environment for node-level tests: anvil on a free loopback port with the Tracemesh
 * contracts deployed, a node key in an owner-only file, and a node config in a temporary
 * directory; plus a runner for the synthetic node as a child process.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { Wallet } from "ethers";
import type { Deployment } from "../../../../lib/deployment.ts";
import { peerIdOfKeyFile } from "../../../../node/p2p/host.ts";
import { type LocalChain, deployLocal, devKey, peerOnlyNode, startAnvil } from "../../../../scripts/local-chain/local-chain.ts";

export const ROOT = path.resolve(import.meta.dirname, "../../../..");
export const ORG_NAME = "Delta Machining";

export interface NodeEnv {
  dir: string;
  chain: LocalChain;
  deployment: Deployment;
  deploymentFile: string;
  configFile: string;
  dataDir: string;
  nodeKey: string;
  node: string;
  /** Writes the config again with changes (merged into the defaults). */
  writeConfig(overrides?: Record<string, unknown>): void;
  cleanup(): Promise<void>;
}

/**
 * `p2p`: the registered peer ids are those of real keys, the node's in `<dir>/p2p.key` (for a
 * config with a `p2p` section: `"keyFile": "./p2p.key"`), so its peer network can start.
 */
export async function nodeEnv(options: { stateFile?: boolean; config?: Record<string, unknown>; p2p?: boolean } = {}): Promise<NodeEnv> {
  const dir = mkdtempSync(path.join(tmpdir(), "tracemesh-node-"));
  const chain = await startAnvil(options.stateFile ? { stateFile: path.join(dir, "anvil-state.json") } : {});
  const nodeKey = devKey(3);
  const node = new Wallet(nodeKey).address;
  const plantPeer = options.p2p ? await peerIdOfKeyFile(path.join(dir, "p2p.key")) : "12D3KooWIngestPlant";
  const oemPeer = options.p2p ? await peerIdOfKeyFile(path.join(dir, "p2p-oem.key")) : "12D3KooWIngestOem";
  const deployment = await deployLocal(chain.url, devKey(0), [
    { name: ORG_NAME, accounts: [node], nodes: [peerOnlyNode(plantPeer)] },
    { name: "Atlas Motors", accounts: [new Wallet(devKey(4)).address], nodes: [peerOnlyNode(oemPeer)] },
  ]);
  const deploymentFile = path.join(dir, "deployment.json");
  writeFileSync(deploymentFile, JSON.stringify(deployment, null, 2));
  const keyFile = path.join(dir, "node.key");
  writeFileSync(keyFile, nodeKey + "\n");
  chmodSync(keyFile, 0o600);
  const configFile = path.join(dir, "node.json");
  const dataDir = path.join(dir, "data");
  const env: NodeEnv = {
    dir,
    chain,
    deployment,
    deploymentFile,
    configFile,
    dataDir,
    nodeKey,
    node,
    writeConfig(overrides = {}) {
      const base = {
        organisation: ORG_NAME,
        dataDir: "./data",
        chain: { rpcUrl: chain.url, deployment: "./deployment.json", keyFile: "./node.key", retry: { minMs: 100, maxMs: 500 }, receiptTimeoutMs: 5000 },
        window: { durationMs: 200 },
        statusIntervalMs: 200,
        devices: [],
      };
      const merged: Record<string, unknown> = { ...base, ...options.config, ...overrides };
      writeFileSync(configFile, JSON.stringify(merged, null, 2));
    },
    async cleanup() {
      // env.chain, not the first chain: a test may have restarted it (chain outage).
      await env.chain.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  env.writeConfig();
  return env;
}

export interface Ack {
  stream: string;
  seq: number;
  value: number;
}

export interface NodeChild {
  proc: ChildProcess;
  acks: Ack[];
  lines: string[];
  /** Resolves with the first line matching `re` (already seen or later); rejects when the child exits first. */
  waitFor(re: RegExp, timeoutMs?: number): Promise<string>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr(): string;
}

/** Runs test/node/ingest/support/synthetic-node.ts with `args`. */
export function runSyntheticNode(configFile: string, args: string[] = []): NodeChild {
  // Node itself with tsx as a loader (not the tsx wrapper, which would run the node in a
  // grandchild that a SIGKILL to the wrapper leaves running).
  const proc = spawn(process.execPath, ["--import", "tsx", path.join(import.meta.dirname, "synthetic-node.ts"), "--config", configFile, ...args], {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const acks: Ack[] = [];
  const lines: string[] = [];
  let err = "";
  const listeners: (() => void)[] = [];
  proc.stderr!.on("data", (d: Buffer) => (err = (err + d.toString()).slice(-20_000)));
  createInterface({ input: proc.stdout! }).on("line", (line) => {
    lines.push(line);
    const m = /^ack (\S+) (\d+) (\d+) (\d+)$/.exec(line);
    if (m) {
      const [, stream, seq, count, value] = m;
      for (let k = 0; k < Number(count); k++) acks.push({ stream: stream!, seq: Number(seq) + k, value: Number(value) + k });
    }
    for (const l of listeners.splice(0)) l();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.on("exit", (code, signal) => {
      for (const l of listeners.splice(0)) l();
      resolve({ code, signal });
    }),
  );
  return {
    proc,
    acks,
    lines,
    exited,
    stderr: () => err,
    waitFor(re, timeoutMs = 60_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out waiting for ${re}; stderr:\n${err}`)), timeoutMs);
        const check = () => {
          const hit = lines.find((l) => re.test(l));
          if (hit !== undefined) {
            clearTimeout(timer);
            return resolve(hit);
          }
          if (proc.exitCode !== null || proc.signalCode !== null) {
            clearTimeout(timer);
            return reject(new Error(`the node exited (${proc.exitCode ?? proc.signalCode}) before ${re}; stderr:\n${err}`));
          }
          listeners.push(check);
        };
        check();
      });
    },
  };
}
