/**
 * The demo's member processes: one per organisation, each with its own data directory, keys,
 * configuration file and log under <demoDir>/<org>/, started as a child process as an operator
 * would start it, under the demo's supervision (`--supervised`): a terminal's Ctrl-C reaches the
 * whole process group, and the members leave it to the demo, which stops them with SIGTERM after
 * the scenario and before the chain. Their stdin is a pipe from the demo: if the demo dies, it
 * closes and they stop by themselves.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { chmodSync, createWriteStream, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { NodeIdentityInit } from "../../lib/consortium.ts";
import { sleep } from "../../lib/retry.ts";
import { EXIT_DATA_DAMAGED } from "../../node/ingest/repair.ts";
import { peerIdOfKeyFile } from "../../node/p2p/host.ts";
import { demoWallet } from "./accounts.ts";
import { DEMO_ORGS, type DemoOrg, SHARED_WITH_OEM, demoOrg, peerOnlyNode } from "./consortium.ts";
import { partyOf, placeOf } from "./story.ts";

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
export async function prepareIdentities(plans: MemberPlan[]): Promise<Record<DemoOrg["key"], NodeIdentityInit[]>> {
  const nodes = {} as Record<DemoOrg["key"], NodeIdentityInit[]>;
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
  /** Every member's plan and peer id: the others are this member's bootstrap peers. */
  peers: { plan: MemberPlan; peerId: string }[];
}

/** Writes the member's configuration file (rewritten at every start: ports of simulators change). */
export function writeMemberConfig(plan: MemberPlan, settings: MemberSettings): void {
  const config = {
    organisation: plan.org.name,
    dataDir: "./data",
    chain: { rpcUrl: settings.rpcUrl, deployment: settings.deploymentFile, keyFile: "./node.key" },
    // Short windows so the demo shows anchors within seconds.
    window: { durationMs: 2000 },
    // Prometheus metrics on loopback, on a free port: status.json says where (the demo prints it).
    metrics: { host: "127.0.0.1", port: 0 },
    devices: settings.devices,
    p2p: {
      listen: [`/ip4/127.0.0.1/tcp/${plan.p2pPort}`],
      keyFile: "./peer.key",
      bootstrap: settings.peers.filter((p) => p.plan !== plan).map((p) => `/ip4/127.0.0.1/tcp/${p.plan.p2pPort}/p2p/${p.peerId}`),
      // The OEM keeps a verified copy of its suppliers' process data (they grant it in the scenario).
      follow:
        plan.org.key === "oem"
          ? (["steel", "foundry", "machining"] as const).flatMap((k) => SHARED_WITH_OEM[k].map((stream) => ({ organisation: demoOrg(k).name, stream })))
          : [],
    },
    // Subscription webhooks to the demo's own receivers only (the OEM's ERP, recall-alerts.ts).
    gateway: { host: "127.0.0.1", port: plan.gatewayPort, explorer: true, webhookDestinations: ["http://127.0.0.1:*"] },
    // The directory of shipment destinations: every member's party and site.
    parties: Object.fromEntries(settings.peers.flatMap(({ plan: p }) => [[partyOf(p.org.site), p.org.name], [placeOf(p.org.site), p.org.name]])),
  };
  writeFileSync(plan.configFile, JSON.stringify(config, null, 2) + "\n");
}

/** Where the member's node serves its metrics, as its status file says. */
export function metricsUrlOf(member: { plan: MemberPlan }): string | undefined {
  try {
    return (JSON.parse(readFileSync(path.join(member.plan.dir, "data", "status.json"), "utf8")) as { metricsUrl?: string }).metricsUrl;
  } catch {
    return undefined;
  }
}

export interface RunningMember {
  plan: MemberPlan;
  child: ChildProcess;
  exited: Promise<number | null>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves with the exit code (null: killed). */
  stop(graceMs?: number): Promise<number | null>;
  /** SIGKILL, for a forced stop. */
  kill(): void;
}

/** A member process that exited while starting, with its exit status. */
export class MemberStartError extends Error {
  constructor(
    readonly plan: MemberPlan,
    readonly exitCode: number,
    message: string,
  ) {
    super(message);
    this.name = "MemberStartError";
  }

  /** It refused to start because a store of its is damaged (node/ingest/repair.ts): restarting will not help, a repair will. */
  get storeDamaged(): boolean {
    return this.exitCode === EXIT_DATA_DAMAGED;
  }
}

/**
 * What the demo says of a member left out because its store is damaged: the others go on, so the
 * repair can get what its partners hold back from them, then it is started again.
 */
export function damagedMemberAdvice(plan: MemberPlan): string {
  // As the operator types it from where they ran `npm start`.
  const shown = (file: string) => {
    const relative = path.relative(process.cwd(), file);
    return relative === "" || relative.startsWith("..") || path.isAbsolute(relative) ? file : relative;
  };
  const config = shown(plan.configFile);
  return (
    `${plan.org.name}: its store is damaged, so it is not started; the other members go on (its log: ${shown(plan.logFile)}). ` +
    `While they run: \`npm run node -- repair --config ${config} --from-partners\` (partners hand back what they hold of its data, verified against the chain), ` +
    `then start it: \`npm run member -- --config ${config}\`, or Ctrl-C and \`npm start\``
  );
}

/** The command that runs one member process (node, peer network, indexer and gateway). */
const MEMBER_ENTRY = path.join(root, "member", "main.ts");

/** Starts the member process; its output goes to its log file. Resolves once it is up. */
export async function startMember(plan: MemberPlan, options: { readyTimeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<RunningMember> {
  const log = createWriteStream(plan.logFile, { flags: "a" });
  log.write(`\n=== ${new Date().toISOString()} starting ${plan.org.name}\n`);
  const child = spawn(process.execPath, ["--import", "tsx", MEMBER_ENTRY, "--config", plan.configFile, "--supervised"], {
    cwd: root,
    env: { ...process.env, ...options.env },
    // stdin: the lifeline (never written; it closes when the demo exits).
    stdio: ["pipe", "pipe", "pipe"],
  });
  child.stdout!.pipe(log, { end: false });
  child.stderr!.pipe(log, { end: false });
  let output = "";
  const collect = (b: Buffer) => {
    if (output.length < 64_000) output += b.toString();
  };
  child.stdout!.on("data", collect);
  child.stderr!.on("data", collect);
  // "close", not "exit": the process can exit before its last lines ("stopped cleanly") have come
  // through the pipes, and the log is complete only once they have been written out.
  const exited = new Promise<number | null>((resolve) => child.once("close", (code) => log.end(() => resolve(code))));

  // Long enough to anchor the last windows on a busy machine; a member that hangs is killed.
  const stop = async (graceMs = 60_000) => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
      await exited;
      clearTimeout(timer);
    }
    return exited;
  };

  const deadline = Date.now() + (options.readyTimeoutMs ?? 300_000);
  // Up when its gateway answers (the node, indexer and events start before it).
  const health = `http://127.0.0.1:${plan.gatewayPort}/health`;
  const answers = async () => {
    try {
      return (await fetch(health, { signal: AbortSignal.timeout(2000) })).ok;
    } catch {
      return false;
    }
  };
  while (!(await answers())) {
    if (child.exitCode !== null) {
      throw new MemberStartError(plan, child.exitCode, `${plan.org.name}'s member process exited (${child.exitCode}) while starting:\n${output.trim().split("\n").slice(-15).join("\n")}\n(log: ${plan.logFile})`);
    }
    if (Date.now() > deadline) {
      await stop(2000);
      throw new Error(`${plan.org.name}'s member process did not come up in time (log: ${plan.logFile})`);
    }
    await sleep(200);
  }
  return { plan, child, exited, stop, kill: () => child.kill("SIGKILL") };
}
