/**
 * Store-and-forward readings on the readings page, in Chromium: an edge node's backlog
 * (Reading.historical), measured inside an event's range but delivered minutes later and
 * sequenced after newer readings, is bound to the event, verified against DataAnchors, marked in
 * the table as delivered late, and the chart's dates (uplot, loaded lazily) follow the page's
 * language: no US "am/pm" in zh.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { JsonRpcProvider, Wallet } from "ethers";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Reading } from "../../lib/reading.ts";
import { Anchorer } from "../../node/chain/anchorer.ts";
import { AnchorChain, ChainClient } from "../../node/chain/client.ts";
import type { NodeStatus } from "../../node/daemon.ts";
import { devicesView } from "../../node/devices-view.ts";
import { type OpenEvents, openEvents } from "../../node/events/service.ts";
import { IngestPipeline } from "../../node/ingest/pipeline.ts";
import { ProofService } from "../../node/ingest/proofs.ts";
import { IngestStore } from "../../node/ingest/store.ts";
import { type TestChain, type TestGateway, startTestChain, startTestGateway } from "../helpers/gateway.ts";
import { EXPLORER_DIST, SKIP_MESSAGE, type WatchedPage, hasChromium, launchBrowser, openPage } from "./browser.ts";

if (!hasChromium) console.warn(SKIP_MESSAGE);

const FIXTURES = fileURLToPath(new URL("../../../shared/fixtures/epcis/", import.meta.url));
const EPCIS_CTX = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld";
const STREAM = "tightening-3/torque";
const SITE = "urn:epc:id:sgln:0614141.00001";

describe.skipIf(!hasChromium)("historical readings on the readings page", () => {
  let chain: TestChain;
  let dir: string;
  let provider: JsonRpcProvider;
  let events: OpenEvents;
  let gw: TestGateway;
  let browser: Browser;
  let ingest: { store: IngestStore; pipeline: IngestPipeline; anchorer: Anchorer };
  let eventId: string;

  beforeAll(async () => {
    chain = await startTestChain();
    dir = mkdtempSync(path.join(tmpdir(), "tm-historical-"));
    provider = new JsonRpcProvider(chain.chain.url, chain.chain.chainId, { staticNetwork: true, batchMaxCount: 1, cacheTimeout: -1 });
    provider.pollingInterval = 50;
    const client = new ChainClient(provider, { pollMs: 25 });
    const signer = new Wallet(chain.orgs.oem.accounts.at(-1)!.privateKey, provider);
    events = await openEvents({
      dataDir: path.join(dir, "oem"),
      deployment: chain.deployment,
      client,
      signer,
      validator: { schemaPath: path.join(FIXTURES, "EPCIS-JSON-Schema.json") },
      contexts: path.join(FIXTURES, "epcis-context.jsonld"),
      resolveParty: () => undefined,
      capture: { retryBaseMs: 50, retryMaxMs: 200 },
    });
    gw = await startTestGateway({ chain, node: "oem", services: { events }, gateway: { explorerDir: EXPLORER_DIST, rateLimit: false } });

    // Ten readings on time, then the edge node's backlog of ten measured before them: the backlog
    // gets the later sequence numbers, and arrives minutes after the event's range.
    const store = await IngestStore.open(path.join(dir, "oem-ingest"));
    const pipeline = await IngestPipeline.open(store, Buffer.alloc(32, 5), { windowMs: 3_600_000 });
    const anchorer = new Anchorer(store, pipeline, await AnchorChain.create(client, chain.deployment.contracts.dataAnchors, signer), { retry: { minMs: 20, maxMs: 100 } });
    pipeline.on("window", () => anchorer.notify());
    await anchorer.start();
    ingest = { store, pipeline, anchorer };
    const t0 = Date.now() - 180_000;
    const torque = (t: number, historical: boolean): Reading => ({ stream: STREAM, metric: "torque", unit: "N.m", value: t / 50, sourceTime: t0 + t, quality: "good", ...(historical ? { historical } : {}) });
    await pipeline.write(Array.from({ length: 10 }, (_, i) => torque(500 + i * 50, false)));
    await pipeline.write(Array.from({ length: 10 }, (_, i) => torque(i * 50, true)));
    await pipeline.closeWindow();
    await anchorer.anchoredUpTo(1);
    gw.services.proofs = new ProofService(store, signer.address);
    // The workbench's devices page reads the pipeline's own counts.
    const status = () =>
      ({ node: signer.address, startedAt: t0, adapters: [], windows: { closed: 1, anchored: 1, pending: 0 }, lastAnchor: null, anchoring: { state: "idle" }, ingest: pipeline.status() }) as unknown as NodeStatus;
    gw.services.devices = devicesView({ status, streamReadings: () => pipeline.streamReadings() });

    const token = await gw.signIn("oem");
    const body = JSON.stringify({
      "@context": [EPCIS_CTX, { tm: "https://tracemesh.dev/ns/epcis/" }],
      type: "EPCISDocument",
      schemaVersion: "2.0",
      creationDate: new Date().toISOString(),
      epcisBody: {
        eventList: [
          {
            type: "ObjectEvent",
            eventTime: new Date(t0).toISOString(),
            eventTimeZoneOffset: "+00:00",
            action: "OBSERVE",
            bizStep: "inspecting",
            epcList: ["urn:epc:id:sgtin:0614141.044444.ENGINE-9"],
            readPoint: { id: `${SITE}.3` },
            "tm:readings": [{ "tm:stream": STREAM, "tm:startTime": new Date(t0).toISOString(), "tm:endTime": new Date(t0 + 1000).toISOString() }],
          },
        ],
      },
    });
    const res = await gw.request("/capture", { method: "POST", token, body, headers: { "content-type": "application/ld+json" } });
    if (res.status !== 202) throw new Error(`capture: ${res.status} ${await res.text()}`);
    const location = res.headers.get("location")!;
    for (let i = 0; i < 600 && eventId === undefined; i++) {
      const job = (await (await gw.request(location, { token })).json()) as { running: boolean; success?: boolean; errors?: unknown[]; results?: { hashId: string }[] };
      if (!job.running) {
        if (job.success !== true) throw new Error(`capture failed: ${JSON.stringify(job.errors)}`);
        eventId = job.results![0]!.hashId;
      } else await new Promise((r) => setTimeout(r, 50));
    }
    browser = await launchBrowser();
  }, 240_000);

  afterAll(async () => {
    await browser?.close();
    await gw?.stop();
    await events?.close();
    if (ingest) {
      await ingest.anchorer.stop();
      await ingest.pipeline.stop();
      await ingest.store.close();
    }
    provider?.destroy();
    await chain?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function signedIn(lang: "en" | "zh"): Promise<WatchedPage> {
    const w = await openPage(browser, gw.url);
    await w.page.goto(`${gw.url}/explorer/#/signin`);
    await w.page.getByLabel("Demo private key (printed by npm start)").fill(chain.orgs.oem.signer.privateKey);
    await w.page.getByRole("button", { name: "Sign in with the demo key" }).click();
    await w.page.getByTestId("signed-in").waitFor();
    await w.page.evaluate((l) => localStorage.setItem("tracemesh.lang", l), lang);
    return w;
  }

  async function readingsPage(lang: "en" | "zh"): Promise<WatchedPage> {
    const w = await signedIn(lang);
    await w.page.goto(`${gw.url}/explorer/#/readings/${encodeURIComponent(eventId)}`);
    await w.page.reload();
    return w;
  }

  it("binds the backlog by its source time, verifies it and marks it delivered late", async () => {
    const w = await readingsPage("en");
    const stream = w.page.locator(`.stream[data-stream="${STREAM}"]`);
    await stream.waitFor({ timeout: 30_000 });
    await expect.poll(() => stream.getAttribute("data-verified"), { timeout: 30_000 }).toBe("20");
    expect(await stream.getAttribute("data-failed")).toBe("0");
    expect(await stream.getAttribute("data-historical")).toBe("10");
    expect(await stream.getByRole("status").textContent()).toContain("10 delivered late from the edge's store");
    await stream.locator("summary").click();
    const marked = stream.locator('tr[data-historical="true"]');
    expect(await marked.count()).toBe(10);
    expect(await marked.first().textContent()).toContain("delivered late (stored at the edge)");
    expect(await stream.locator('tr[data-historical="false"] .historical').count()).toBe(0);
    // uplot loads with the first chart: wait for it to draw.
    await expect.poll(() => stream.locator("canvas").count(), { timeout: 15_000 }).toBeGreaterThan(0);
    expect(w.errors).toEqual([]);
    await w.page.context().close();
  });

  it("draws the chart's dates in the page's language: zh has no US am/pm", async () => {
    const w = await readingsPage("zh");
    const stream = w.page.locator(`.stream[data-stream="${STREAM}"]`);
    await stream.waitFor({ timeout: 30_000 });
    await expect.poll(() => stream.locator("canvas").count(), { timeout: 30_000 }).toBeGreaterThan(0);
    expect(await stream.getByRole("status").textContent()).toContain("10 条由边缘端存储延迟送达");
    // The legend shows the date under the cursor with the formatter the axis uses.
    const over = stream.locator(".u-over");
    const box = (await over.boundingBox())!;
    const legendTime = stream.locator(".u-legend .u-series").first().locator(".u-value");
    await expect
      .poll(
        async () => {
          await w.page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
          return legendTime.textContent();
        },
        { timeout: 15_000 },
      )
      .toMatch(/\d{4}年\d{1,2}月\d{1,2}日 \d{2}:\d{2}/);
    expect(await legendTime.textContent()).not.toMatch(/am|pm/i);
    expect(w.errors).toEqual([]);
    await w.page.context().close();
  });

  it("counts the store-and-forward readings on the workbench's devices page", async () => {
    const w = await signedIn("en");
    await w.page.goto(`${gw.url}/explorer/#/workbench/devices`);
    const historical = w.page.getByTestId("historical");
    await historical.waitFor({ timeout: 30_000 });
    expect(await historical.getAttribute("data-historical")).toBe("10");
    expect(await historical.textContent()).toContain("10 readings delivered late from devices' store and forward");
    expect(w.errors).toEqual([]);
    await w.page.context().close();
  });
});
