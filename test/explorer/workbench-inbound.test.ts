/**
 * Shipments in and out on the workbench, in real Chromium against real gateways and a real chain:
 * the foundry ships three castings to the OEM; the OEM sees the shipment incoming in its list,
 * learns that the foundry has not shared the identifiers (the chain names keys only), scans two
 * labels, receives them from the list on a phone and notes the missing one; the foundry's outgoing
 * list shows two received and one still on its way, in English and Chinese. The foundry's devices
 * view shows its press with its reading rate and the last anchored window, on a phone in both
 * languages (the node's status comes from a stand-in node here: no edge device runs in this test).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ItemAnswer } from "../../lib/api/trace.ts";
import { commission, gtin, sgtin, ship } from "../../lib/epcis/builders.ts";
import { itemKey } from "../../lib/identifiers/canonical.ts";
import type { NodeStatus } from "../../node/daemon.ts";
import { devicesView } from "../../node/devices-view.ts";
import { type TestChain } from "../helpers/gateway.ts";
import { PHONE, SKIP_MESSAGE, hasChromium, overflowsHorizontally, screenshot } from "./browser.ts";

import { FOUNDRY_GLN, FOUNDRY_SITE, OEM_GLN, type Who, type WorkbenchMembers, startWorkbenchMembers } from "./workbench-members.ts";

if (!hasChromium) console.warn(SKIP_MESSAGE);

const GTIN = gtin(FOUNDRY_SITE, "00021");
const SHIPPED = ["S-1", "S-2", "S-3"].map((s) => sgtin(GTIN, s));
const LOST = SHIPPED[2]!;


/** The foundry node's status as daemon.ts reports it: a press sending 90 readings a minute since its start, window 12 anchored 20 s ago. */
const STARTED = Date.now() - 120_000;
const foundryNode = {
  status: () =>
    ({
      startedAt: STARTED,
      node: "0x00000000000000000000000000000000000000f0",
      windows: { closed: 13, anchored: 12, pending: 1, open: null },
      lastAnchor: { sequence: 12, anchoredAt: Math.floor(Date.now() / 1000) - 20 },
      anchoring: { state: "idle", attempts: 0 },
      ingest: { skewedReadings: 2, timing: [{ stream: "press-7/force", late: 2, ahead: 0, maxLateMs: 6_500, maxAheadMs: 0, lastLagMs: 6_500 }] },
      adapters: [{ device: "press-7", state: "connected", readings: Math.round(((Date.now() - STARTED) / 60_000) * 90), gaps: 0 }],
    }) as unknown as NodeStatus,
  streamReadings: () => new Map([["press-7/force", Math.round(((Date.now() - STARTED) / 60_000) * 90)]]),
};

describe.skipIf(!hasChromium)("shipments in and out on the workbench", () => {
  let wb: WorkbenchMembers;
  let chain: TestChain;
  let members: WorkbenchMembers["members"];
  const workbench = (who: Who, tab: string, viewport?: typeof PHONE) => wb.workbench(who, tab, viewport);
  const item = async (id: string) => (await (await members.foundry.gw.request(`/items/${encodeURIComponent(id)}`, { token: members.foundry.token })).json()) as ItemAnswer;

  beforeAll(async () => {
    wb = await startWorkbenchMembers("inbound", { foundry: { devices: devicesView(foundryNode) } });
    ({ chain, members } = wb);
    // The foundry registers three castings and ships them to the OEM (the dispatch document stays with the foundry).
    await wb.capture("foundry", [commission({ time: new Date().toISOString(), at: FOUNDRY_GLN, items: SHIPPED })]);
    await wb.capture("foundry", [ship({ time: new Date().toISOString(), at: FOUNDRY_GLN, from: FOUNDRY_GLN, to: OEM_GLN, items: SHIPPED, despatchAdvice: "DA-77" })]);
  }, 240_000);

  afterAll(async () => {
    await wb?.stop();
  });

  it("the foundry's outgoing list shows the shipment on its way, with the identifiers it holds", async () => {
    for (const id of SHIPPED) await expect.poll(async () => (await item(id)).status, { timeout: 30_000 }).toBe("inTransit");
    const w = await workbench("foundry", "receive");
    const out = w.page.getByTestId("outgoing").locator("li[data-record]");
    await expect.poll(() => out.count(), { timeout: 30_000 }).toBe(1);
    expect(await out.getAttribute("data-open")).toBe("3");
    expect(await out.textContent()).toMatch(/^To Atlas Motors, shipped .* UTC: 3 of 3 items still on their way/);
    expect(await out.locator("li[data-state]").allTextContents()).toEqual(["S-1: on its way", "S-2: on its way", "S-3: on its way"]);
    expect(await w.page.getByTestId("incoming").textContent()).toContain("Nothing is on its way to you.");
    expect(w.errors).toEqual([]);
    await w.page.context().close();
  }, 240_000);

  it("the OEM sees the shipment incoming, learns what the foundry has not shared, and receives two of three from the list on a phone", async () => {
    const w = await workbench("oem", "receive", PHONE);
    const form = w.page.getByTestId("incoming-shipment");
    await form.waitFor({ timeout: 30_000 });
    expect(await form.locator("h3").textContent()).toMatch(/From .*3 items on their way/);
    // The OEM's node holds no document naming the items, and no grant covers them: keys only.
    expect(await w.page.getByTestId("unshared").textContent()).toMatch(/3 items are known to you only by their key.*has not shared their identifiers/);
    expect(await form.locator("li[data-key]").evaluateAll((els) => els.map((e) => e.getAttribute("data-key")))).toEqual(SHIPPED.map((i) => itemKey(i).toLowerCase()));
    expect(await form.locator("input[type=checkbox]:enabled").count()).toBe(0);
    expect(await w.page.getByTestId("incoming-receive").isDisabled()).toBe(true);
    // A label from elsewhere is named and not taken.
    await w.page.getByTestId("scan-ids").fill(`${SHIPPED[0]}\n${SHIPPED[1]}\n${sgtin(GTIN, "X-9")}`);
    await w.page.getByTestId("scan-match").click();
    expect(await form.locator(".error").textContent()).toContain(`${sgtin(GTIN, "X-9")} is not in this shipment`);
    expect(await form.locator("input[type=checkbox]:checked").count()).toBe(2);
    await w.page.getByTestId("incoming-site").fill(OEM_GLN);
    await w.page.getByTestId("incoming-note").fill("S-3 not in the crate");
    expect(await w.page.getByTestId("incoming-receive").textContent()).toBe("Receive 2 items, 1 missing");
    await screenshot(w.page, "workbench-incoming-phone");
    expect(await overflowsHorizontally(w.page)).toBe(false);
    await w.page.getByTestId("incoming-receive").click();
    // The form shows the capture's progress, then leaves with the list's reload once the receipt is
    // indexed; what stays is the list's note of the receipt (a refusal would stay in the form).
    const outcome = async () =>
      (await w.page.getByTestId("shipments-received").count()) > 0
        ? await w.page.getByTestId("shipments-received").textContent()
        : ((await form.getByTestId("capture-status").textContent({ timeout: 1_000 }).catch(() => null)) ?? "sending");
    await expect.poll(outcome, { timeout: 120_000 }).toBe("Done: all 2 items are recorded on the chain.");
    for (const id of SHIPPED.slice(0, 2)) await expect.poll(async () => (await item(id)).custodian?.id, { timeout: 30_000 }).toBe(chain.orgs.oem.id);
    expect(await item(LOST)).toMatchObject({ status: "inTransit", consignee: { id: chain.orgs.oem.id } });
    const [receipt] = (await members.oem.events.store.query({ bizStep: ["receiving"] }, { perPage: 5, audience: "test", filter: async () => true })).events;
    expect(receipt!.event["tm:discrepancy"]).toEqual({ "tm:missing": [itemKey(LOST).toLowerCase()], "tm:note": "S-3 not in the crate" });
    // Refreshed, the shipment still waits for the one item that did not come.
    await w.page.getByTestId("shipments-refresh").click();
    await expect.poll(() => w.page.getByTestId("incoming-shipment").locator("h3").textContent(), { timeout: 30_000 }).toMatch(/1 items on their way/);
    expect(w.errors).toEqual([]);
    await w.page.context().close();
  }, 240_000);

  it("the foundry's outgoing list shows what the OEM received, in Chinese", async () => {
    const w = await workbench("foundry", "receive");
    const out = w.page.getByTestId("outgoing").locator("li[data-record]");
    await expect.poll(() => out.getAttribute("data-open"), { timeout: 30_000 }).toBe("1");
    expect(await out.locator("li[data-state]").evaluateAll((els) => els.map((e) => e.getAttribute("data-state")))).toEqual(["received", "received", "in-transit"]);
    await screenshot(w.page, "workbench-outgoing-desktop");
    await w.page.locator("[data-lang=zh]").click();
    await expect.poll(() => out.textContent()).toContain("3 件中仍有 1 件在途");
    await out.locator("summary").click();
    expect(await out.locator("li[data-state]").allTextContents()).toEqual(["S-1: 已收货", "S-2: 已收货", "S-3: 在途"]);
    await screenshot(w.page, "workbench-outgoing-zh-desktop");
    expect(w.errors).toEqual([]);
    await w.page.context().close();
  }, 240_000);

  it("the foundry's devices view shows its press, its rate, late readings and the last anchored window, on a phone in English and Chinese", async () => {
    const w = await workbench("foundry", "devices", PHONE);
    const press = w.page.locator('li[data-device="press-7"]');
    await press.waitFor({ timeout: 30_000 });
    expect(await press.getAttribute("data-state")).toBe("connected");
    expect(Number(await press.getAttribute("data-rate"))).toBeCloseTo(90, -1);
    expect(await press.textContent()).toMatch(/press-7: connected, \d+(\.\d)? readings a minute/);
    expect(await w.page.locator('li[data-stream="press-7/force"]').textContent()).toContain("2 late (up to 6.5 s)");
    const anchoring = w.page.getByTestId("anchoring");
    expect(await anchoring.getAttribute("data-anchored")).toBe("12");
    expect(await anchoring.textContent()).toMatch(/Last anchored window: 12, 2\d s ago; 1 windows waiting/);
    await screenshot(w.page, "workbench-devices-phone");
    expect(await overflowsHorizontally(w.page)).toBe(false);
    await w.page.locator("[data-lang=zh]").click();
    await expect.poll(() => anchoring.textContent()).toMatch(/最近锚定的窗口：12/);
    expect(await press.textContent()).toMatch(/每分钟 [\d.]+ 条读数/);
    await screenshot(w.page, "workbench-devices-zh-phone");
    expect(await overflowsHorizontally(w.page)).toBe(false);
    // Only the foundry reads its devices: the OEM, signed in at the foundry's gateway, gets nothing.
    expect((await members.foundry.gw.request("/workbench/devices", { token: await members.foundry.gw.signIn("oem") })).status).toBe(403);
    expect(w.errors).toEqual([]);
    await w.page.context().close();
  }, 240_000);
});
