/**
 * GET /workbench/items: an organisation's items a page at a time, past a thousand, with the search
 * and the status filter applied at the gateway; the workbench's item list in Chromium grows by a
 * page at a time ("more") and searches all items at the gateway. 1,200 castings are registered through the real
 * capture path (POST /capture, the chain, the index); five are shipped. Every page is distinct and
 * together they are the whole list; a token is bound to its list; another member, even signed in
 * at this gateway, and anonymous callers cannot list them.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { MyItemsAnswer } from "../../lib/api/stock.ts";
import type { CaptureJobAnswer } from "../../lib/api/capture.ts";
import { commission, epcisDocument, gtin, sgtin, ship } from "../../lib/epcis/builders.ts";
import { screenshot } from "../explorer/browser.ts";
import { FOUNDRY_GLN, FOUNDRY_SITE, OEM_GLN, type WorkbenchMembers, startWorkbenchMembers } from "../explorer/workbench-members.ts";

const GTIN = gtin(FOUNDRY_SITE, "00055");
const COUNT = 1200;
const serial = (n: number) => `P-${String(n).padStart(5, "0")}`;
const ITEMS = Array.from({ length: COUNT }, (_, i) => sgtin(GTIN, serial(i + 1)));
const SHIPPED = ITEMS.slice(700, 705);

describe("the workbench's item list, page by page", () => {
  let wb: WorkbenchMembers;
  const list = async (query: string, token = wb.members.foundry.token) => wb.members.foundry.gw.request(`/workbench/items${query}`, ...(token ? [{ token }] : []));
  const page = async (query: string) => {
    const res = await list(query);
    expect(res.status, await res.clone().text()).toBe(200);
    return (await res.json()) as MyItemsAnswer;
  };

  /** Posts one document to the foundry's gateway and waits for its capture job to succeed. */
  const capture = async (events: unknown[]) => {
    const { gw, token } = wb.members.foundry;
    const res = await gw.request("/capture", { method: "POST", token, body: JSON.stringify(epcisDocument(events as never, "2026-12-05T12:00:00Z")), headers: { "content-type": "application/ld+json" } });
    let job = (await res.json()) as CaptureJobAnswer;
    for (let i = 0; i < 2400 && (job.state === "pending" || job.state === "running"); i++) {
      await new Promise((r) => setTimeout(r, 50));
      job = (await (await gw.request(`/capture/${job.captureID}`, { token })).json()) as CaptureJobAnswer;
    }
    expect(job.state, JSON.stringify(job.errors ?? job)).toBe("succeeded");
  };

  beforeAll(async () => {
    wb = await startWorkbenchMembers("workbench-items");
    const time = "2026-12-05T10:00:00Z";
    const events = [];
    for (let at = 0; at < COUNT; at += 100) events.push(commission({ time, at: FOUNDRY_GLN, items: ITEMS.slice(at, at + 100), lot: "L-PAGES" }));
    // Ten events to a document, as the workbench sends them (lib/workbench/sheet.ts capturePages).
    for (let at = 0; at < events.length; at += 10) await capture(events.slice(at, at + 10));
    await capture([ship({ time: "2026-12-05T11:00:00Z", at: FOUNDRY_GLN, to: OEM_GLN, items: SHIPPED })]);
    // The index has seen the shipment.
    for (let i = 0; (await page("?status=inTransit")).items.length < 5; i++) {
      if (i > 600) throw new Error("the index did not see the shipment");
      await new Promise((r) => setTimeout(r, 100));
    }
  }, 600_000);

  afterAll(async () => {
    await wb?.stop();
  });

  it("pages through 1,200 items, each once, with their chain state", async () => {
    const seen: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const p = await page(`?perPage=500${token ? `&nextPageToken=${encodeURIComponent(token)}` : ""}`);
      expect(p.matching).toBe(COUNT);
      expect(p.organisation.name).toBe(wb.chain.orgs.foundry.name);
      seen.push(...p.items.map((i) => i.identifier));
      token = p.nextPageToken;
      pages++;
    } while (token !== undefined);
    expect(pages).toBe(3);
    // Each once, all of them (in the event store's order: event time, then the store's keys).
    expect(new Set(seen).size).toBe(COUNT);
    expect([...seen].sort()).toEqual([...ITEMS].sort());
    const first = await page("?perPage=1");
    expect(first.items[0]!.chain).toMatchObject({ kind: "item", status: "active", custodian: { id: wb.chain.orgs.foundry.id } });
  });

  it("searches and filters at the gateway", async () => {
    const found = await page(`?q=${encodeURIComponent("p-0070")}`);
    expect(found.matching).toBe(10); // P-00700 .. P-00709
    expect(found.items.map((i) => i.identifier).sort()).toEqual(ITEMS.slice(699, 709));
    const inTransit = await page("?status=inTransit&perPage=2");
    expect(inTransit.items).toHaveLength(2);
    expect(inTransit.items[0]!.chain).toMatchObject({ status: "inTransit", consignee: { id: wb.chain.orgs.oem.id } });
    const rest = await page(`?status=inTransit&perPage=2&nextPageToken=${encodeURIComponent(inTransit.nextPageToken!)}`);
    expect(rest.items).toHaveLength(2);
    expect([...inTransit.items, ...rest.items].every((i) => SHIPPED.includes(i.identifier))).toBe(true);
    expect(new Set([...inTransit.items, ...rest.items].map((i) => i.identifier)).size).toBe(4);
    const none = await page("?q=nothing-like-this");
    expect(none).toMatchObject({ items: [], matching: 0 });
    expect(none.nextPageToken).toBeUndefined();
  });

  it("the workbench in Chromium loads 500 at a time and searches all 1,200 at the gateway", async () => {
    const w = await wb.workbench("foundry", "stock");
    const pages = w.page.getByTestId("stock-pages");
    await expect.poll(() => pages.getAttribute("data-loaded"), { timeout: 30_000 }).toBe("500");
    expect(await pages.getAttribute("data-matching")).toBe(String(COUNT));
    expect(await w.page.locator("tr[data-item]").count()).toBe(500);
    await w.page.getByTestId("stock-more").click();
    await expect.poll(() => pages.getAttribute("data-loaded"), { timeout: 30_000 }).toBe("1000");
    await w.page.getByTestId("stock-more").click();
    await expect.poll(() => pages.getAttribute("data-loaded"), { timeout: 30_000 }).toBe(String(COUNT));
    expect(await w.page.getByTestId("stock-more").count()).toBe(0);
    expect(new Set(await w.page.locator("tr[data-item]").evaluateAll((rows) => rows.map((r) => r.getAttribute("data-item")))).size).toBe(COUNT);
    // Searching all items asks the gateway: ten match, all loaded at once.
    await w.page.getByTestId("stock-filter").fill("P-0070");
    await w.page.getByTestId("stock-search").click();
    await expect.poll(() => w.page.getByTestId("stock-pages").getAttribute("data-matching"), { timeout: 30_000 }).toBe("10");
    expect(await w.page.locator("tr[data-item]").count()).toBe(10);
    expect(await w.page.getByTestId("stock-filter").inputValue()).toBe("P-0070");
    await screenshot(w.page, "workbench-items-search-desktop");
    expect(w.errors).toEqual([]);
    await w.page.context().close();
  });

  it("refuses a token of another list, bad parameters, other members and anonymous callers", async () => {
    const first = await page("?perPage=10");
    const other = await list(`?perPage=20&nextPageToken=${encodeURIComponent(first.nextPageToken!)}`);
    expect(other.status).toBe(400);
    expect(await other.text()).toContain("belongs to a different list");
    for (const [query, says] of [
      ["?perPage=0", "perPage"],
      ["?perPage=1001", "perPage"],
      ["?status=lost", "status"],
      ["?nextPageToken=i.x", "malformed"],
      ["?sort=serial", "unknown query parameter `sort`"],
    ] as const) {
      const res = await list(query);
      expect(res.status, query).toBe(400);
      expect(await res.text()).toContain(says);
    }
    expect((await list("", "")).status).toBe(401);
    expect((await list("", await wb.members.foundry.gw.signIn("oem"))).status).toBe(403);
    // At its own gateway, the OEM's list has none of the foundry's castings (it has received none).
    const oem = (await (await wb.members.oem.gw.request("/workbench/items", { token: wb.members.oem.token })).json()) as MyItemsAnswer;
    expect(oem.items).toEqual([]);
  });
});
