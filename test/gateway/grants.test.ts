/**
 * /grants: the signed-in organisation grants, lists and revokes AccessGrants through its own
 * member's gateway, which sends them with the node's account. Hostile callers: anonymous and
 * forged tokens get 401, another member's token 403 (it cannot grant or revoke in the node's
 * name), a non-party sees none of the grants; bad bodies get 400 naming the field; what the chain
 * would refuse (self-grant, inactive grantee, past expiry, someone else's grant) gets 409.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Wallet, id as textHash } from "ethers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { organisationGrants } from "../../lib/access-grants.ts";
import type { GrantsAnswer, GrantWriteAnswer } from "../../lib/api/grants.ts";
import { itemKey } from "../../lib/identifiers/canonical.ts";
import { ChainClient } from "../../node/chain/client.ts";
import { Indexer } from "../../node/indexer/index.ts";
import { indexService } from "../../node/indexer/service.ts";
import { type TestChain, type TestGateway, startTestChain, startTestGateway } from "../helpers/gateway.ts";

const ITEM = "urn:epc:id:sgtin:9521002.000021.G-0001";
const dir = mkdtempSync(path.join(tmpdir(), "tm-grants-"));
let chain: TestChain;
let indexer: Indexer;
let gw: TestGateway;
const tokens = {} as Record<"foundry" | "oem" | "steel", string>;
const inADay = () => new Date(Date.now() + 86_400_000).toISOString();

beforeAll(async () => {
  chain = await startTestChain();
  indexer = await Indexer.open({ provider: chain.provider, deployment: chain.deployment, store: path.join(dir, "index") });
  const foundry = chain.orgs.foundry;
  // The node's own account (its last), as member/main.ts wires it.
  const grants = organisationGrants({
    owner: foundry.id,
    contracts: foundry.contracts,
    address: chain.deployment.contracts.accessGrants,
    provider: chain.provider,
    client: new ChainClient(chain.provider, { pollMs: 25 }),
    signer: new Wallet(foundry.accounts.at(-1)!.privateKey, chain.provider),
  });
  gw = await startTestGateway({ chain, node: "foundry", services: { grants, index: indexService(indexer) }, gateway: { rateLimit: false } });
  for (const who of ["foundry", "oem", "steel"] as const) tokens[who] = await gw.signIn(who);
}, 120_000);

afterAll(async () => {
  await gw?.stop();
  await indexer?.stop();
  await chain?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const body = (extra: Record<string, unknown> = {}) => ({ grantee: chain.orgs.oem.id, scope: "item", subject: ITEM, purpose: "QUALITY_CLAIM", expiresAt: inADay(), ...extra });
const post = (token: string | undefined, json: unknown) => gw.request("/grants", { json, ...(token ? { token } : {}) });
async function list(token: string): Promise<GrantsAnswer> {
  await indexer.sync();
  const res = await gw.request("/grants", { token });
  expect(res.status).toBe(200);
  return (await res.json()) as GrantsAnswer;
}
const allowed = () => chain.orgs.oem.contracts.accessGrants.isAllowed(chain.orgs.oem.id, chain.orgs.foundry.id, itemKey(ITEM));

describe("/grants", () => {
  it("the node's organisation grants, both parties list it, and it revokes it", async () => {
    const res = await post(tokens.foundry, body());
    expect(res.status, await res.clone().text()).toBe(201);
    const done = (await res.json()) as GrantWriteAnswer;
    expect(done.scopeKey).toBe(itemKey(ITEM));
    expect(await allowed()).toBe(true);

    const mine = await list(tokens.foundry);
    expect(mine.given).toMatchObject([{ id: done.id, grantee: { id: chain.orgs.oem.id }, scope: "item", scopeKey: itemKey(ITEM), purpose: textHash("QUALITY_CLAIM"), state: "live" }]);
    expect((await list(tokens.oem)).received.map((g) => g.id)).toEqual([done.id]);
    // A member that is neither grantor nor grantee sees none of it.
    expect(await list(tokens.steel)).toEqual({ given: [], received: [] });

    // Another member cannot revoke in the node's name; the node's organisation can, once.
    expect((await gw.request(`/grants/${done.id}`, { method: "DELETE", token: tokens.oem })).status).toBe(403);
    expect(await allowed()).toBe(true);
    expect((await gw.request(`/grants/${done.id}`, { method: "DELETE", token: tokens.foundry })).status).toBe(200);
    expect(await allowed()).toBe(false);
    const again = await gw.request(`/grants/${done.id}`, { method: "DELETE", token: tokens.foundry });
    expect(again.status).toBe(409);
    expect(((await again.json()) as { detail: string }).detail).toMatch(/already revoked/);
    expect((await list(tokens.foundry)).given[0]!.state).toBe("revoked");
  });

  it("refuses anonymous (401), forged (401) and other members' (403) writes, and lists nothing to the anonymous", async () => {
    expect((await post(undefined, body())).status).toBe(401);
    const forged = tokens.foundry.slice(0, -4) + (tokens.foundry.endsWith("AAAA") ? "BBBB" : "AAAA");
    expect((await post(forged, body())).status).toBe(401);
    expect((await gw.request("/grants", { token: forged })).status).toBe(401);
    expect((await gw.request("/grants")).status).toBe(401);
    // The OEM may not make the foundry's node grant the OEM (or anyone) access to the foundry's data.
    const res = await post(tokens.oem, body({ grantee: chain.orgs.steel.id }));
    expect(res.status).toBe(403);
    expect(await chain.orgs.oem.contracts.accessGrants.isAllowed(chain.orgs.steel.id, chain.orgs.foundry.id, itemKey(ITEM))).toBe(false);
    expect((await gw.request(`/grants/0x${"ab".repeat(32)}`, { method: "DELETE" })).status).toBe(401);
  });

  it("names what is wrong with a body (400) and what the chain would refuse (409)", async () => {
    const bad = async (json: unknown, status: number, detail: RegExp, check?: string) => {
      const res = await post(tokens.foundry, json);
      expect(res.status).toBe(status);
      const answer = (await res.json()) as { detail: string; check?: string };
      expect(answer.detail).toMatch(detail);
      expect(answer.check).toBe(check);
    };
    await bad([], 400, /JSON object/);
    await bad(body({ scope: "everything" }), 400, /`scope` must be one of item, item-genealogy, batch, stream, window-range/);
    await bad(body({ grantee: "oem" }), 400, /`grantee`/);
    await bad(body({ expiresAt: "tomorrow" }), 400, /`expiresAt` must be an ISO 8601 time/);
    await bad(body({ subject: "not an identifier" }), 400, /./);
    await bad(body({ from: inADay() }), 400, /only window-range/);
    await bad(body({ owner: 1 }), 400, /unknown field `owner`/);
    await bad(body({ grantee: chain.orgs.foundry.id }), 409, /cannot grant access to itself/, "SelfGrant");
    await bad(body({ grantee: 999 }), 409, /not a member/, "GranteeNotActive");
    await bad(body({ expiresAt: "2020-01-01T00:00:00Z" }), 409, /is not after the chain's time/, "ExpiryNotInFuture");
    await bad(body({ scope: "window-range", subject: "furnace-1/temp", from: inADay(), to: "2020-01-01T00:00:00Z" }), 409, /must be before its end/, "InvalidTimeRange");
    await bad(`not json`, 400, /./);
    expect((await gw.request("/grants/0x12", { method: "DELETE", token: tokens.foundry })).status).toBe(400);
    const foreign = await gw.request(`/grants/0x${"ab".repeat(32)}`, { method: "DELETE", token: tokens.foundry });
    expect(foreign.status).toBe(409);
    expect(((await foreign.json()) as { detail: string }).detail).toMatch(/there is no grant/);
  });

  it("grants a data stream for a time range and a batch", async () => {
    const from = new Date(Date.now() - 3_600_000).toISOString();
    const to = new Date().toISOString();
    const r1 = await post(tokens.foundry, body({ scope: "window-range", subject: "furnace-1/temp", from, to }));
    expect(r1.status).toBe(201);
    const r2 = await post(tokens.foundry, body({ scope: "batch", subject: "https://id.gs1.org/01/09521002000214/10/L2026-12" }));
    expect(r2.status, await r2.clone().text()).toBe(201);
    const given = (await list(tokens.foundry)).given;
    expect(given.find((g) => g.scope === "window-range")).toMatchObject({ from, to, state: "live" });
    expect(given.some((g) => g.scope === "batch")).toBe(true);
  });
});
