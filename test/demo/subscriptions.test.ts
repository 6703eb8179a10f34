/**
 * The OEM's recall alerts on the running demo (issue 14): `npm start` as a user runs it, a recall
 * every cycle. The scenario subscribes the OEM's ERP (a webhook receiver, scripts/demo/recall-alerts.ts)
 * to the OEM member's `RecallAlerts`; when the steel mill recalls the cycle's heat, the OEM's member
 * log shows the alert as it sends it, naming the pump the OEM holds, and the ERP receives it with
 * a signature that verifies. The run ends with one Ctrl-C and a clean stop.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { canonicalIdentifier, itemKey } from "../../lib/identifiers/canonical.ts";
import { demoOrg } from "../../scripts/demo/consortium.ts";
import { cycleItems } from "../../scripts/demo/story.ts";
import { type Demo, type DemoSite, demoSite, expectCleanStop, lastSessionLog, ready, saveOutput, startDemo, stopDemo, until } from "./harness.ts";

describe("recall alerts on the running demo", { timeout: 30 * 60_000 }, () => {
  let site: DemoSite;
  let demo: Demo | undefined;

  beforeAll(async () => {
    site = await demoSite({ TRACEMESH_DEMO_RECALL_EVERY: "1", TRACEMESH_DEMO_REVOKE_EVERY: "1000" });
    demo = startDemo(site);
    await ready(demo);
  }, 20 * 60_000);

  afterAll(async () => {
    if (demo) await stopDemo(demo).finally(() => saveOutput(demo!, "subscriptions"));
    site?.remove();
  }, 5 * 60_000);

  it("the steel mill's recall reaches the OEM's ERP within seconds, with the pump the OEM holds, and the OEM's log shows it", async () => {
    const pump = cycleItems({ steel: demoOrg("steel").site, foundry: demoOrg("foundry").site, machining: demoOrg("machining").site, oem: demoOrg("oem").site }, 1).pump;
    const names = [pump, canonicalIdentifier(pump), itemKey(pump)];
    await until("the OEM's subscription", async () => demo!.output().includes("the OEM subscribed its ERP"), demo!, 10 * 60_000);
    const recalled = await until("the steel mill's recall", async () => demo!.output().includes("cycle 1: steel mill recalls heat"), demo!, 20 * 60_000);
    expect(recalled).toBe(true);
    const seenAt = Date.now();
    const line = await until(
      "the ERP's alert",
      async () => demo!.output().split("\n").find((l) => l.includes("the OEM's ERP received a recall alert (signature verified)") && names.some((n) => l.includes(n))),
      demo!,
      60_000,
    );
    // The scenario logs the recall once its capture finished; the alert follows within seconds.
    expect(Date.now() - seenAt).toBeLessThan(30_000);
    expect(line).toMatch(/organisation \d+ recalled; the OEM holds \d+ of the \d+ items/);
    const log = lastSessionLog(site, "oem");
    expect(log.split("\n").some((l) => /recall alert: record \d+ of organisation \d+ reaches \d+ item\(s\) organisation \d+ holds/.test(l) && names.some((n) => l.includes(n)))).toBe(true);
  });

  it("stops cleanly", async () => {
    const d = demo!;
    demo = undefined;
    await stopDemo(d).finally(() => saveOutput(d, "subscriptions"));
    expectCleanStop(d);
  }, 5 * 60_000);
});
