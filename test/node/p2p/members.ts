/**
 * Member node processes for the peer-network tests: one anvil with the Tracemesh contracts, whose
 * founders register the nodes' libp2p peer ids, and test/node/p2p/member-process.ts children
 * driven over JSON lines.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { createInterface } from "node:readline";
import { Wallet } from "ethers";
import type { Role } from "../../../lib/consortium.ts";
import { freePort } from "../../../scripts/local-chain/anvil.ts";
import type { Deployment } from "../../../lib/deployment.ts";
import { NamespacePolicy } from "../../../lib/namespaces.ts";
import { type LocalChain, deployLocal, devKey, startAnvil } from "../../../scripts/local-chain/local-chain.ts";
import { peerIdOfKeyFile } from "../../../node/p2p/host.ts";
import { nodeFor } from "./helpers.ts";

const ROOT = path.resolve(import.meta.dirname, "../../..");

export interface MemberSpec {
  /** Short name: directory and key file names. */
  name: string;
  org: string;
  /**
   * Index of the anvil dev key its node signs with (anchors); the key at keyIndex + 4 is a second
   * account of the organisation, for the test's own transactions (grants, votes).
   */
  keyIndex: number;
  /** Devices of the synthetic edge (one stream `<device>/temperature` each). */
  devices?: string[];
  /** Whether the node is registered in Consortium (false: founders without this node). */
  registered?: boolean;
  /** The organisation's roles (default Supplier). */
  roles?: Role[];
}

export interface Member extends MemberSpec {
  dir: string;
  configFile: string;
  dataDir: string;
  peerId: string;
  port: number;
  addr: string;
  wallet: Wallet;
  orgId: number;
}

export interface Reply {
  id: number;
  ok: boolean;
  [k: string]: unknown;
}

/** A running member process. */
export class MemberProcess {
  private next = 1;
  private readonly waiting = new Map<number, (r: Reply) => void>();
  private err = "";
  readonly exited: Promise<number | null>;
  ready!: { peerId: string; addrs: string[]; node: string };

  private constructor(
    readonly member: Member,
    readonly proc: ChildProcess,
  ) {
    proc.stderr!.on("data", (d: Buffer) => (this.err = (this.err + d.toString()).slice(-30_000)));
    this.exited = new Promise((resolve) => proc.on("exit", (code) => resolve(code)));
  }

  static async start(member: Member, timeoutMs = 60_000): Promise<MemberProcess> {
    const proc = spawn(process.execPath, ["--import", "tsx", path.join(import.meta.dirname, "member-process.ts"), "--config", member.configFile], {
      cwd: ROOT,
      stdio: ["pipe", "pipe", "pipe"],
    });
    const m = new MemberProcess(member, proc);
    m.ready = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${member.name} did not start:\n${m.err}`)), timeoutMs);
      const rl = createInterface({ input: proc.stdout! });
      rl.on("line", (line) => {
        const v = JSON.parse(line) as Reply & { ready?: boolean };
        if (v.ready) {
          clearTimeout(timer);
          resolve(v as unknown as MemberProcess["ready"]);
          return;
        }
        m.waiting.get(v.id)?.(v);
        m.waiting.delete(v.id);
      });
      void m.exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`${member.name} exited with ${code}:\n${m.err}`));
      });
    });
    return m;
  }

  stderr(): string {
    return this.err;
  }

  /** Sends a command and waits for its answer. */
  call(cmd: string, args: Record<string, unknown> = {}, timeoutMs = 90_000): Promise<Reply> {
    const id = this.next++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.member.name}: no answer to ${cmd} in ${timeoutMs} ms:\n${this.err}`)), timeoutMs);
      this.waiting.set(id, (r) => {
        clearTimeout(timer);
        resolve(r);
      });
      this.proc.stdin!.write(JSON.stringify({ id, cmd, ...args }) + "\n");
    });
  }

  /** Stops the process cleanly (stdin closes) and waits for it. */
  async stop(): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    this.proc.stdin!.end();
    const timer = setTimeout(() => this.proc.kill("SIGKILL"), 20_000);
    await this.exited;
    clearTimeout(timer);
  }
}

export interface Consortium {
  chain: LocalChain;
  deployment: Deployment;
  members: Record<string, Member>;
}

/**
 * Starts anvil, creates each member's peer key and config, and deploys a consortium whose
 * founders are the members' organisations (with their registered nodes) plus `extraOrgs`.
 */
export async function setUpConsortium(
  dir: string,
  specs: MemberSpec[],
  extraOrgs: { name: string; keyIndex: number }[],
  p2p: (m: Member, all: Member[]) => Record<string, unknown>,
): Promise<Consortium> {
  const chain = await startAnvil();
  try {
    const members: Member[] = [];
    for (const s of specs) {
      const mdir = path.join(dir, s.name);
      mkdirSync(mdir, { recursive: true });
      const keyFile = path.join(mdir, "p2p.key");
      const peerId = await peerIdOfKeyFile(keyFile);
      const port = await freePort();
      const wallet = new Wallet(devKey(s.keyIndex));
      members.push({
        ...s,
        dir: mdir,
        configFile: path.join(mdir, "node.json"),
        dataDir: path.join(mdir, "data"),
        peerId,
        port,
        addr: `/ip4/127.0.0.1/tcp/${port}/p2p/${peerId}`,
        wallet,
        orgId: 0,
      });
    }
    // One organisation per distinct org name, in order of first appearance.
    const orgNames = [...new Set(members.map((m) => m.org))];
    const orgs = [
      ...orgNames.map((name) => {
        const ms = members.filter((m) => m.org === name);
        return {
          name,
          accounts: [...new Set(ms.flatMap((m) => [m.wallet.address, new Wallet(devKey(m.keyIndex + 4)).address]))],
          nodes: ms.filter((m) => m.registered !== false).map((m) => nodeFor(m.peerId)),
          ...(ms[0]!.roles ? { roles: ms[0]!.roles } : {}),
        };
      }),
      ...extraOrgs.map((o) => ({ name: o.name, accounts: [new Wallet(devKey(o.keyIndex)).address] })),
    ];
    // Members capture GS1 examples under no registered prefix, and tests write keys directly.
    const deployment = await deployLocal(chain.url, devKey(0), orgs, { namespacePolicy: NamespacePolicy.Unchecked });
    const deploymentFile = path.join(dir, "deployment.json");
    writeFileSync(deploymentFile, JSON.stringify(deployment));
    for (const m of members) {
      m.orgId = orgNames.indexOf(m.org) + 1;
      const nodeKey = path.join(m.dir, "node.key");
      writeFileSync(nodeKey, devKey(m.keyIndex) + "\n");
      chmodSync(nodeKey, 0o600);
      writeFileSync(
        m.configFile,
        JSON.stringify(
          {
            organisation: m.org,
            dataDir: "./data",
            chain: { rpcUrl: chain.url, deployment: deploymentFile, keyFile: "./node.key", retry: { minMs: 100, maxMs: 500 }, receiptTimeoutMs: 10_000 },
            window: { durationMs: 500 },
            statusIntervalMs: 500,
            devices: (m.devices ?? []).map((name) => ({ name, intervalMs: 100 })),
            p2p: { listen: [`/ip4/127.0.0.1/tcp/${m.port}`], keyFile: "./p2p.key", ...p2p(m, members) },
          },
          null,
          2,
        ),
      );
    }
    return { chain, deployment, members: Object.fromEntries(members.map((m) => [m.name, m])) };
  } catch (e) {
    await chain.stop();
    throw e;
  }
}
