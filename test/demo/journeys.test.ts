/**
 * The users' journeys on the real demo consortium (issue 19), in a real browser: `npm start` as a
 * user runs it (a temporary directory, free ports, a fast pace), one start shared by every
 * journey of this file. Each user signs in to its own member's explorer with the LOCAL DEMO key
 * the demo prints and opens what the demo says to look at; screenshots go to
 * reports/screenshots/journey-*.png. The run ends with one Ctrl-C, after which every member must
 * have logged a clean stop, the chain stopped last, and no process be left.
 */
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { itemKey } from "../../lib/identifiers/canonical.ts";
import { DEMO_ORGS, type DemoOrg, demoOrg } from "../../scripts/demo/consortium.ts";
import { type CycleItems, cycleItems } from "../../scripts/demo/story.ts";
import { SKIP_MESSAGE, type WatchedPage, hasChromium, launchBrowser, openPage, screenshot } from "../explorer/browser.ts";
import { type Demo, type DemoSite, demoSite, expectCleanStop, memberStatus, ready, saveOutput, startDemo, stopDemo, until } from "./harness.ts";

if (!hasChromium) console.warn(SKIP_MESSAGE);

/** What the demo printed for a user: each organisation's explorer and key, and per cycle where to look. */
interface Printed {
  explorer: (key: DemoOrg["key"]) => string;
  demoKey: (key: DemoOrg["key"]) => string;
  /** The cycle's "where to look" line: the pump's page and the heat's certificate. */
  cycle: (n: number) => { pumpPage: string; certificate: string; state: string; certificatePage: string };
}

function readPrinted(output: string): Printed {
  const lines = output.split("\n");
  const orgBlock = (key: DemoOrg["key"]) => {
    const name = demoOrg(key).name;
    const i = lines.findIndex((l) => new RegExp(`^\\s+#\\d+ ${name} \\[`).test(l));
    if (i < 0) throw new Error(`the demo did not print ${name}`);
    // Its indented lines, up to the next organisation's header.
    const end = lines.findIndex((l, j) => j > i && !/^\s{4,}\S/.test(l));
    return lines.slice(i + 1, end < 0 ? undefined : end).join("\n");
  };
  return {
    explorer: (key) => /explorer and API: (\S+)/.exec(orgBlock(key))![1]!,
    demoKey: (key) => /LOCAL DEMO key (0x[0-9a-f]{64})/.exec(orgBlock(key))![1]!,
    cycle: (n) => {
      const line = lines.find((l) => l.includes(`[scenario] cycle ${n} done; look at`));
      const m = line && /pump [^:]+: (\S+) ; heat \S+ certificate (0x[0-9a-f]{64}) \((valid|revoked)[^)]*\): (\S+)/.exec(line);
      if (!m) throw new Error(`the demo printed no "where to look" line for cycle ${n}${line ? ` that reads as one: ${line}` : ""}`);
      return { pumpPage: m[1]!, certificate: m[2]!, state: m[3]!, certificatePage: m[4]! };
    },
  };
}

describe.skipIf(!hasChromium)("the users' journeys on the running demo", { timeout: 30 * 60_000 }, () => {
  let site: DemoSite;
  let demo: Demo | undefined;
  let browser: Browser | undefined;
  let printed: Printed;
  const items = (cycle: number): CycleItems =>
    cycleItems({ steel: demoOrg("steel").site, foundry: demoOrg("foundry").site, machining: demoOrg("machining").site, oem: demoOrg("oem").site }, cycle);

  beforeAll(async () => {
    // Cycle 1 ends in a failed inspection and a recall (a valid certificate); cycle 2's certificate is revoked.
    site = await demoSite({ TRACEMESH_DEMO_RECALL_EVERY: "1", TRACEMESH_DEMO_REVOKE_EVERY: "2" });
    demo = startDemo(site);
    await ready(demo);
    await until("the scenario to finish its second cycle", async () => demo!.output().includes("[scenario] cycle 2 done"), demo, 20 * 60_000);
    printed = readPrinted(demo.output());
    browser = await launchBrowser();
  }, 40 * 60_000);

  afterAll(async () => {
    await browser?.close();
    if (demo) await stopDemo(demo).finally(() => saveOutput(demo!, "journeys"));
    site?.remove();
  }, 5 * 60_000);

  /** The organisation's explorer, signed in through the page with the key the demo printed. */
  async function signedIn(key: DemoOrg["key"]): Promise<WatchedPage> {
    const w = await openPage(browser!, printed.explorer(key));
    await w.page.goto(`${printed.explorer(key)}#/signin`);
    await w.page.getByLabel("Demo private key (printed by npm start)").fill(printed.demoKey(key));
    await w.page.getByRole("button", { name: "Sign in with the demo key" }).click();
    await w.page.getByTestId("signed-in").waitFor();
    return w;
  }

  const badges = (w: WatchedPage) => w.page.locator(".timeline .event [data-badge]").evaluateAll((els) => els.map((e) => e.getAttribute("data-badge")));
  /** Opens an item page and waits until every badge of its history is decided. */
  async function openItem(w: WatchedPage, url: string, key: string): Promise<(string | null)[]> {
    await w.page.goto(url);
    // The genealogy's root is this item: the page shows this item, not the one before.
    await w.page.locator(`.graph-list li[data-key="${key}"] strong`).waitFor({ timeout: 60_000 });
    await w.page.locator(".timeline .event").first().waitFor({ timeout: 60_000 });
    await expect.poll(async () => (await badges(w)).filter((b) => b === "checking").length, { timeout: 60_000 }).toBe(0);
    return badges(w);
  }

  it("the steel mill signs in with its printed key, opens a billet of heat H0001 and sees its own steps verified", async () => {
    const w = await signedIn("steel");
    const billet = items(1).billets[0]!;
    const seen = await openItem(w, `${printed.explorer("steel")}#/item/${encodeURIComponent(billet)}`, itemKey(billet));
    // Melted and cast, then shipped: the mill's own documents, each checked by the page against the chain.
    expect(seen.length).toBeGreaterThanOrEqual(2);
    expect(seen.slice(0, 2)).toEqual(["verified", "verified"]);
    expect(await w.page.locator(".timeline .event .event-what").first().textContent()).toContain("created");
    // The heat's recall reaches the billet.
    expect(await w.page.locator(".item-head .tag-red").count()).toBeGreaterThan(0);
    await screenshot(w.page, "journey-steel-billet");
    expect(w.foreign).toEqual([]);
    await w.page.context().close();
  });

  it("the OEM opens the pump the demo printed: its own steps verified, its genealogy back to the billets, the recall", async () => {
    const w = await signedIn("oem");
    const { pump, billets } = items(1);
    const seen = await openItem(w, printed.cycle(1).pumpPage, itemKey(pump));
    // Registered, assembled, failed its end-of-line test: the OEM's own documents.
    expect(seen.length).toBeGreaterThanOrEqual(3);
    expect(seen.every((b) => b === "verified")).toBe(true);
    const listed = await w.page.locator(".graph-list li").evaluateAll((els) => els.map((e) => e.getAttribute("data-key")));
    for (const billet of billets) expect(listed).toContain(itemKey(billet));
    expect(await w.page.locator(".recall-note").textContent()).toMatch(/\d/);
    await screenshot(w.page, "journey-oem-pump");
    expect(w.foreign).toEqual([]);
    await w.page.context().close();
  });

  it("the regulator opens the certificates by the ids the demo printed: one valid, one revoked for non-conformity", async () => {
    const w = await signedIn("regulator");
    const valid = printed.cycle(1);
    const revoked = printed.cycle(2);
    expect([valid.state, revoked.state]).toEqual(["valid", "revoked"]);

    await w.page.goto(valid.certificatePage);
    const validCard = w.page.locator(`.cert[data-state="valid"]`);
    await validCard.waitFor({ timeout: 60_000 });
    expect(await validCard.getAttribute("data-good")).toBe("yes");
    expect(await w.page.getByTestId("chain-check").getAttribute("data-chain-state")).toBe("valid");
    expect(await validCard.textContent()).toContain(valid.certificate);
    await screenshot(w.page, "journey-regulator-certificate-valid");

    await w.page.goto(revoked.certificatePage);
    const revokedCard = w.page.locator(`.cert[data-state="revoked"]`);
    await revokedCard.waitFor({ timeout: 60_000 });
    expect(await revokedCard.getAttribute("data-good")).toBe("no");
    expect(await w.page.getByTestId("chain-check").getAttribute("data-chain-state")).toBe("revoked");
    expect(await w.page.getByTestId("cert-reason").textContent()).toMatch(/conform/i);
    await screenshot(w.page, "journey-regulator-certificate-revoked");
    expect(w.foreign).toEqual([]);
    await w.page.context().close();
  });

  /*
   * The journeys of issue 19, on the same demo, before the Ctrl-C below.
   */
  describe("the journeys of issue 19", () => {
    // Genealogy grants reach the components (and the steel mill shares the pump's heat).
    it("the OEM sees every supplier step of the recalled pump verified, with the furnace, coolant and spindle charts verified reading by reading", async () => {
      const w = await signedIn("oem");
      const { pump } = items(1);
      const seen = await openItem(w, printed.cycle(1).pumpPage, itemKey(pump));
      expect(seen).toEqual(seen.map(() => "verified"));
      // Each supplier's step, with the process data bound to it, verified reading by reading.
      const steps = [
        { item: items(1).billets[0]!, stream: "furnace-1/temperature" },
        { item: items(1).castings[0]!, stream: "coolant-1/supplyTemperature" },
        { item: items(1).housings[0]!, stream: "Tracemesh/machining/CNC1/Spindle/Load" },
      ];
      for (const { item, stream } of steps) {
        const seen = await openItem(w, `${printed.explorer("oem")}#/item/${encodeURIComponent(item)}`, itemKey(item));
        expect(seen, `${item}: ${(await w.page.locator(".timeline .event").allInnerTexts()).join(" | ")}`).toEqual(seen.map(() => "verified"));
        await w.page.getByRole("link", { name: "Process data of this step" }).first().click();
        const chart = w.page.locator(`.stream[data-stream="${stream}"]`);
        await chart.waitFor({ timeout: 60_000 });
        expect(await chart.getAttribute("data-failed")).toBe("0");
        expect(Number(await chart.getAttribute("data-verified"))).toBeGreaterThan(0);
        await expect.poll(() => chart.locator("canvas").count(), { timeout: 15_000 }).toBeGreaterThan(0);
      }
      await screenshot(w.page, "journey-oem-supplier-steps");
      await w.page.context().close();
    });

    // Every acknowledged reading is provable; owners see who read their data.
    it("the steel mill sees its own furnace readings all verified, and who read them", async () => {
      const w = await signedIn("steel");
      const billet = items(1).billets[0]!;
      await openItem(w, `${printed.explorer("steel")}#/item/${encodeURIComponent(billet)}`, itemKey(billet));
      await w.page.getByRole("link", { name: "Process data of this step" }).first().click();
      const stream = w.page.locator(`.stream[data-stream="furnace-1/temperature"]`);
      await stream.waitFor({ timeout: 60_000 });
      expect(await stream.getAttribute("data-failed")).toBe("0");
      expect(Number(await stream.getAttribute("data-verified"))).toBeGreaterThan(0);
      // Who read them: the mill's access log names Atlas Motors, the grant that allowed it and its purpose.
      const oemReads = w.page.getByTestId("readers").locator("tbody tr").filter({ hasText: demoOrg("oem").name });
      expect(await oemReads.count()).toBeGreaterThan(0);
      for (const row of await oemReads.all()) {
        expect(await row.getAttribute("data-allowed-by")).toMatch(/^grant /);
        expect(await row.locator("td").nth(3).textContent()).toMatch(/^0x[0-9a-f]/);
      }
      await screenshot(w.page, "journey-steel-furnace-readings");
      await w.page.context().close();
    });

    // Regulators read what they oversee.
    it("the regulator reads the failed inspection and the recall of the pump", async () => {
      const w = await signedIn("regulator");
      const { pump } = items(1);
      const seen = await openItem(w, `${printed.explorer("regulator")}#/item/${encodeURIComponent(pump)}`, itemKey(pump));
      expect(seen).not.toContain("withheld");
      // Each event as the page describes it: what happened, then its business step and disposition.
      const events = () => w.page.locator(".timeline .event").allInnerTexts();
      expect((await events()).filter((e) => /inspecting/i.test(e) && /non-conformant/i.test(e)), (await events()).join(" | ")).toHaveLength(1);
      const billet = items(1).billets[0]!;
      expect(await openItem(w, `${printed.explorer("regulator")}#/item/${encodeURIComponent(billet)}`, itemKey(billet))).not.toContain("withheld");
      expect((await events()).filter((e) => /recalled/i.test(e)), (await events()).join(" | ")).not.toHaveLength(0);
      await screenshot(w.page, "journey-regulator-recall");
      await w.page.context().close();
    });

    it("every member's status shows no unverifiable reading, and every follow grows", async () => {
      for (const org of DEMO_ORGS) {
        const { ingest, p2p } = memberStatus(site, org.key);
        // Own readings commit to their window by receive time: a late or skewed source time is
        // counted and reported per stream (ingest.timing), never stored unverifiable.
        expect(ingest.failed, org.name).toBeUndefined();
        expect(ingest.skewedReadings, org.name).toBe(ingest.timing.reduce((n, t) => n + t.late + t.ahead, 0));
        // Readings received from partners: no window skipped as unverifiable, no honest peer blamed.
        for (const f of p2p?.follows ?? []) expect(f.unverifiable, `${org.name} following ${f.organisation}/${f.stream}`).toBe(0);
        expect(p2p?.misbehaviour ?? [], org.name).toEqual([]);
        expect(p2p?.banned ?? [], org.name).toEqual([]);
      }
      const follows = () => memberStatus(site, "oem").p2p!.follows.map((f) => f.received);
      const before = follows();
      expect(before.length).toBeGreaterThanOrEqual(3);
      await until("every follow of the OEM to grow", async () => follows().every((n, i) => n > before[i]!), demo!, 5 * 60_000);
    });
  });

  it("one Ctrl-C: the scenario stops first, every member anchors its last windows and logs its clean stop, the chain stops last, no process is left", async () => {
    await stopDemo(demo!);
    saveOutput(demo!, "journeys");
    expectCleanStop(demo!);
    demo = undefined;
  });
});
