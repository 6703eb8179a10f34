/**
 * Sharing from the supplier's workbench in real Chromium against a real gateway and chain: the
 * foundry registers a casting; the OEM, signed in on the foundry's explorer, sees its document
 * withheld; the foundry grants the OEM access to the item on the Share tab (on a phone, 375 px),
 * and the OEM reads the document at once; the foundry revokes the grant and the document is
 * withheld again, and the foundry's access log shows the OEM's read. The grant list shows the grant
 * on both sides, and in Chinese. The grants are
 * sent by the foundry's member node with its own account (POST/DELETE /grants); the page holds no key.
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { JsonRpcProvider, Wallet } from "ethers";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { organisationGrants } from "../../lib/access-grants.ts";
import type { CaptureJobAnswer } from "../../lib/api/capture.ts";
import { commission, epcisDocument, gln, gtin, sgtin } from "../../lib/epcis/builders.ts";
import { itemKey } from "../../lib/identifiers/canonical.ts";
import { AccessLog, AccessRecorder } from "../../node/access-log/index.ts";
import { ChainClient } from "../../node/chain/client.ts";
import { type OpenEvents, openEvents } from "../../node/events/service.ts";
import { Indexer } from "../../node/indexer/index.ts";
import { indexService } from "../../node/indexer/service.ts";
import { type TestChain, type TestGateway, startTestChain, startTestGateway } from "../helpers/gateway.ts";
import { EXPLORER_DIST, PHONE, SKIP_MESSAGE, type WatchedPage, hasChromium, inPage, launchBrowser, openPage, overflowsHorizontally, screenshot } from "./browser.ts";

if (!hasChromium) console.warn(SKIP_MESSAGE);

const FIXTURES = fileURLToPath(new URL("../../../shared/fixtures/epcis/", import.meta.url));
const SITE = { companyPrefix: "9521002", location: "00001" };
const ITEM = sgtin(gtin(SITE, "00021"), "S-0001");

describe.skipIf(!hasChromium)("sharing from the workbench in Chromium", () => {
  let chain: TestChain;
  let dir: string;
  let indexer: Indexer;
  let browser: Browser;
  let provider: JsonRpcProvider;
  let events: OpenEvents;
  let gw: TestGateway;
  let accessLog: AccessLog;

  beforeAll(async () => {
    if (!existsSync(EXPLORER_DIST)) throw new Error(`${EXPLORER_DIST} is missing: run npm run explorer:build`);
    chain = await startTestChain();
    dir = mkdtempSync(path.join(tmpdir(), "tm-explorer-share-"));
    provider = new JsonRpcProvider(chain.chain.url, chain.chain.chainId, { staticNetwork: true, batchMaxCount: 1, cacheTimeout: -1 });
    provider.pollingInterval = 50;
    indexer = await Indexer.open({ provider, deployment: chain.deployment, store: path.join(dir, "index"), pollMs: 100 });
    indexer.start();
    const client = new ChainClient(provider, { pollMs: 25 });
    // The foundry's node account signs its captures and its grants, as member/main.ts wires them.
    const nodeAccount = new Wallet(chain.orgs.foundry.accounts.at(-1)!.privateKey, provider);
    events = await openEvents({
      dataDir: path.join(dir, "foundry"),
      deployment: chain.deployment,
      client,
      signer: nodeAccount,
      validator: { schemaPath: path.join(FIXTURES, "EPCIS-JSON-Schema.json") },
      contexts: path.join(FIXTURES, "epcis-context.jsonld"),
      capture: { retryBaseMs: 50, retryMaxMs: 200 },
      genealogy: indexService(indexer).queries,
    });
    const grants = organisationGrants({ owner: chain.orgs.foundry.id, contracts: chain.orgs.foundry.contracts, address: chain.deployment.contracts.accessGrants, provider, client, signer: nodeAccount });
    accessLog = await AccessLog.open(path.join(dir, "access-log"));
    const recorder = new AccessRecorder(accessLog, chain.orgs.foundry.contracts.accessGrants);
    gw = await startTestGateway({ chain, node: "foundry", services: { events, index: indexService(indexer), grants, accessLog: recorder }, gateway: { explorerDir: EXPLORER_DIST, rateLimit: false } });

    // One registered casting, captured through the gateway like any client's.
    const token = await gw.signIn("foundry");
    const time = new Date().toISOString();
    const res = await gw.request("/capture", { token, json: epcisDocument([commission({ time, at: gln(SITE), items: [ITEM] })], time) });
    expect(res.status, await res.clone().text()).toBe(202);
    let job = (await res.json()) as CaptureJobAnswer;
    while (job.state === "pending" || job.state === "running") {
      await new Promise((r) => setTimeout(r, 100));
      job = (await (await gw.request(`/capture/${encodeURIComponent(job.captureID)}`, { token })).json()) as CaptureJobAnswer;
    }
    expect(job.success, JSON.stringify(job)).toBe(true);
    browser = await launchBrowser();
  }, 240_000);

  afterAll(async () => {
    await browser?.close();
    await gw?.stop();
    await events?.close();
    await accessLog?.close();
    await indexer?.stop();
    provider?.destroy();
    await chain?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** The foundry's explorer, signed in through the page as `who`. */
  async function signedIn(who: "foundry" | "oem", viewport?: typeof PHONE): Promise<WatchedPage> {
    const w = await openPage(browser, gw.url, viewport);
    await w.page.goto(`${gw.url}/explorer/#/signin`);
    await w.page.getByLabel("Demo private key (printed by npm start)").fill(chain.orgs[who].signer.privateKey);
    await w.page.getByRole("button", { name: "Sign in with the demo key" }).click();
    await w.page.getByTestId("signed-in").waitFor();
    return w;
  }

  /** What the OEM's item page shows of the casting's one event: its document, or that it is withheld. */
  async function oemSees(oem: WatchedPage): Promise<"document" | "withheld"> {
    await oem.page.goto(`${gw.url}/explorer/#/item/${encodeURIComponent(ITEM)}`);
    await oem.page.reload();
    const event = oem.page.locator("li.event").first();
    await event.waitFor();
    const text = (await event.textContent()) ?? "";
    return text.includes("The document is withheld") ? "withheld" : "document";
  }

  it("a grant given on the Share tab lets the OEM read the item at once; revoking it hides it again", async () => {
    const oem = await signedIn("oem");
    expect(await oemSees(oem)).toBe("withheld");
    await screenshot(oem.page, "workbench-share-oem-before");

    const f = await signedIn("foundry", PHONE);
    await f.page.goto(`${gw.url}/explorer/#/workbench/share`);
    await f.page.getByTestId("grant-partner").selectOption({ label: chain.orgs.oem.name });
    await f.page.getByTestId("grant-scope").selectOption("item");
    await f.page.getByTestId("grant-subject").fill(ITEM);
    await f.page.getByTestId("grant-purpose").fill("QUALITY_CLAIM");
    await f.page.getByTestId("grant-send").click();
    const outcome = f.page.getByTestId("grant-outcome");
    await outcome.waitFor({ timeout: 60_000 });
    expect(await outcome.getAttribute("data-ok"), (await outcome.textContent()) ?? "").toBe("true");
    expect(await chain.orgs.oem.contracts.accessGrants.isAllowed(chain.orgs.oem.id, chain.orgs.foundry.id, itemKey(ITEM))).toBe(true);

    // At once: the OEM's next look shows the document.
    expect(await oemSees(oem)).toBe("document");
    await screenshot(oem.page, "workbench-share-oem-granted");

    // The foundry's list shows the live grant with the words it was given with.
    const given = f.page.getByTestId("grants-given").locator("li[data-state=live]");
    await given.waitFor({ timeout: 30_000 });
    expect(await given.textContent()).toContain(ITEM);
    expect(await given.textContent()).toContain("QUALITY_CLAIM");
    expect(await overflowsHorizontally(f.page)).toBe(false);
    await screenshot(f.page, "workbench-share-granted-phone");

    // The OEM sees the grant it holds on its own workbench tab (here on the foundry's explorer; writes would be refused).
    await oem.page.goto(`${gw.url}/explorer/#/workbench/share`);
    await oem.page.getByTestId("grants-received").locator("li[data-state=live]").waitFor({ timeout: 30_000 });
    expect(await oem.page.getByTestId("grants-received").textContent()).toContain(chain.orgs.foundry.name);
    // What was shared opens from the grant (this browser never saw the identifier: the link carries the on-chain key).
    await oem.page.getByTestId("grants-received").locator("a.subject").click();
    await oem.page.locator("li.event").first().waitFor();
    expect(await oem.page.locator("li.event").first().textContent()).not.toContain("The document is withheld");

    // Revoke: the OEM's next look is withheld again.
    await f.page.getByTestId("grant-revoke").click();
    await f.page.getByTestId("grants-given").locator("li[data-state=revoked]").waitFor({ timeout: 30_000 });
    expect(await chain.orgs.oem.contracts.accessGrants.isAllowed(chain.orgs.oem.id, chain.orgs.foundry.id, itemKey(ITEM))).toBe(false);
    // As soon as the gateway's watcher sees the revocation's block (it polls each second; a missed event is bounded by the 10 s answer TTL).
    await expect.poll(() => oemSees(oem), { timeout: 15_000, interval: 500 }).toBe("withheld");
    await screenshot(oem.page, "workbench-share-oem-revoked");
    await screenshot(f.page, "workbench-share-revoked-phone");

    // In Chinese, with a link to who read what.
    await f.page.locator("[data-lang=zh]").click();
    expect(await f.page.locator(".tabs").textContent()).toContain("共享");
    expect(await f.page.getByTestId("grants-given").textContent()).toContain("已撤销");
    expect(await inPage<string>(f.page, "document.documentElement.lang")).toBe("zh-CN");
    await f.page.getByRole("link", { name: "查看谁读取了什么（访问日志）" }).click();
    expect(f.page.url()).toMatch(/#\/access-log$/);
    // Who read what: the OEM's read under the grant is in the foundry's log.
    const read = f.page.getByTestId("access-log").locator(`tr[data-reader="${chain.orgs.oem.id}"]`).first();
    await read.waitFor();
    expect(await read.textContent()).toContain(chain.orgs.oem.name);
    await screenshot(f.page, "workbench-share-zh-phone");
    expect(f.errors).toEqual([]);
    expect(oem.errors).toEqual([]);
    await f.page.context().close();
    await oem.page.context().close();
  }, 240_000);

  it("a refusal is said in plain words: a subject that is no identifier is named, a past expiry is refused in Chinese, nothing is sent", async () => {
    const f = await signedIn("foundry");
    await f.page.goto(`${gw.url}/explorer/#/workbench/share`);
    const before = await chain.provider.getTransactionCount(chain.orgs.foundry.accounts.at(-1)!.address);
    await f.page.getByTestId("grant-partner").selectOption({ label: chain.orgs.oem.name });
    await f.page.getByTestId("grant-subject").fill("not an identifier");
    await f.page.getByTestId("grant-send").click();
    const outcome = f.page.getByTestId("grant-outcome");
    await outcome.waitFor();
    expect(await outcome.getAttribute("data-ok")).toBe("false");
    expect((await outcome.textContent())?.length).toBeGreaterThan(10);
    await screenshot(f.page, "workbench-share-refused-desktop");
    // In Chinese: an end of access in the past is refused in the page's words, before anything is sent.
    await f.page.locator("[data-lang=zh]").click();
    await f.page.getByTestId("grant-subject").fill(ITEM);
    await f.page.getByTestId("grant-expires").fill("2020-01-01T00:00");
    await f.page.getByTestId("grant-send").click();
    await expect.poll(() => outcome.textContent()).toContain("请选择一个未来的访问截止时间。");
    await screenshot(f.page, "workbench-share-refused-zh-desktop");
    expect(await chain.provider.getTransactionCount(chain.orgs.foundry.accounts.at(-1)!.address)).toBe(before);
    await f.page.context().close();
  }, 120_000);
});
