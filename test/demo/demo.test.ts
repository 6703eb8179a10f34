/**
 * The README's first command, for real: `npm start` as a child process on free loopback ports
 * and a temporary demo directory. It must bring up the whole consortium, keep the scenario
 * running (events, anchors, certificates, a recall, seen through the gateways), stop cleanly on
 * SIGINT, and start again with the same consortium, nothing lost and nothing doubled.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { JsonRpcProvider, Wallet } from "ethers";
import { afterAll, describe, expect, it } from "vitest";
import { credentialHash } from "../../lib/credentials.ts";
import { type Deployment, connectContracts, readDeployment } from "../../lib/deployment.ts";
import { demoWallet } from "../../scripts/demo/accounts.ts";
import { deploymentIdOf } from "../../scripts/demo/chain.ts";
import { DEMO_ORGS, type DemoOrg, demoOrg } from "../../scripts/demo/consortium.ts";
import { GatewayClient } from "../../lib/gateway-client.ts";
import { cycleItems } from "../../scripts/demo/story.ts";

const root = path.resolve(import.meta.dirname, "../..");
const demoDir = mkdtempSync(path.join(os.tmpdir(), "tracemesh-demo-"));

/** `count` consecutive free loopback ports. */
async function freeRange(count: number): Promise<number> {
  const free = (port: number) =>
    new Promise<boolean>((resolve) => {
      const s = net.createServer().once("error", () => resolve(false));
      s.listen(port, "127.0.0.1", () => s.close(() => resolve(true)));
    });
  for (;;) {
    const base = 20_000 + Math.floor(Math.random() * 30_000);
    let ok = true;
    for (let p = base; p < base + count && ok; p++) ok = await free(p);
    if (ok) return base;
  }
}

interface Demo {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

function startDemo(env: NodeJS.ProcessEnv): Demo {
  // Detached: its own process group, so SIGINT reaches it as Ctrl-C would.
  const child = spawn("npm", ["start"], { cwd: root, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"], detached: true });
  let out = "";
  child.stdout!.on("data", (b: Buffer) => (out += b.toString()));
  child.stderr!.on("data", (b: Buffer) => (out += b.toString()));
  // "close", not "exit": resolves once the output of every process in the group has been read.
  const exited = new Promise<number | null>((resolve) => child.once("close", (code) => resolve(code)));
  return { child, output: () => out, exited };
}

async function until<T>(what: string, probe: () => Promise<T | undefined | false>, demo: Demo, timeoutMs: number): Promise<T> {
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

/** Ctrl-C: SIGINT to the whole process group, then wait until every process of it is gone. */
async function stopDemo(demo: Demo): Promise<void> {
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
  const deadline = Date.now() + 90_000;
  while (alive()) {
    if (Date.now() > deadline) {
      process.kill(-pgid, "SIGKILL");
      throw new Error(`the demo did not stop within 90 s of SIGINT:\n${demo.output().slice(-3000)}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  await demo.exited;
}

describe("npm start: the demo consortium", { timeout: 30 * 60_000 }, () => {
  let demo: Demo | undefined;
  let env: NodeJS.ProcessEnv;
  let provider: JsonRpcProvider;
  let gatewayBase: number;

  afterAll(async () => {
    if (demo) await stopDemo(demo);
    provider?.destroy();
    rmSync(demoDir, { recursive: true, force: true });
    rmSync(path.join(root, "ignition", "deployments", deploymentIdOf(demoDir)), { recursive: true, force: true });
  });

  const gatewayOf = (key: DemoOrg["key"]) => `http://127.0.0.1:${gatewayBase + DEMO_ORGS.findIndex((o) => o.key === key)}`;
  const clientOf = (key: DemoOrg["key"]) => new GatewayClient(gatewayOf(key), new Wallet(demoWallet(demoOrg(key).accountIndex).privateKey));

  /** What the scenario has produced so far, as the chain and the gateways tell it. */
  async function snapshot(deployment: Deployment) {
    const c = connectContracts(deployment.contracts, provider);
    const recorded = await c.provenance.queryFilter(c.provenance.filters.Recorded(), deployment.deploymentBlock);
    const steelNode = demoWallet(demoOrg("steel").nodeAccountIndex).address;
    return {
      records: recorded.map((e) => `${e.args.eventHash}`),
      anchors: Number(await c.dataAnchors.lastSequence(steelNode)),
      firstAnchorRoot: (await c.dataAnchors.getAnchor(steelNode, 1n)).root,
      position: JSON.parse(readFileSync(path.join(demoDir, "scenario", "position.json"), "utf8")) as { cycle: number; step: number },
    };
  }

  it("starts, runs the scenario, stops on SIGINT and continues the same consortium", async () => {
    const chainPort = await freeRange(1);
    gatewayBase = await freeRange(DEMO_ORGS.length);
    const p2pBase = await freeRange(DEMO_ORGS.length);
    env = {
      TRACEMESH_DEMO_DIR: demoDir,
      TRACEMESH_CHAIN_PORT: String(chainPort),
      TRACEMESH_GATEWAY_PORT: String(gatewayBase),
      TRACEMESH_P2P_PORT: String(p2pBase),
      TRACEMESH_DEMO_PACE_MS: "200",
      // The first cycle already ends in a quality escape and recall.
      TRACEMESH_DEMO_RECALL_EVERY: "1",
    };
    provider = new JsonRpcProvider(`http://127.0.0.1:${chainPort}`, 31337, { staticNetwork: true });

    demo = startDemo(env);
    await until("the demo to be ready", async () => /\] ready/.test(demo!.output()), demo, 15 * 60_000);
    // The explorer answers.
    const page = await fetch(`${gatewayOf("oem")}/explorer/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toMatch(/<html/i);

    const deployment = readDeployment(path.join(demoDir, "deployment.json"));
    const items = cycleItems(
      { steel: demoOrg("steel").site, foundry: demoOrg("foundry").site, machining: demoOrg("machining").site, oem: demoOrg("oem").site },
      1,
    );
    // Through the gateways: the first cycle's recall reaches the OEM's pump.
    const oem = clientOf("oem");
    const genealogy = await until(
      "the first cycle's recall",
      async () => {
        const g = await oem.json<{ recallScope: string[]; nodes: unknown[] }>("GET", `/items/${encodeURIComponent(items.pump)}/genealogy?direction=backward`);
        return g.recallScope.length > 0 ? g : undefined;
      },
      demo,
      10 * 60_000,
    );
    expect(genealogy.nodes.length).toBeGreaterThanOrEqual(7); // pump, 2 housings, 2 castings, 2 billets

    const steel = clientOf("steel");
    const events = await steel.json<{ epcisBody: { queryResults: { resultsBody: { eventList: unknown[] } } } }>("GET", "/events?EQ_bizStep=commissioning");
    expect(events.epcisBody.queryResults.resultsBody.eventList.length).toBeGreaterThan(0);
    const steelNode = demoWallet(demoOrg("steel").nodeAccountIndex).address;
    const anchor = await steel.json<{ sequence: number; root: string }>("GET", `/anchors/${steelNode}/1`);
    expect(anchor.root).toMatch(/^0x[0-9a-f]{64}$/);
    const jws = readFileSync(path.join(demoDir, "scenario", "c0001-certificate.jwt"), "utf8").trim();
    const cert = (await (await fetch(`${gatewayOf("regulator")}/certificates/${credentialHash(jws)}`)).json()) as { state: string; accreditedAtIssuance: boolean };
    expect(cert.state).toBe("valid");
    expect(cert.accreditedAtIssuance).toBe(true);

    const before = await snapshot(deployment);
    await stopDemo(demo);
    expect(demo.output()).toMatch(/\[demo\] stopped/);

    // Again: the same consortium, continued.
    demo = startDemo(env);
    await until("the demo to be ready again", async () => /\] ready/.test(demo!.output()), demo, 15 * 60_000);
    expect(demo.output()).toMatch(/contracts already deployed: continuing the same consortium/);
    expect(readDeployment(path.join(demoDir, "deployment.json"))).toEqual(deployment);

    // The scenario moves on from where it stood, and the nodes keep anchoring on the same chains.
    await until("the scenario to take a step after the restart", async () => {
      const now = await snapshot(deployment);
      return now.records.length > before.records.length && now.anchors > before.anchors ? now : undefined;
    }, demo, 10 * 60_000);
    const after = await snapshot(deployment);
    // Nothing lost: every record from before is still there, and the first anchor is unchanged.
    expect(after.records.slice(0, before.records.length)).toEqual(before.records);
    expect(after.firstAnchorRoot).toBe(before.firstAnchorRoot);
    // Nothing doubled: no event hash recorded twice, and the scenario did not start over.
    expect(new Set(after.records).size).toBe(after.records.length);
    expect(after.position.cycle * 100 + after.position.step).toBeGreaterThanOrEqual(before.position.cycle * 100 + before.position.step);
    // The recall seen before the restart is still seen.
    const again = await clientOf("oem").json<{ recallScope: string[] }>("GET", `/items/${encodeURIComponent(items.pump)}/genealogy?direction=backward`);
    expect(again.recallScope).toEqual(genealogy.recallScope);

    await stopDemo(demo);
    expect(demo.output()).toMatch(/\[demo\] stopped/);
    demo = undefined;
  });
});
