/**
 * The demo's member processes: one per organisation, each with its own data directory, keys,
 * configuration file and log under <demoDir>/<org>/, started as a child process exactly as an
 * operator would start it, and stopped with SIGINT.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { chmodSync, createWriteStream, existsSync, mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { NodeIdentityInit } from "../../lib/consortium.ts";
import { peerIdOfKeyFile } from "../../node/p2p/host.ts";
import { demoWallet } from "./accounts.ts";
import { DEMO_ORGS, type DemoOrg, peerOnlyNode } from "./consortium.ts";

const root = path.resolve(import.meta.dirname, "../..");

export interface DemoPorts {
  chain: number;
  /** Organisation i's gateway listens on gatewayBase + i. */
  gatewayBase: number;
  /** Organisation i's peer network listens on p2pBase + i. */
  p2pBase: number;
}

export interface MemberPlan {
  org: DemoOrg;
  dir: string;
  configFile: string;
  nodeKeyFile: string;
  peerKeyFile: string;
  logFile: string;
  gatewayPort: number;
  p2pPort: number;
}

export function planMembers(demoDir: string, ports: DemoPorts): MemberPlan[] {
  return DEMO_ORGS.map((org, i) => {
    const dir = path.join(demoDir, org.key);
    return {
      org,
      dir,
      configFile: path.join(dir, "member.json"),
      nodeKeyFile: path.join(dir, "node.key"),
      peerKeyFile: path.join(dir, "peer.key"),
      logFile: path.join(dir, "member.log"),
      gatewayPort: ports.gatewayBase + i,
      p2pPort: ports.p2pBase + i,
    };
  });
}

/**
 * Creates each member's keys when missing (LOCAL DEMO: the chain key is the organisation's demo
 * node account) and answers the node identities to register in Consortium.
 */
export async function prepareIdentities(plans: MemberPlan[]): Promise<Partial<Record<DemoOrg["key"], NodeIdentityInit[]>>> {
  const nodes: Partial<Record<DemoOrg["key"], NodeIdentityInit[]>> = {};
  for (const p of plans) {
    mkdirSync(p.dir, { recursive: true, mode: 0o700 });
    if (!existsSync(p.nodeKeyFile)) {
      writeFileSync(p.nodeKeyFile, `${demoWallet(p.org.nodeAccountIndex).privateKey}\n`, { mode: 0o600 });
      chmodSync(p.nodeKeyFile, 0o600);
    }
    nodes[p.org.key] = [peerOnlyNode(await peerIdOfKeyFile(p.peerKeyFile))];
  }
  return nodes;
}

export interface MemberSettings {
  rpcUrl: string;
  deploymentFile: string;
  /** Device configs for the node's edge adapters (from the simulators). */
  devices: unknown[];
}

/** Writes the member's configuration file (rewritten at every start: ports of simulators change). */
export function writeMemberConfig(plan: MemberPlan, settings: MemberSettings): void {
  const config = {
    organisation: plan.org.name,
    dataDir: "./data",
    chain: { rpcUrl: settings.rpcUrl, deployment: settings.deploymentFile, keyFile: "./node.key" },
    // Short windows so the demo shows anchors within seconds.
    window: { durationMs: 2000 },
    devices: settings.devices,
  };
  writeFileSync(plan.configFile, JSON.stringify(config, null, 2) + "\n");
}

export interface RunningMember {
  plan: MemberPlan;
  child: ChildProcess;
  exited: Promise<number | null>;
  /** SIGINT, then SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

/** The command that runs one member process (node, peer network and gateway). */
const MEMBER_ENTRY = path.join(root, "node", "cli.ts");

/** Starts the member process; its output goes to its log file. Resolves once it is up. */
export async function startMember(plan: MemberPlan, options: { readyTimeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<RunningMember> {
  const log = createWriteStream(plan.logFile, { flags: "a" });
  log.write(`\n=== ${new Date().toISOString()} starting ${plan.org.name}\n`);
  const child = spawn(process.execPath, ["--import", "tsx", MEMBER_ENTRY, "start", "--config", plan.configFile], {
    cwd: root,
    env: { ...process.env, ...options.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout!.pipe(log, { end: false });
  child.stderr!.pipe(log, { end: false });
  let output = "";
  const collect = (b: Buffer) => {
    if (output.length < 64_000) output += b.toString();
  };
  child.stdout!.on("data", collect);
  child.stderr!.on("data", collect);
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => (log.end(), resolve(code))));

  const stop = async (graceMs = 15_000) => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill("SIGINT");
    const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
    await exited;
    clearTimeout(timer);
  };

  const deadline = Date.now() + (options.readyTimeoutMs ?? 120_000);
  const ready = /\bstarted\b/;
  while (!ready.test(output)) {
    if (child.exitCode !== null) {
      throw new Error(`${plan.org.name}'s member process exited (${child.exitCode}) while starting:\n${output.trim().split("\n").slice(-15).join("\n")}\n(log: ${plan.logFile})`);
    }
    if (Date.now() > deadline) {
      await stop(2000);
      throw new Error(`${plan.org.name}'s member process did not come up in time (log: ${plan.logFile})`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return { plan, child, exited, stop };
}
