/**
 * The README's first command, for real: `npm start` as a child process on free loopback ports
 * and a temporary demo directory. It must bring up the whole consortium, keep the scenario
 * running (events, anchors, certificates, a recall, seen through the gateways), stop cleanly on
 * one SIGINT to its process group (a terminal's Ctrl-C), start again with the same consortium,
 * nothing lost and nothing doubled, and stop cleanly again when the chain went down first.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { JsonRpcProvider } from "ethers";
import { afterAll, describe, expect, it } from "vitest";
import { credentialHash } from "../../lib/credentials.ts";
import { type Deployment, connectContracts, readDeployment } from "../../lib/deployment.ts";
import { demoWallet } from "../../scripts/demo/accounts.ts";
import { DEMO_ORGS, demoOrg } from "../../scripts/demo/consortium.ts";
import { cycleItems } from "../../scripts/demo/story.ts";
import { type Demo, type DemoSite, demoSite, expectCleanStop, lastSessionLog, memberStatus, ready, saveOutput, startDemo, stopDemo, until } from "./harness.ts";

describe("npm start: the demo consortium", { timeout: 30 * 60_000 }, () => {
  let demo: Demo | undefined;
  let site: DemoSite | undefined;
  let provider: JsonRpcProvider;

  afterAll(async () => {
    if (demo) await stopDemo(demo);
    provider?.destroy();
    site?.remove();
  });

  /** What the scenario has produced so far, as the chain and the gateways tell it. */
  async function snapshot(deployment: Deployment) {
    const c = connectContracts(deployment.contracts, provider);
    const recorded = await c.provenance.queryFilter(c.provenance.filters.Recorded(), deployment.deploymentBlock);
    const steelNode = demoWallet(demoOrg("steel").nodeAccountIndex).address;
    return {
      records: recorded.map((e) => `${e.args.eventHash}`),
      anchors: Number(await c.dataAnchors.lastSequence(steelNode)),
      firstAnchorRoot: (await c.dataAnchors.getAnchor(steelNode, 1n)).root,
      position: JSON.parse(readFileSync(path.join(site!.dir, "scenario", "position.json"), "utf8")) as { cycle: number; step: number },
    };
  }

  it("starts, runs the scenario, stops cleanly on one SIGINT and continues the same consortium", async () => {
    // The first cycle already ends in a quality escape and recall.
    site = await demoSite({ TRACEMESH_DEMO_RECALL_EVERY: "1" });
    const { gatewayOf, clientOf } = site;
    const demoDir = site.dir;
    provider = new JsonRpcProvider(`http://127.0.0.1:${site.chainPort}`, 31337, { staticNetwork: true });

    demo = startDemo(site);
    await ready(demo);
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
    // One Ctrl-C: the scenario first, then every member anchors its last windows and logs its
    // clean stop, the chain last; no process is left.
    await stopDemo(demo);
    saveOutput(demo, "first-start");
    expectCleanStop(demo);

    // Again: the same consortium, continued.
    demo = startDemo(site);
    await ready(demo);
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

  });

  it("stops every member cleanly on Ctrl-C when the chain went down first", async () => {
    if (!demo) throw new Error("needs the demo the test before left running");
    const chainPid = Number(/chain up \(pid (\d+)\)/.exec(demo.output())?.[1]);
    expect(chainPid).toBeGreaterThan(0);
    process.kill(chainPid, "SIGKILL");
    await stopDemo(demo);
    saveOutput(demo, "restart");
    // No member ended on an unhandled rejection with its status left "running": each stopped
    // cleanly (windows it could not anchor stay pending, and are anchored at the next start).
    for (const org of DEMO_ORGS) {
      expect(demo.output()).toContain(`[demo]     ${org.name}: stopped cleanly`);
      const log = lastSessionLog(site!, org.key);
      expect(log, `${org.name}'s log`).toContain(`[member] ${org.name}: stopped cleanly`);
      expect(log, `${org.name}'s log`).not.toMatch(/unhandled/i);
      expect(memberStatus(site!, org.key).running, `${org.name}'s status.json`).toBe(false);
    }
    demo = undefined;
  });
});
