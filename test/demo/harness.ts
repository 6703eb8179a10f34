/**
 * The whole-system suites' demo: `npm start` as a user runs it, in a temporary demo directory on
 * free loopback ports at a fast pace, stopped as a terminal's Ctrl-C stops it (SIGINT to the
 * process group), and the checks that a stop was clean.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { Wallet } from "ethers";
import { expect } from "vitest";
import { rpcReady } from "../../scripts/local-chain/anvil.ts";
import { GatewayClient } from "../../lib/gateway-client.ts";
import { demoWallet } from "../../scripts/demo/accounts.ts";
import { deploymentIdOf } from "../../scripts/demo/chain.ts";
import { DEMO_ORGS, type DemoOrg, demoOrg } from "../../scripts/demo/consortium.ts";
import type { NodeStatus } from "../../node/daemon.ts";

export const root = path.resolve(import.meta.dirname, "../..");

/** `count` consecutive free loopback ports. */
export async function freeRange(count: number): Promise<number> {
  const free = (port: number) =>
    new Promise<boolean>((resolve) => {
      const s = net.createServer().once("error", () => resolve(false));
      s.listen(port, "127.0.0.1", () => s.close(() => resolve(true)));
    });
  // Below the kernel's ephemeral range: a port in it can be handed to any outgoing connection
  // (a member's RPC or peer dial) between this probe and the member's own listen.
  const ephemeralStart = Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]) || 32_768;
  const low = 10_000;
  for (;;) {
    const base = low + Math.floor(Math.random() * (ephemeralStart - low - count));
    let ok = true;
    for (let p = base; p < base + count && ok; p++) ok = await free(p);
    if (ok) return base;
  }
}

/** Where one demo consortium lives: its directory and ports, kept across restarts. */
export interface DemoSite {
  dir: string;
  chainPort: number;
  gatewayBase: number;
  env: NodeJS.ProcessEnv;
  gatewayOf(key: DemoOrg["key"]): string;
  /** A gateway client signed in with the organisation's demo account. */
  clientOf(key: DemoOrg["key"]): GatewayClient;
  /** Removes the directory and the demo's Ignition journal. */
  remove(): void;
}

/** A temporary demo directory and free ports; `env` adds settings (pace, recall frequency, ...). */
export async function demoSite(env: NodeJS.ProcessEnv = {}): Promise<DemoSite> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "tracemesh-demo-"));
  const chainPort = await freeRange(1);
  const gatewayBase = await freeRange(DEMO_ORGS.length);
  const p2pBase = await freeRange(DEMO_ORGS.length);
  const gatewayOf = (key: DemoOrg["key"]) => `http://127.0.0.1:${gatewayBase + DEMO_ORGS.findIndex((o) => o.key === key)}`;
  return {
    dir,
    chainPort,
    gatewayBase,
    env: {
      TRACEMESH_DEMO_DIR: dir,
      TRACEMESH_CHAIN_PORT: String(chainPort),
      TRACEMESH_GATEWAY_PORT: String(gatewayBase),
      TRACEMESH_P2P_PORT: String(p2pBase),
      TRACEMESH_DEMO_PACE_MS: "200",
      ...env,
    },
    gatewayOf,
    clientOf: (key) => new GatewayClient(gatewayOf(key), new Wallet(demoWallet(demoOrg(key).accountIndex).privateKey)),
    remove: () => {
      rmSync(dir, { recursive: true, force: true });
      rmSync(path.join(root, "ignition", "deployments", deploymentIdOf(dir)), { recursive: true, force: true });
    },
  };
}

export interface Demo {
  site: DemoSite;
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

export function startDemo(site: DemoSite): Demo {
  // Detached: its own process group, so SIGINT reaches it as Ctrl-C would.
  const child = spawn("npm", ["start"], { cwd: root, env: { ...process.env, ...site.env }, stdio: ["ignore", "pipe", "pipe"], detached: true });
  let out = "";
  child.stdout!.on("data", (b: Buffer) => (out += b.toString()));
  child.stderr!.on("data", (b: Buffer) => (out += b.toString()));
  // "close", not "exit": resolves once the output of every process in the group has been read.
  const exited = new Promise<number | null>((resolve) => child.once("close", (code) => resolve(code)));
  return { site, child, output: () => out, exited };
}

/** Polls `probe` every second until it answers; fails with the demo's output when the demo exits or time runs out. */
export async function until<T>(what: string, probe: () => Promise<T | undefined | false>, demo: Demo, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (demo.child.exitCode !== null) throw new Error(`the demo exited (${demo.child.exitCode}) while waiting for ${what}:\n${demo.output().slice(-3000)}`);
    try {
      const v = await probe();
      if (v !== undefined && v !== false) return v;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}:\n${demo.output().slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

export const ready = (demo: Demo) => until("the demo to be ready", async () => /\] ready/.test(demo.output()), demo, 15 * 60_000);

/** One Ctrl-C: SIGINT to the whole process group once, then wait until every process of it, and the chain, is gone. */
export async function stopDemo(demo: Demo): Promise<void> {
  const pgid = demo.child.pid!;
  const alive = () => {
    try {
      process.kill(-pgid, 0);
      return true;
    } catch {
      return false;
    }
  };
  if (alive()) process.kill(-pgid, "SIGINT");
  const deadline = Date.now() + 120_000;
  while (alive()) {
    if (Date.now() > deadline) {
      process.kill(-pgid, "SIGKILL");
      throw new Error(`the demo did not stop within 120 s of SIGINT:\n${demo.output().slice(-3000)}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  await demo.exited;
  // The chain runs in a process group of its own: it must be gone too.
  expect(await rpcReady(`http://127.0.0.1:${demo.site.chainPort}`), "the chain still answers after the demo stopped").toBe(false);
}

/** Keeps the demo's output in reports/demo-<name>.log, for a look after a failure. */
export function saveOutput(demo: Demo, name: string): void {
  mkdirSync(path.join(root, "reports"), { recursive: true });
  writeFileSync(path.join(root, "reports", `demo-${name}.log`), demo.output());
}

/** What a member's log says since its last start. */
export function lastSessionLog(site: DemoSite, key: DemoOrg["key"]): string {
  const log = readFileSync(path.join(site.dir, key, "member.log"), "utf8");
  return log.slice(log.lastIndexOf("\n=== "));
}

export function memberStatus(site: DemoSite, key: DemoOrg["key"]): NodeStatus {
  return JSON.parse(readFileSync(path.join(site.dir, key, "data", "status.json"), "utf8")) as NodeStatus;
}

/**
 * After one Ctrl-C: the scenario stopped first, every member stopped cleanly (its own log says so,
 * its status file says stopped with no window left pending), and the chain stopped last.
 */
export function expectCleanStop(demo: Demo): void {
  const out = demo.output();
  const at = (line: string) => {
    const i = out.indexOf(line);
    expect(i, `the demo's output lacks "${line}":\n${out.slice(-3000)}`).toBeGreaterThanOrEqual(0);
    return i;
  };
  const scenarioStopped = at("[demo] scenario stopped");
  const chainStopped = at("[demo] chain stopped");
  for (const org of DEMO_ORGS) {
    const stopped = at(`[demo]     ${org.name}: stopped cleanly`);
    expect(stopped).toBeGreaterThan(scenarioStopped);
    expect(stopped).toBeLessThan(chainStopped);
    const log = lastSessionLog(demo.site, org.key);
    expect(log, `${org.name}'s log`).toContain(`[member] ${org.name}: stopped cleanly`);
    expect(log, `${org.name}'s log`).not.toMatch(/unhandled|chain unavailable/i);
    expect(log, `${org.name}'s log`).toMatch(/\[node\] stopped: \d+ readings, \d+ windows closed, \d+ anchored, 0 pending/);
    const status = memberStatus(demo.site, org.key);
    expect(status.running, `${org.name}'s status.json`).toBe(false);
    expect(status.windows.pending, `${org.name}'s status.json`).toBe(0);
  }
  expect(out).toMatch(/\[demo\] stopped/);
}
