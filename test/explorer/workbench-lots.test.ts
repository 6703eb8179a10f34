/**
 * Lots by quantity on the workbench, in real Chromium against real gateways and a real chain: the
 * foundry registers 500 kg of a lot from the form, ships 120 kg to the OEM; the OEM (on a phone)
 * receives 100 kg with the shortfall noted; both inventories agree with Provenance's balances, and
 * the 20 kg not received stay in transit until the foundry withdraws them into its stock. A
 * quantity above what is held (or in transit) is refused before sending. The receive form names
 * the sender's party GLN itself, from the receiver node's directory of parties.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { gtin, lgtin } from "../../lib/epcis/builders.ts";
import type { MyLotsAnswer } from "../../lib/api/lots.ts";
import { batchKey } from "../../lib/identifiers/canonical.ts";
import { PHONE, SKIP_MESSAGE, hasChromium, overflowsHorizontally, screenshot } from "./browser.ts";
import { FOUNDRY_GLN, FOUNDRY_SITE, OEM_GLN, type WorkbenchMembers, startWorkbenchMembers } from "./workbench-members.ts";

if (!hasChromium) console.warn(SKIP_MESSAGE);

const GTIN = gtin(FOUNDRY_SITE, "00031");
const SAND = lgtin(GTIN, "SAND-1");

describe.skipIf(!hasChromium)("lots by quantity on the workbench", () => {
  let wb: WorkbenchMembers;
  const balance = (who: "foundry" | "oem") => wb.chain.orgs.foundry.contracts.provenance.lotBalanceOf(batchKey(SAND), wb.chain.orgs[who].id);

  beforeAll(async () => {
    wb = await startWorkbenchMembers("lots");
  }, 240_000);
  afterAll(async () => {
    await wb?.stop();
  });

  it("the foundry registers a lot by quantity and ships part of it; more than it holds is refused", async () => {
    const w = await wb.workbench("foundry", "lots");
    const form = w.page.getByTestId("lot-register");
    await form.waitFor({ timeout: 30_000 });
    await w.page.getByTestId("lot-gtin").fill(GTIN);
    await w.page.getByTestId("lot-lot").fill("SAND-1");
    await w.page.getByTestId("lot-quantity").fill("500");
    await w.page.getByTestId("lot-unit").fill("kgm");
    await w.page.getByTestId("lot-site").fill(FOUNDRY_GLN);
    await w.page.getByTestId("lot-register-submit").click();
    await expect.poll(() => form.getByTestId("capture-status").getAttribute("data-finished"), { timeout: 120_000 }).toBe("true");
    expect(await form.getByTestId("capture-status").textContent()).not.toMatch(/refused|error/i);
    expect(await form.getByTestId("capture-status").getAttribute("data-ok")).toBe("true");
    expect(await balance("foundry")).toBe(500n);
    const held = w.page.getByTestId("lots-held").locator(`li[data-lot="${batchKey(SAND).toLowerCase()}"]`);
    await expect.poll(() => held.getAttribute("data-quantity"), { timeout: 30_000 }).toBe("500");
    expect(await held.locator("strong").textContent()).toBe("SAND-1");
    await held.locator("summary").click();
    await w.page.getByTestId("lot-ship-quantity").fill("501");
    await w.page.getByTestId("lot-ship-to").fill(OEM_GLN);
    await w.page.getByTestId("lot-ship-site").fill(FOUNDRY_GLN);
    await w.page.getByTestId("lot-ship-submit").click();
    expect(await w.page.getByTestId("lot-ship").locator(".error").textContent()).toBe("You hold 500; 501 cannot be shipped");
    await w.page.getByTestId("lot-ship-quantity").fill("120");
    await w.page.getByTestId("lot-ship-submit").click();
    // Once captured, the lists reload with the chain's new state.
    await expect.poll(() => balance("foundry"), { timeout: 120_000 }).toBe(380n);
    await expect.poll(() => w.page.getByTestId("lots-outgoing").textContent(), { timeout: 30_000 }).toContain("SAND-1: 120 KGM to Atlas Motors");
    expect(w.errors).toEqual([]);
    await w.page.context().close();
  }, 300_000);

  it("the OEM receives 100 of the 120 kg on a phone, noting the shortfall; the rest stays in transit", async () => {
    const w = await wb.workbench("oem", "lots", PHONE);
    const form = w.page.getByTestId("lot-incoming");
    await form.waitFor({ timeout: 30_000 });
    expect(await form.locator("h3").textContent()).toMatch(/120 KGM from Precision Castings/);
    // The foundry has not shared the lot's documents with the OEM: it types the lot from the label.
    await w.page.getByTestId("lot-in-lot").fill(SAND);
    await w.page.getByTestId("lot-in-quantity").fill("100");
    await w.page.getByTestId("lot-in-from").fill(FOUNDRY_GLN);
    await w.page.getByTestId("lot-in-site").fill(OEM_GLN);
    await w.page.getByTestId("lot-in-submit").click();
    expect(await form.locator(".error").textContent()).toBe("Less than was shipped arrived: say what happened to the rest");
    await w.page.getByTestId("lot-in-note").fill("one bag torn");
    await screenshot(w.page, "workbench-lots-receive-phone");
    expect(await overflowsHorizontally(w.page)).toBe(false);
    await w.page.getByTestId("lot-in-submit").click();
    await expect.poll(() => balance("oem"), { timeout: 120_000 }).toBe(100n);
    expect(await balance("foundry")).toBe(380n);
    expect(await wb.chain.orgs.oem.contracts.provenance.lotInTransit(batchKey(SAND), wb.chain.orgs.foundry.id, wb.chain.orgs.oem.id)).toBe(20n);
    const held = w.page.getByTestId("lots-held").locator("li[data-lot]");
    await expect.poll(() => held.getAttribute("data-quantity"), { timeout: 30_000 }).toBe("100");
    await expect.poll(() => w.page.getByTestId("lots-incoming").locator("h3").textContent(), { timeout: 30_000 }).toMatch(/20 KGM from Precision Castings/);
    await w.page.locator("[data-lang=zh]").click();
    await expect.poll(() => w.page.getByTestId("lots-held").locator("h2").textContent()).toBe("各批次现有数量");
    await screenshot(w.page, "workbench-lots-zh-phone");
    expect(await overflowsHorizontally(w.page)).toBe(false);
    expect(w.errors).toEqual([]);
    await w.page.context().close();
  }, 300_000);

  it("the foundry withdraws the 20 kg the OEM did not receive; more than is in transit is refused", async () => {
    const w = await wb.workbench("foundry", "lots");
    const out = w.page.getByTestId("lots-outgoing").locator(`li[data-lot="${batchKey(SAND).toLowerCase()}"]`);
    await expect.poll(() => out.getAttribute("data-quantity"), { timeout: 30_000 }).toBe("20");
    await out.locator("summary").click();
    expect(await w.page.getByTestId("lot-withdraw-quantity").inputValue()).toBe("20");
    await w.page.getByTestId("lot-withdraw-quantity").fill("21");
    await w.page.getByTestId("lot-withdraw-to").fill(OEM_GLN);
    await w.page.getByTestId("lot-withdraw-site").fill(FOUNDRY_GLN);
    await w.page.getByTestId("lot-withdraw-submit").click();
    expect(await w.page.getByTestId("lot-withdraw").locator(".error").textContent()).toBe("Only 20 is in transit; 21 cannot be withdrawn");
    await w.page.getByTestId("lot-withdraw-quantity").fill("20");
    await w.page.getByTestId("lot-withdraw-submit").click();
    await expect.poll(() => balance("foundry"), { timeout: 120_000 }).toBe(400n);
    expect(await wb.chain.orgs.foundry.contracts.provenance.lotInTransit(batchKey(SAND), wb.chain.orgs.foundry.id, wb.chain.orgs.oem.id)).toBe(0n);
    expect(await balance("oem")).toBe(100n);
    await expect.poll(() => w.page.getByTestId("lots-outgoing").textContent(), { timeout: 30_000 }).toContain("None.");
    const held = w.page.getByTestId("lots-held").locator(`li[data-lot="${batchKey(SAND).toLowerCase()}"]`);
    await expect.poll(() => held.getAttribute("data-quantity"), { timeout: 30_000 }).toBe("400");
    await screenshot(w.page, "workbench-lots-withdrawn");
    expect(w.errors).toEqual([]);
    await w.page.context().close();
  }, 300_000);

  it("the foundry ships 50 kg more; the OEM's receive form names the foundry's GLN itself, and the OEM receives without typing it", async () => {
    const f = await wb.workbench("foundry", "lots");
    const held = f.page.getByTestId("lots-held").locator(`li[data-lot="${batchKey(SAND).toLowerCase()}"]`);
    await held.locator("summary").click();
    await f.page.getByTestId("lot-ship-quantity").fill("50");
    await f.page.getByTestId("lot-ship-to").fill(OEM_GLN);
    await f.page.getByTestId("lot-ship-site").fill(FOUNDRY_GLN);
    await f.page.getByTestId("lot-ship-submit").click();
    await expect.poll(() => balance("foundry"), { timeout: 120_000 }).toBe(350n);
    await f.page.context().close();

    // The sender's party GLNs come from the OEM node's directory of parties (what capture resolves the
    // receipt's sender with): the foundry's, never another member's.
    const { gw, token } = wb.members.oem;
    const senders = async () => ((await (await gw.request("/workbench/lots", { token })).json()) as MyLotsAnswer).incoming.map((x) => x.fromParties);
    await expect.poll(senders, { timeout: 30_000 }).toEqual([[FOUNDRY_GLN]]);

    const w = await wb.workbench("oem", "lots", PHONE);
    const form = w.page.getByTestId("lot-incoming");
    await form.waitFor({ timeout: 30_000 });
    expect(await form.locator("h3").textContent()).toMatch(/^SAND-1: 50 KGM from Precision Castings/);
    expect(await w.page.getByTestId("lot-in-from").inputValue()).toBe(FOUNDRY_GLN);
    expect(await form.textContent()).toContain("Sender's GLN (of Precision Castings, from your directory of parties)");
    await w.page.getByTestId("lot-in-site").fill(OEM_GLN);
    await screenshot(w.page, "workbench-lots-receive-sender-named-phone");
    expect(await overflowsHorizontally(w.page)).toBe(false);
    await w.page.getByTestId("lot-in-submit").click();
    await expect.poll(() => balance("oem"), { timeout: 120_000 }).toBe(150n);
    await expect.poll(() => w.page.getByTestId("lots-incoming").textContent(), { timeout: 30_000 }).toContain("None.");
    expect(w.errors).toEqual([]);
    await w.page.context().close();
  }, 300_000);
});
