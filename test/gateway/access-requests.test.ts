/**
 * Access requests: a partner asks an item's maker, at the maker's gateway, for the item (or the item
 * with its genealogy) for a purpose and a time; the maker approves it as an on-chain grant or
 * declines it. Hostile callers: anonymous (401), a member deciding requests to another (403), the
 * same request again while pending (409), a decided request decided again (409), an oversized
 * purpose (400), a request for an item another member made (403), more pending requests from one
 * member than the owner keeps (429).
 */
import path from "node:path";
import { Wallet, id as textHash } from "ethers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { organisationGrants } from "../../lib/access-grants.ts";
import type { AccessRequestAnswer } from "../../lib/api/grants.ts";
import { canonicalIdentifier, itemKey } from "../../lib/identifiers/canonical.ts";
import { ChainClient } from "../../node/chain/client.ts";
import { AccessRequestStore } from "../../node/passport/access-requests.ts";
import { type EventsGateway, startEventsGateway } from "../helpers/events-gateway.ts";
import { DISP_ACTIVE } from "../helpers/story.ts";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";

const EPCIS_CTX = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld";
const PUMP = canonicalIdentifier("urn:epc:id:sgtin:0614141.112345.P-0002");
const COIL = canonicalIdentifier("urn:epc:id:sgtin:4012345.011111.C-78");
let h: EventsGateway;
let dir: string;
const tokens = {} as Record<"steel" | "foundry", string>;

const ask = (token: string | undefined, body: unknown) =>
  h.gw.request("/access-requests", { method: "POST", body: JSON.stringify(body), headers: { "content-type": "application/json" }, ...(token ? { token } : {}) });
const decide = (token: string, id: string, verb: "approve" | "decline") => h.gw.request(`/access-requests/${id}/${verb}`, { method: "POST", token });
const list = async (token: string) => (await (await h.gw.request("/access-requests", { token })).json()) as AccessRequestAnswer[];
/** Runs `test` against a fresh store that keeps at most `limit` pending requests per requester. */
async function withRequestLimit(limit: number, test: () => Promise<void>): Promise<void> {
  const capped = mkdtempSync(path.join(tmpdir(), "tm-access-requests-capped-"));
  const kept = h.gw.services.accessRequests;
  try {
    h.gw.services.accessRequests = await AccessRequestStore.open(capped, { pendingPerRequester: limit });
    await test();
  } finally {
    h.gw.services.accessRequests = kept;
    rmSync(capped, { recursive: true, force: true });
  }
}
const allowed = (who: "steel" | "foundry") => h.chain.orgs[who].contracts.accessGrants.isAllowed(h.chain.orgs[who].id, h.chain.orgs.oem.id, itemKey(PUMP));

beforeAll(async () => {
  h = await startEventsGateway({}, { withIndex: true });
  dir = mkdtempSync(path.join(tmpdir(), "tm-access-requests-"));
  const oem = h.chain.orgs.oem;
  h.gw.services.accessRequests = await AccessRequestStore.open(dir);
  h.gw.services.grants = organisationGrants({
    owner: oem.id,
    contracts: oem.contracts,
    address: h.chain.deployment.contracts.accessGrants,
    provider: h.chain.provider,
    client: new ChainClient(h.chain.provider, { pollMs: 25 }),
    signer: new Wallet(oem.accounts.at(-1)!.privateKey, h.chain.provider),
  });
  const doc = {
    "@context": [EPCIS_CTX],
    type: "EPCISDocument",
    schemaVersion: "2.0",
    creationDate: "2026-11-01T00:00:00Z",
    epcisBody: { eventList: [{ type: "ObjectEvent", eventTime: "2026-11-02T08:00:00Z", eventTimeZoneOffset: "+00:00", action: "ADD", bizStep: "commissioning", epcList: [PUMP] }] },
  };
  const job = await h.finished(await h.post("/capture", JSON.stringify(doc), "application/ld+json"));
  expect(job.success, JSON.stringify(job.errors)).toBe(true);
  await (await h.chain.orgs.steel.contracts.provenance.commission(itemKey(COIL), DISP_ACTIVE, textHash("coil"))).wait();
  await h.indexer!.sync();
  tokens.steel = await h.gw.signIn("steel");
  tokens.foundry = await h.gw.signIn("foundry");
}, 120_000);
afterAll(async () => {
  await h?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("access requests", () => {
  it("a partner asks, the maker sees it and approves it as a grant; the partner then may read the item", async () => {
    const res = await ask(tokens.steel, { subject: PUMP, scope: "item-genealogy", purpose: "Incoming inspection of pump housings", days: 30 });
    expect(res.status, await res.clone().text()).toBe(201);
    const request = (await res.json()) as AccessRequestAnswer;
    expect(request).toMatchObject({ requester: { id: h.chain.orgs.steel.id }, owner: { id: h.chain.orgs.oem.id }, subject: PUMP, subjectKey: itemKey(PUMP), scope: "item-genealogy", state: "pending", days: 30 });
    // The same request again, a replay: refused, nothing new kept.
    const again = await ask(tokens.steel, { subject: PUMP, scope: "item-genealogy", purpose: "Incoming inspection of pump housings", days: 30 });
    expect(again.status).toBe(409);
    expect(((await again.json()) as { id: string }).id).toBe(request.id);

    expect((await list(h.oem)).map((r) => r.id)).toEqual([request.id]);
    expect((await list(tokens.steel)).map((r) => r.id)).toEqual([request.id]);
    expect(await list(tokens.foundry)).toEqual([]);

    // Another member cannot approve in the maker's name.
    expect((await decide(tokens.foundry, request.id, "approve")).status).toBe(403);
    expect((await decide(tokens.steel, request.id, "approve")).status).toBe(403);
    expect(await allowed("steel")).toBe(false);

    const approved = await decide(h.oem, request.id, "approve");
    expect(approved.status, await approved.clone().text()).toBe(200);
    const done = (await approved.json()) as AccessRequestAnswer;
    expect(done.state).toBe("approved");
    expect(done.grant?.id).toMatch(/^0x[0-9a-f]{64}$/);
    expect(await allowed("steel")).toBe(true);
    expect(await h.chain.orgs.steel.contracts.accessGrants.isAllowed(h.chain.orgs.steel.id, h.chain.orgs.oem.id, itemKey(COIL))).toBe(false);
    // Approving twice grants once.
    expect((await decide(h.oem, request.id, "approve")).status).toBe(409);
    expect((await decide(h.oem, request.id, "decline")).status).toBe(409);
    expect((await list(tokens.steel))[0]).toMatchObject({ state: "approved", grant: { id: done.grant!.id } });
  }, 60_000);

  it("the maker declines; a declined request grants nothing", async () => {
    const res = await ask(tokens.foundry, { subject: PUMP, scope: "item", purpose: "Warranty claim", days: 7 });
    expect(res.status).toBe(201);
    const { id } = (await res.json()) as AccessRequestAnswer;
    const declined = await decide(h.oem, id, "decline");
    expect(declined.status).toBe(200);
    expect(((await declined.json()) as AccessRequestAnswer).state).toBe("declined");
    expect((await decide(h.oem, id, "approve")).status).toBe(409);
    expect(await allowed("foundry")).toBe(false);
  });

  it("refuses anonymous callers, requests to oneself, items another member made, and bad bodies", async () => {
    const body = { subject: PUMP, scope: "item", purpose: "Audit", days: 7 };
    expect((await ask(undefined, body)).status).toBe(401);
    expect((await ask("forged.token.value", body)).status).toBe(401);
    expect((await h.gw.request("/access-requests")).status).toBe(401);
    expect((await decide("forged.token.value", "0".repeat(32), "approve")).status).toBe(401);
    expect((await ask(h.oem, body)).status).toBe(400);
    const coil = await ask(tokens.foundry, { ...body, subject: COIL });
    expect(coil.status).toBe(403);
    expect(((await coil.json()) as { detail: string }).detail).toMatch(/made by another organisation/);
    const detail = async (res: Response) => {
      expect(res.status).toBe(400);
      return ((await res.json()) as { detail: string }).detail;
    };
    expect(await detail(await ask(tokens.foundry, { ...body, purpose: "x".repeat(201) }))).toMatch(/`purpose` must be a non-empty string of at most 200/);
    expect(await detail(await ask(tokens.foundry, { ...body, purpose: "" }))).toMatch(/`purpose`/);
    expect(await detail(await ask(tokens.foundry, { ...body, scope: "batch" }))).toMatch(/`scope` must be item or item-genealogy/);
    // Names every object inherits are not scopes either.
    expect(await detail(await ask(tokens.foundry, { ...body, scope: "constructor" }))).toMatch(/`scope` must be item or item-genealogy/);
    expect(await detail(await ask(tokens.foundry, { ...body, scope: "toString" }))).toMatch(/`scope` must be item or item-genealogy/);
    expect(await detail(await ask(tokens.foundry, { ...body, days: 366 }))).toMatch(/`days`/);
    expect(await detail(await ask(tokens.foundry, { ...body, extra: true }))).toMatch(/unknown field `extra`/);
    expect(await detail(await ask(tokens.foundry, { ...body, subject: itemKey(PUMP) }))).toMatch(/by its identifier/);
    expect(await detail(await decide(h.oem, "not-an-id", "approve"))).toMatch(/32 hex digits/);
    expect((await decide(h.oem, "f".repeat(32), "approve")).status).toBe(404);
  });

  it("keeps at most its limit of pending requests from one member (a member cannot fill the owner's disk)", () =>
    withRequestLimit(1, async () => {
      const body = { subject: PUMP, scope: "item", purpose: "Audit", days: 7 };
      const first = await ask(tokens.steel, body);
      expect(first.status).toBe(201);
      const over = await ask(tokens.steel, { ...body, scope: "item-genealogy" });
      expect(over.status).toBe(429);
      expect(((await over.json()) as { detail: string }).detail).toMatch(/has 1 request waiting for .*'s answer, the most it keeps/);
      // The limit is per requester: another member still asks.
      expect((await ask(tokens.foundry, { ...body, scope: "item-genealogy" })).status).toBe(201);
      // Once the owner answers, the requester may ask again.
      expect((await decide(h.oem, ((await first.json()) as AccessRequestAnswer).id, "decline")).status).toBe(200);
      expect((await ask(tokens.steel, { ...body, scope: "item-genealogy" })).status).toBe(201);
      expect((await list(h.oem)).length).toBe(3);
    }));

  it("a burst of requests at once keeps the limit and makes no duplicate (the check and the keeping are one step)", () =>
    withRequestLimit(1, async () => {
      const body = { subject: PUMP, scope: "item", purpose: "Audit", days: 7 };
      // The same request six times at once: one is kept, the others are told it is pending.
      const same = await Promise.all(Array.from({ length: 6 }, () => ask(tokens.steel, body)));
      expect(same.map((r) => r.status).sort()).toEqual([201, 409, 409, 409, 409, 409]);
      // Past the limit at once: nothing more is kept.
      const over = await Promise.all(Array.from({ length: 6 }, () => ask(tokens.steel, { ...body, scope: "item-genealogy" })));
      expect(over.map((r) => r.status)).toEqual([429, 429, 429, 429, 429, 429]);
      // A fresh requester's burst of two different requests under a limit of one: one kept, one refused.
      const two = await Promise.all([ask(tokens.foundry, body), ask(tokens.foundry, { ...body, scope: "item-genealogy" })]);
      expect(two.map((r) => r.status).sort()).toEqual([201, 429]);
      expect((await list(h.oem)).length).toBe(2);
    }));
});
