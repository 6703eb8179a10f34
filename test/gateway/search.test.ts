/**
 * GET /search?q=: a plain serial or lot number finds the items and lots carrying it, only among
 * identifiers named by events the caller may read. Hostile callers: another member without a
 * grant finds nothing, with a grant on one item finds only that item; anonymous callers get 401;
 * a malformed number gets 400.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { JsonRpcProvider, Wallet, id as keccakId } from "ethers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { NumberSearchAnswer } from "../../lib/api/resolver.ts";
import { canonicalIdentifier, itemKey } from "../../lib/identifiers/canonical.ts";
import { ScopeKind } from "../../lib/registry.ts";
import { ChainClient } from "../../node/chain/client.ts";
import { type OpenEvents, openEvents } from "../../node/events/service.ts";
import { type TestChain, type TestGateway, startTestChain, startTestGateway } from "../helpers/gateway.ts";

const FIXTURES = fileURLToPath(new URL("../../../shared/fixtures/epcis/", import.meta.url));
const EPCIS_CTX = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld";
const PUMP = "urn:epc:id:sgtin:0614141.112345.P0001";
const OTHER_PUMP = "urn:epc:id:sgtin:0614141.112346.P0001";
const HEAT = "urn:epc:class:lgtin:0614141.112347.H0001";

let chain: TestChain;
let gw: TestGateway;
let events: OpenEvents;
let dir: string;
let oem: string;
let eventTime = Date.UTC(2024, 4, 1, 8);

async function record(event: Record<string, unknown>): Promise<void> {
  const body = {
    "@context": [EPCIS_CTX],
    type: "EPCISDocument",
    schemaVersion: "2.0",
    creationDate: new Date().toISOString(),
    epcisBody: { eventList: [{ eventTime: new Date((eventTime += 60_000)).toISOString(), eventTimeZoneOffset: "+00:00", ...event }] },
  };
  const res = await gw.request("/capture", { method: "POST", token: oem, body: JSON.stringify(body), headers: { "content-type": "application/ld+json" } });
  expect(res.status, await res.clone().text()).toBe(202);
  const location = res.headers.get("location")!;
  for (const deadline = Date.now() + 90_000; Date.now() < deadline; await new Promise((done) => setTimeout(done, 50))) {
    const job = (await (await gw.request(location, { token: oem })).json()) as { running: boolean; success: boolean; errors: unknown[] };
    if (job.running) continue;
    expect(job.errors, JSON.stringify(job.errors)).toEqual([]);
    return;
  }
  throw new Error(`capture ${location} did not finish`);
}

async function search(q: string, token?: string): Promise<{ status: number; body: NumberSearchAnswer & { detail?: string } }> {
  const r = await gw.request(`/search?q=${encodeURIComponent(q)}`, token === undefined ? {} : { token });
  return { status: r.status, body: (await r.json()) as NumberSearchAnswer & { detail?: string } };
}
const found = async (q: string, token: string) => (await search(q, token)).body.matches.map((m) => m.epc).sort();

beforeAll(async () => {
  chain = await startTestChain();
  dir = mkdtempSync(path.join(tmpdir(), "tracemesh-search-"));
  const provider = new JsonRpcProvider(chain.chain.url, chain.chain.chainId, { staticNetwork: true, batchMaxCount: 1 });
  provider.pollingInterval = 100;
  events = await openEvents({
    dataDir: dir,
    deployment: chain.deployment,
    client: new ChainClient(provider, { pollMs: 25 }),
    signer: new Wallet(chain.orgs.oem.accounts[1]!.privateKey, provider),
    validator: { schemaPath: path.join(FIXTURES, "EPCIS-JSON-Schema.json") },
    contexts: path.join(FIXTURES, "epcis-context.jsonld"),
    resolveParty: () => undefined,
    announce: async () => undefined,
    capture: { retryBaseMs: 50, retryMaxMs: 200 },
  });
  gw = await startTestGateway({ chain, node: "oem", services: { events }, gateway: { rateLimit: false } });
  oem = await gw.signIn("oem");
  await record({ type: "ObjectEvent", action: "ADD", bizStep: "commissioning", epcList: [PUMP] });
  await record({ type: "ObjectEvent", action: "ADD", bizStep: "commissioning", epcList: [OTHER_PUMP] });
  await record({ type: "ObjectEvent", action: "ADD", bizStep: "commissioning", epcList: [], quantityList: [{ epcClass: HEAT, quantity: 2, uom: "KGM" }] });
}, 180_000);

afterAll(async () => {
  await gw?.stop();
  await events?.close();
  await chain?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("GET /search", () => {
  it("finds the owner's items by serial and lots by lot number, with their Digital Link and key", async () => {
    const pumps = await search("P0001", oem);
    expect(pumps.status).toBe(200);
    expect(pumps.body.matches.map((m) => m.epc).sort()).toEqual([canonicalIdentifier(PUMP), canonicalIdentifier(OTHER_PUMP)].sort());
    const pump = pumps.body.matches.find((m) => m.epc === canonicalIdentifier(PUMP))!;
    expect(pump).toMatchObject({ numberedBy: "serial", type: "sgtin", digitalLink: canonicalIdentifier(PUMP), itemKey: itemKey(PUMP) });
    const heat = await search("H0001", oem);
    expect(heat.body.matches).toMatchObject([{ numberedBy: "lot", type: "lgtin", digitalLink: canonicalIdentifier(HEAT) }]);
    expect((await search("P9999", oem)).body).toEqual({ query: "P9999", matches: [] });
  });

  it("shows another member nothing without a grant, and only the granted item with one", async () => {
    const steel = await gw.signIn("steel");
    expect(await search("P0001", steel)).toEqual({ status: 200, body: { query: "P0001", matches: [] } });
    expect((await search("H0001", steel)).body.matches).toEqual([]);
    const expires = Math.floor(Date.now() / 1000) + 3600;
    await (await chain.orgs.oem.contracts.accessGrants.grantAccess(chain.orgs.steel.id, ScopeKind.Item, itemKey(PUMP), keccakId("quality-audit"), 0, 0, expires)).wait();
    // The grant opens the granted pump's event only: the other pump with the same serial stays hidden.
    await expect.poll(() => found("P0001", steel), { timeout: 10_000, interval: 100 }).toEqual([canonicalIdentifier(PUMP)]);
    expect((await search("H0001", steel)).body.matches).toEqual([]);
  });

  it("refuses anonymous callers and malformed numbers", async () => {
    expect((await search("P0001")).status).toBe(401);
    for (const bad of ["", "x".repeat(21), "P 0001", "P\u00e90001", "P\u00000001", "P#0001"]) {
      const r = await search(bad, oem);
      expect(r.status, bad).toBe(400);
      expect(r.body.detail).toMatch(/q must be a serial or lot number/);
    }
    const missing = await gw.request("/search", { token: oem });
    expect(missing.status).toBe(400);
  });
});
