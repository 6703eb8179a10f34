/**
 * Parts and statements named across nodes, on the running demo (issue 17): `npm start` as a user
 * runs it (temporary directory, free ports, fast pace, cycle 1 recalled and its certificate
 * revoked), one start for this file. The OEM opens its pump: the billets of the steel mill (with
 * their heat) and the castings of the foundry are named by GTIN and serial, their documents
 * fetched from the suppliers' nodes and verified; the test lab, holding no grant, still sees keys.
 * The regulator opens the revoked certificate and reads the statement text its node fetched from
 * the lab's node. Screenshots go to reports/screenshots/genealogy-demo-*.png; the run ends with one
 * Ctrl-C and a clean stop.
 */
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CertificateAnswer } from "../../lib/api/certificates.ts";
import type { GenealogyAnswer } from "../../lib/api/trace.ts";
import { itemKey } from "../../lib/identifiers/canonical.ts";
import { demoWallet } from "../../scripts/demo/accounts.ts";
import { type DemoOrg, demoOrg } from "../../scripts/demo/consortium.ts";
import { type CycleItems, cycleItems } from "../../scripts/demo/story.ts";
import { SKIP_MESSAGE, type WatchedPage, hasChromium, launchBrowser, openPage, screenshot } from "../explorer/browser.ts";
import { type Demo, type DemoSite, demoSite, expectCleanStop, ready, saveOutput, startDemo, stopDemo, until } from "./harness.ts";

if (!hasChromium) console.warn(SKIP_MESSAGE);

const serialOf = (digitalLink: string) => decodeURIComponent(digitalLink.split("/21/")[1]!);

describe.skipIf(!hasChromium)("parts and statements named across nodes on the running demo", { timeout: 30 * 60_000 }, () => {
  let site: DemoSite;
  let demo: Demo | undefined;
  let browser: Browser | undefined;
  let certificate: string;
  const items: CycleItems = cycleItems({ steel: demoOrg("steel").site, foundry: demoOrg("foundry").site, machining: demoOrg("machining").site, oem: demoOrg("oem").site }, 1);
  const explorer = (key: DemoOrg["key"]) => `${site.gatewayOf(key)}/explorer/`;
  const genealogyAt = (key: DemoOrg["key"]) => site.clientOf(key).json<GenealogyAnswer>("GET", `/items/${encodeURIComponent(items.pump)}/genealogy?direction=backward`);
  const nodeOf = (g: GenealogyAnswer, epc: string) => g.nodes.find((n) => n.key === itemKey(epc));

  beforeAll(async () => {
    site = await demoSite({ TRACEMESH_DEMO_RECALL_EVERY: "1", TRACEMESH_DEMO_REVOKE_EVERY: "1" });
    demo = startDemo(site);
    await ready(demo);
    const line = await until(
      "the scenario to finish its first cycle",
      async () => demo!.output().split("\n").find((l) => l.includes("[scenario] cycle 1 done")),
      demo,
      20 * 60_000,
    );
    certificate = /certificate (0x[0-9a-f]{64}) \(revoked/.exec(line)![1]!;
    browser = await launchBrowser();
  }, 40 * 60_000);

  afterAll(async () => {
    await browser?.close();
    if (demo) await stopDemo(demo).finally(() => saveOutput(demo!, "genealogy"));
    site?.remove();
  }, 5 * 60_000);

  async function signedIn(key: DemoOrg["key"]): Promise<WatchedPage> {
    const w = await openPage(browser!, explorer(key));
    await w.page.goto(`${explorer(key)}#/signin`);
    await w.page.getByLabel("Demo private key (printed by npm start)").fill(demoWallet(demoOrg(key).accountIndex).privateKey);
    await w.page.getByRole("button", { name: "Sign in with the demo key" }).click();
    await w.page.getByTestId("signed-in").waitFor();
    return w;
  }

  it("the OEM opens its pump: the mill's billets (with their heat) and the foundry's castings are named, fetched from the suppliers' nodes", async () => {
    // The OEM's node brings the suppliers' documents over on the first asks (each ask waits at most a few seconds).
    const g = await until(
      "the OEM's genealogy to name every supplier part",
      async () => {
        const answer = await genealogyAt("oem");
        const named = [...items.billets, ...items.castings].every((p) => nodeOf(answer, p)?.digitalLink !== undefined);
        return named && items.billets.every((b) => nodeOf(answer, b)?.batchDigitalLink !== undefined) && answer;
      },
      demo!,
      120_000,
    );
    for (const billet of items.billets) {
      expect(nodeOf(g, billet)).toMatchObject({ digitalLink: expect.stringContaining(`/21/${serialOf(billet)}`), batchDigitalLink: expect.stringContaining(`/10/${items.heat}`) });
    }
    for (const casting of items.castings) expect(nodeOf(g, casting)).toMatchObject({ digitalLink: expect.stringContaining(`/21/${serialOf(casting)}`) });

    // Hostile: the test lab holds no grant on the pump: its own node names none of the parts.
    const lab = await genealogyAt("lab");
    for (const p of [...items.billets, ...items.castings]) {
      expect(nodeOf(lab, p), JSON.stringify(lab.nodes)).toBeDefined();
      expect(nodeOf(lab, p)!.digitalLink).toBeUndefined();
      expect(nodeOf(lab, p)!.batchDigitalLink).toBeUndefined();
    }

    const w = await signedIn("oem");
    await w.page.goto(`${explorer("oem")}#/item/${encodeURIComponent(items.pump)}`);
    const billet = w.page.locator(`.graph-list li[data-key="${itemKey(items.billets[0]!)}"]`);
    await billet.waitFor({ timeout: 60_000 });
    const text = (await billet.textContent())!;
    expect(text).toContain(`S/N ${serialOf(items.billets[0]!)}`);
    expect(text).toContain(`lot ${items.heat}`);
    expect(await w.page.locator(`.graph-list li[data-key="${itemKey(items.castings[0]!)}"]`).textContent()).toContain(`S/N ${serialOf(items.castings[0]!)}`);
    await expect.poll(() => w.page.getByTestId("genealogy-graph").locator("canvas").count(), { timeout: 30_000 }).toBeGreaterThan(0);
    await w.page.getByTestId("genealogy-graph").scrollIntoViewIfNeeded();
    await screenshot(w.page, "genealogy-demo-oem-pump");
    expect(w.foreign).toEqual([]);
    await w.page.context().close();
  });

  it("the regulator opens the revoked certificate and reads the statement its node fetched from the lab's node", async () => {
    // The regulator's node keeps no statements of the lab: the text comes over the peer network.
    const answer = await until(
      "the statement to arrive at the regulator's node",
      async () => {
        const c = await site.clientOf("regulator").json<CertificateAnswer>("GET", `/certificates/${certificate}`);
        return c.statement?.status === "verified" && c;
      },
      demo!,
      60_000,
    );
    expect(answer.statement).toMatchObject({ status: "verified", from: "issuer-node", text: expect.stringContaining(`Heat ${items.heat}`) });
    const w = await signedIn("regulator");
    await w.page.goto(`${explorer("regulator")}#/certificate/${certificate}`);
    const statement = w.page.getByTestId("cert-statement");
    await statement.waitFor({ timeout: 60_000 });
    expect(await statement.getAttribute("data-status")).toBe("verified");
    expect(await statement.locator(".statement-text").textContent()).toContain(`revocation of mill test certificate ${certificate}`);
    await screenshot(w.page, "genealogy-demo-regulator-statement");
    expect(w.foreign).toEqual([]);
    await w.page.context().close();
  });

  it("one Ctrl-C stops the demo cleanly", async () => {
    await stopDemo(demo!);
    saveOutput(demo!, "genealogy");
    expectCleanStop(demo!);
    demo = undefined;
  });
});
