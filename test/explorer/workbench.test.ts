/**
 * A supplier's workbench in real Chromium against real gateways and a real chain: the foundry
 * uploads a spreadsheet of 100 serials (a malformed row first: shown with its fault, nothing
 * captured until it is fixed), registers them, prints their labels, and a QR code decoded from the
 * rendered sheet resolves to the item; it ships 10 to the OEM; the OEM opens the dispatch
 * document, receives 9 and notes the missing one; both inventories agree with the chain. Every
 * write goes through POST /capture: anonymous callers and other members are refused there, and a
 * member cannot ship what it does not hold.
 */
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CaptureJobAnswer } from "../../lib/api/capture.ts";
import type { ItemAnswer } from "../../lib/api/trace.ts";
import { cancelShipment, epcisDocument, gtin, sgtin, ship } from "../../lib/epcis/builders.ts";
import { canonicalIdentifier } from "../../lib/identifiers/canonical.ts";
import { type TestChain } from "../helpers/gateway.ts";
import { PHONE, SCREENSHOTS, SKIP_MESSAGE, type WatchedPage, decodeQr, hasChromium, inPage, overflowsHorizontally, screenshot } from "./browser.ts";

import { FOUNDRY_GLN, FOUNDRY_SITE, OEM_GLN, type Who, type WorkbenchMembers, startWorkbenchMembers } from "./workbench-members.ts";

if (!hasChromium) console.warn(SKIP_MESSAGE);

const GTIN = gtin(FOUNDRY_SITE, "00021");
const serial = (n: number) => `C-${String(n).padStart(4, "0")}`;
const ITEMS = Array.from({ length: 100 }, (_, i) => sgtin(GTIN, serial(i + 1)));
/** C-0010 .. C-0019: the ten the foundry ships; C-0013 never arrives. */
const SHIPPED = ITEMS.slice(9, 19);
const LOST = sgtin(GTIN, "C-0013");

const sheet = (rows: string[][]) => ["gtin,serial,lot,production_date,location", ...rows.map((r) => r.join(","))].join("\r\n") + "\r\n";
const goodRows = () => Array.from({ length: 100 }, (_, i) => [GTIN, serial(i + 1), "L2026-12", "2026-12-01", FOUNDRY_GLN]);


describe.skipIf(!hasChromium)("the supplier's workbench in Chromium", () => {
  let wb: WorkbenchMembers;
  let chain: TestChain;
  let members: WorkbenchMembers["members"];
  const workbench = (who: Who, tab: string, viewport?: typeof PHONE) => wb.workbench(who, tab, viewport);

  beforeAll(async () => {
    wb = await startWorkbenchMembers("workbench");
    ({ chain, members } = wb);
  }, 240_000);

  afterAll(async () => {
    await wb?.stop();
  });

  const jobs = async (who: Who) => (await (await members[who].gw.request("/capture", { token: members[who].token })).json()) as CaptureJobAnswer[];
  const item = async (id: string) => (await (await members.foundry.gw.request(`/items/${encodeURIComponent(id)}`, { token: members.foundry.token })).json()) as ItemAnswer;
  const upload = (w: WatchedPage, testId: string, name: string, text: string) =>
    w.page.getByTestId(testId).setInputFiles({ name, mimeType: "text/csv", buffer: Buffer.from(text) });
  const captured = (w: WatchedPage) => expect.poll(() => w.page.getByTestId("capture-status").getAttribute("data-ok"), { timeout: 120_000 }).toBe("true");

  it("the foundry's malformed row is named and nothing is captured; fixed, 100 serials are registered and labelled, and a label's QR resolves to the item", async () => {
    const w = await workbench("foundry", "register");
    const bad = goodRows();
    bad[50] = [GTIN.slice(0, 13) + String((Number(GTIN[13]) + 1) % 10), serial(51), "L2026-12", "2026-12-01", FOUNDRY_GLN];
    await upload(w, "sheet-file", "castings.csv", sheet(bad));
    const summary = w.page.getByTestId("sheet-summary");
    await expect.poll(() => summary.getAttribute("data-faults")).toBe("1");
    expect(await w.page.getByTestId("sheet-faults").textContent()).toMatch(/Row 52, gtin: GTIN check digit is \d, expected \d/);
    expect(await w.page.locator('tr[data-row="52"] td.bad-cell').textContent()).toBe(bad[50]![0]);
    expect(await w.page.locator("tr.bad").count()).toBe(1);
    expect(await w.page.getByTestId("register").isDisabled()).toBe(true);
    await screenshot(w.page, "workbench-register-fault-desktop");
    expect(await jobs("foundry")).toEqual([]);

    await upload(w, "sheet-file", "castings.csv", sheet(goodRows()));
    await expect.poll(() => summary.getAttribute("data-items")).toBe("100");
    expect(await summary.getAttribute("data-faults")).toBe("0");
    await w.page.getByTestId("register").click();
    await captured(w);
    expect((await jobs("foundry")).map((j) => j.state)).toEqual(["succeeded"]);
    await expect.poll(async () => (await item(ITEMS[99]!)).custodian?.id, { timeout: 30_000 }).toBe(chain.orgs.foundry.id);

    // Labels: 100 on five A4 sheets of 3 x 8; the first label's QR, as rendered, leads to its item.
    const pages = w.page.getByTestId("label-pages");
    expect(await pages.locator(".label-page").count()).toBe(5);
    expect(await pages.locator("g[data-label]").count()).toBe(100);
    await screenshot(w.page, "workbench-registered-labels-desktop");
    const first = pages.locator("g[data-label]").first();
    expect(await first.getAttribute("data-label")).toBe(ITEMS[0]);
    const png = await first.screenshot({ path: path.join(SCREENSHOTS, "workbench-label.png") });
    const link = await decodeQr(wb.browser, png);
    expect(link).toBe(`${members.foundry.gw.url}/01/${GTIN}/21/C-0001`);
    expect(await first.textContent()).toBe(`(01)${GTIN}(21)C-0001`);
    const resolved = await fetch(link!, { redirect: "manual", headers: { accept: "text/html" } });
    expect(resolved.status).toBe(303);
    const itemPage = resolved.headers.get("location")!;
    expect(itemPage).toContain(`#/item/${encodeURIComponent(canonicalIdentifier(ITEMS[0]!))}`);
    await w.page.goto(new URL(itemPage, members.foundry.gw.url).toString());
    await w.page.locator(".timeline .event").first().waitFor({ timeout: 20_000 });
    expect(w.foreign).toEqual([]);
    expect(w.errors).toEqual([]);
    await w.page.context().close();
  });

  it("every write is a capture at one's own gateway: anonymous and other members are refused, no one ships what it does not hold", async () => {
    const doc = epcisDocument([ship({ time: new Date().toISOString(), at: OEM_GLN, to: FOUNDRY_GLN, items: [ITEMS[0]!] })], new Date().toISOString());
    const post = (who: Who, token?: string) => members[who].gw.request("/capture", { method: "POST", ...(token ? { token } : {}), body: JSON.stringify(doc), headers: { "content-type": "application/ld+json" } });
    expect((await post("foundry")).status).toBe(401);
    // The OEM signs in at the foundry's gateway: it captures at its own node only.
    expect((await post("foundry", await members.foundry.gw.signIn("oem"))).status).toBe(403);
    // At its own node, the OEM cannot ship the foundry's casting: the chain refuses, nothing is recorded.
    const accepted = (await (await post("oem", members.oem.token)).json()) as CaptureJobAnswer;
    let job = accepted;
    for (let i = 0; i < 400 && (job.state === "pending" || job.state === "running"); i++) {
      await new Promise((r) => setTimeout(r, 50));
      job = (await (await members.oem.gw.request(`/capture/${accepted.captureID}`, { token: members.oem.token })).json()) as CaptureJobAnswer;
    }
    expect(job.state).toBe("failed");
    expect(JSON.stringify(job.errors)).toMatch(/Provenance.ship refused: NotCustodian/);
    expect((await item(ITEMS[0]!)).status).toBe("active");
    // Another member cannot follow the OEM's capture job, nor can anyone anonymous.
    expect((await members.oem.gw.request(`/capture/${accepted.captureID}`, { token: await members.oem.gw.signIn("steel") })).status).toBe(404);
    expect((await members.oem.gw.request(`/capture/${accepted.captureID}`)).status).toBe(401);
  });

  let dispatch = "";

  it("the foundry ships ten castings to the OEM with their dispatch document", async () => {
    const w = await workbench("foundry", "stock");
    const count = w.page.getByTestId("stock-count");
    await expect.poll(() => count.getAttribute("data-held"), { timeout: 30_000 }).toBe("100");
    await w.page.getByTestId("stock-filter").fill("C-001");
    await w.page.getByRole("button", { name: "Select all shown that you hold" }).click();
    await w.page.getByTestId("ship-open").click();
    await w.page.getByTestId("ship-from").fill(FOUNDRY_GLN);
    await w.page.getByTestId("ship-to").fill(OEM_GLN);
    await w.page.getByTestId("ship-advice").fill("DA-4711");
    await w.page.getByTestId("ship-send").click();
    await captured(w);
    const href = await w.page.getByTestId("dispatch-download").getAttribute("href");
    dispatch = decodeURIComponent(href!.replace(/^data:text\/csv;charset=utf-8,/, ""));
    expect(dispatch.trim().split(/\r\n/)).toHaveLength(11);
    await screenshot(w.page, "workbench-shipped-desktop");
    for (const id of SHIPPED) await expect.poll(async () => (await item(id)).status, { timeout: 30_000 }).toBe("inTransit");
    expect((await item(SHIPPED[0]!)).consignee?.id).toBe(chain.orgs.oem.id);
    expect(w.errors).toEqual([]);
    await w.page.context().close();
  });

  it("the OEM receives nine on a phone, noting the missing one; both inventories agree with the chain", async () => {
    const w = await workbench("oem", "receive", PHONE);
    await upload(w, "dispatch-file", "dispatch-DA-4711.csv", dispatch);
    const form = w.page.getByTestId("receive-form");
    await form.waitFor();
    expect(await form.locator("input[type=checkbox]:checked").count()).toBe(10);
    await form.locator(`li[data-item="${LOST}"] input`).uncheck();
    await w.page.getByTestId("receive-note").fill("C-0013 missing from the crate; carrier informed");
    expect(await w.page.getByTestId("receive-send").textContent()).toBe("Receive 9 items, 1 missing");
    await screenshot(w.page, "workbench-receive-phone");
    expect(await overflowsHorizontally(w.page)).toBe(false);
    await w.page.getByTestId("receive-send").click();
    await captured(w);
    for (const id of SHIPPED.filter((i) => i !== LOST)) await expect.poll(async () => (await item(id)).custodian?.id, { timeout: 30_000 }).toBe(chain.orgs.oem.id);
    expect(await item(LOST)).toMatchObject({ status: "inTransit", custodian: { id: chain.orgs.foundry.id }, consignee: { id: chain.orgs.oem.id } });
    // The receipt names what was missing and why.
    const [receipt] = (await members.oem.events.store.query({ bizStep: ["receiving"] }, { perPage: 5, audience: "test", filter: async () => true })).events;
    expect(receipt!.event["tm:discrepancy"]).toEqual({ "tm:missing": [LOST], "tm:note": "C-0013 missing from the crate; carrier informed" });

    // The OEM's items: the nine it received, all in its hands.
    await w.page.goto(`${members.oem.gw.url}/explorer/#/workbench/stock`);
    const count = w.page.getByTestId("stock-count");
    await expect.poll(() => count.getAttribute("data-held"), { timeout: 30_000 }).toBe("9");
    expect(await count.getAttribute("data-items")).toBe("9");
    await screenshot(w.page, "workbench-stock-oem-phone");
    expect(await overflowsHorizontally(w.page)).toBe(false);
    expect(w.errors).toEqual([]);
    await w.page.context().close();

    // The foundry's: 100 registered, 90 in its hands, one still on its way to the OEM; in Chinese.
    const f = await workbench("foundry", "stock");
    await f.page.locator("[data-lang=zh]").click();
    const fc = f.page.getByTestId("stock-count");
    await expect.poll(() => fc.getAttribute("data-held"), { timeout: 30_000 }).toBe("90");
    expect(await fc.getAttribute("data-items")).toBe("100");
    expect(await f.page.locator(`tr[data-item="${LOST}"]`).getAttribute("data-status")).toBe("inTransit");
    expect(await f.page.locator(".tabs").textContent()).toContain("我的物品与发货");
    await screenshot(f.page, "workbench-stock-foundry-zh-desktop");
    expect(await inPage<string>(f.page, "document.documentElement.lang")).toBe("zh-CN");
    expect(f.errors).toEqual([]);
    await f.page.context().close();
  });

  it("only the sender cancels the shipment of the missing casting: it is back in the foundry's hands", async () => {
    // The OEM, at its own node, cannot void the foundry's shipment.
    const doc = epcisDocument([cancelShipment({ time: new Date().toISOString(), at: OEM_GLN, items: [LOST] })], new Date().toISOString());
    const accepted = (await (await members.oem.gw.request("/capture", { method: "POST", token: members.oem.token, body: JSON.stringify(doc), headers: { "content-type": "application/ld+json" } })).json()) as CaptureJobAnswer;
    let job = accepted;
    for (let i = 0; i < 400 && (job.state === "pending" || job.state === "running"); i++) {
      await new Promise((r) => setTimeout(r, 50));
      job = (await (await members.oem.gw.request(`/capture/${accepted.captureID}`, { token: members.oem.token })).json()) as CaptureJobAnswer;
    }
    expect(job.state).toBe("failed");
    expect(JSON.stringify(job.errors)).toMatch(/Provenance.cancelShipment refused: NotCustodian/);

    const w = await workbench("foundry", "stock");
    await expect.poll(() => w.page.getByTestId("stock-count").getAttribute("data-items"), { timeout: 30_000 }).toBe("100");
    await w.page.getByTestId("stock-filter").fill("C-0013");
    await w.page.locator(`tr[data-item="${LOST}"] input`).check();
    await w.page.getByTestId("cancel-open").click();
    await w.page.getByTestId("cancel-site").fill(FOUNDRY_GLN);
    await w.page.getByTestId("cancel-send").click();
    await captured(w);
    await expect.poll(async () => (await item(LOST)).status, { timeout: 30_000 }).toBe("active");
    expect((await item(LOST)).custodian?.id).toBe(chain.orgs.foundry.id);
    await screenshot(w.page, "workbench-cancelled-desktop");
    expect(w.errors).toEqual([]);
    await w.page.context().close();
  });

  it("the foundry transforms two castings into a machined part and recalls another, from its items", async () => {
    const w = await workbench("foundry", "stock");
    await expect.poll(() => w.page.getByTestId("stock-count").getAttribute("data-held"), { timeout: 30_000 }).toBe("91");
    const step = async (inputs: string[], action: string, extra: Record<string, string> = {}) => {
      await w.page.goto(`${members.foundry.gw.url}/explorer/#/workbench/register`);
      await w.page.goto(`${members.foundry.gw.url}/explorer/#/workbench/stock`);
      await w.page.getByTestId("stock-count").waitFor();
      for (const id of inputs) await w.page.locator(`tr[data-item="${id}"] input`).check();
      await w.page.getByTestId("make-open").click();
      await w.page.getByTestId("make-action").selectOption(action);
      for (const [k, v] of Object.entries(extra)) await w.page.getByTestId(k).fill(v);
      await w.page.getByTestId("make-site").fill(FOUNDRY_GLN);
      await w.page.getByTestId("make-send").click();
      await captured(w);
    };
    const machined = sgtin(gtin(FOUNDRY_SITE, "00031"), "M-1");
    await step([ITEMS[0]!, ITEMS[1]!], "transform", { "make-gtin": gtin(FOUNDRY_SITE, "00031"), "make-serials": "M-1" });
    await screenshot(w.page, "workbench-transform-desktop");
    await expect.poll(async () => (await item(machined)).custodian?.id, { timeout: 30_000 }).toBe(chain.orgs.foundry.id);
    expect((await item(ITEMS[0]!)).status).toBe("consumed");
    await step([ITEMS[2]!], "recall");
    await expect.poll(async () => (await item(ITEMS[2]!)).recalled, { timeout: 30_000 }).toBe(true);
    expect(w.errors).toEqual([]);
    await w.page.context().close();
  });
});
