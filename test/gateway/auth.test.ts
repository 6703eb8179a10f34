/**
 * Sign-in with Ethereum and bearer tokens against a real chain: the happy path, and each way a
 * caller can be refused (wrong signer, replayed nonce, expired challenge, foreign domain, outsider,
 * forged, malformed and expired tokens, suspended organisation, missing role).
 */
import { Wallet } from "ethers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Role } from "../../lib/consortium.ts";
import { TokenService } from "../../gateway/auth/tokens.ts";
import { type TestGateway, startTestGateway } from "../helpers/gateway.ts";
import { reinstateOrg, suspendOrg } from "../helpers/fixture.ts";

let gw: TestGateway;
// The gateway's clock: tests move it instead of sleeping.
let now = Date.now();

beforeAll(async () => {
  gw = await startTestGateway({ gateway: { clock: () => now, membershipTtlMs: 2000 } });
  gw.gateway.router.get("/test/regulators-only", gw.gateway.context.auth.requireOrg(Role.Regulator), (ctx) => {
    ctx.body = { ok: true };
  });
});
afterAll(async () => {
  await gw?.stop();
});

async function challenge(address: string): Promise<{ message: string; nonce: string; expiresAt: string }> {
  const res = await gw.request(`/auth/challenge?address=${address}`);
  expect(res.status).toBe(200);
  return (await res.json()) as { message: string; nonce: string; expiresAt: string };
}

async function detail(res: Response): Promise<string> {
  expect(res.headers.get("content-type")).toMatch(/^application\/problem\+json/);
  return ((await res.json()) as { detail: string }).detail;
}

describe("sign-in (EIP-4361)", () => {
  it("issues a message bound to this gateway, chain and account, with a 5-minute expiry", async () => {
    const account = gw.chain.orgs.lab.signer.address;
    const c = await challenge(account);
    const host = new URL(gw.url).host;
    expect(c.message).toMatch(new RegExp(`^${host.replace(/\./g, "\\.")} wants you to sign in with your Ethereum account:\n${account}\n`));
    expect(c.message).toContain("Chain ID: 31337");
    expect(c.message).toContain(`Nonce: ${c.nonce}`);
    expect(new Date(c.expiresAt).getTime() - now).toBe(5 * 60_000);
  });

  it("trades a signed message for a token of the account's organisation, with its roles", async () => {
    const lab = gw.chain.orgs.lab;
    const c = await challenge(lab.signer.address);
    const res = await gw.request("/auth/token", { json: { message: c.message, signature: await lab.signer.signMessage(c.message) } });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { token: string; expiresAt: string; organisation: { id: number; name: string; roles: string[] }; account: string };
    expect(body.organisation).toEqual({ id: lab.id, name: "Certa Test Lab", roles: ["certifier"] });
    expect(body.account).toBe(lab.signer.address);
    expect(new Date(body.expiresAt).getTime()).toBe(Math.floor(now / 1000) * 1000 + 15 * 60_000);
    const session = await gw.request("/auth/session", { token: body.token });
    expect(session.status).toBe(200);
    expect(await session.json()).toEqual({ account: lab.signer.address, organisation: { id: lab.id, name: "Certa Test Lab", roles: ["certifier"] } });
  });

  it("signs in with an organisation's second account too", async () => {
    const token = await gw.signIn(gw.chain.orgs.steel.accounts[1]!);
    const session = await gw.request("/auth/session", { token });
    expect(((await session.json()) as { organisation: { id: number } }).organisation.id).toBe(gw.chain.orgs.steel.id);
  });

  it("refuses a signature by a different account", async () => {
    const c = await challenge(gw.chain.orgs.oem.signer.address);
    const forged = await gw.chain.orgs.carrier.signer.signMessage(c.message);
    const res = await gw.request("/auth/token", { json: { message: c.message, signature: forged } });
    expect(res.status).toBe(401);
    expect(await detail(res)).toContain(`not made by ${gw.chain.orgs.oem.signer.address}`);
    // The failed attempt did not spend the challenge: the real owner can still use it.
    const ok = await gw.request("/auth/token", { json: { message: c.message, signature: await gw.chain.orgs.oem.signer.signMessage(c.message) } });
    expect(ok.status).toBe(200);
  });

  it("refuses a replayed message (single-use nonce)", async () => {
    const oem = gw.chain.orgs.oem.signer;
    const c = await challenge(oem.address);
    const signature = await oem.signMessage(c.message);
    expect((await gw.request("/auth/token", { json: { message: c.message, signature } })).status).toBe(200);
    const replay = await gw.request("/auth/token", { json: { message: c.message, signature } });
    expect(replay.status).toBe(401);
    expect(await detail(replay)).toContain(`nonce ${c.nonce} is unknown or already used`);
  });

  it("refuses a nonce the gateway never issued", async () => {
    const oem = gw.chain.orgs.oem.signer;
    const c = await challenge(oem.address);
    const message = c.message.replace(c.nonce, "a".repeat(32));
    const res = await gw.request("/auth/token", { json: { message, signature: await oem.signMessage(message) } });
    expect(res.status).toBe(401);
    expect(await detail(res)).toContain("unknown or already used");
  });

  it("refuses an expired challenge", async () => {
    const oem = gw.chain.orgs.oem.signer;
    const c = await challenge(oem.address);
    const signature = await oem.signMessage(c.message);
    now += 5 * 60_000 + 1;
    const res = await gw.request("/auth/token", { json: { message: c.message, signature } });
    expect(res.status).toBe(401);
    expect(await detail(res)).toContain("challenge expired");
  });

  it("refuses a message rewritten for another domain", async () => {
    const oem = gw.chain.orgs.oem.signer;
    const c = await challenge(oem.address);
    const host = new URL(gw.url).host;
    const message = c.message.replace(host, "evil.example");
    const res = await gw.request("/auth/token", { json: { message, signature: await oem.signMessage(message) } });
    expect(res.status).toBe(401);
    expect(await detail(res)).toContain(`for domain "evil.example"`);
  });

  it("names the configured public URL (behind a proxy) in messages and links", async () => {
    const proxied = await startTestGateway({ chain: gw.chain, gateway: { publicHost: "https://gw.atlas.example" } });
    try {
      const res = await proxied.request(`/auth/challenge?address=${gw.chain.orgs.oem.signer.address}`);
      const { message } = (await res.json()) as { message: string };
      expect(message).toMatch(/^gw\.atlas\.example wants you to sign in/);
      expect(message).toContain("\nURI: https://gw.atlas.example\n");
      expect(await proxied.signIn("oem")).toMatch(/^ey/);
      const linkset = (await (await proxied.request("/01/09506000134352")).json()) as { linkset: Record<string, { href: string }[]>[] };
      expect(linkset.linkset[0]!["https://tracemesh.dev/rel/item"]![0]!.href).toMatch(/^https:\/\/gw\.atlas\.example\/items\//);
    } finally {
      await proxied.stop();
    }
  });

  it("refuses an account of no organisation with 403", async () => {
    const c = await challenge(gw.chain.outsider.address);
    const res = await gw.request("/auth/token", { json: { message: c.message, signature: await gw.chain.outsider.signMessage(c.message) } });
    expect(res.status).toBe(403);
    expect(await detail(res)).toContain("does not sign for an active member organisation");
  });

  it("refuses malformed requests with 400 naming the problem", async () => {
    expect(await detail(await gw.request("/auth/challenge"))).toContain("`address`");
    expect(await detail(await gw.request("/auth/challenge?address=0x1234"))).toContain("not an Ethereum address");
    const noSig = await gw.request("/auth/token", { json: { message: "hello" } });
    expect(noSig.status).toBe(400);
    expect(await detail(noSig)).toContain("`signature`");
    const notSiwe = await gw.request("/auth/token", { json: { message: "hello", signature: "0x" + "11".repeat(65) } });
    expect(notSiwe.status).toBe(400);
    expect(await detail(notSiwe)).toContain("not an EIP-4361 message");
  });
});

describe("bearer tokens", () => {
  it("401 without a token, with a malformed header, or with garbage", async () => {
    const none = await gw.request("/auth/session");
    expect(none.status).toBe(401);
    expect(none.headers.get("www-authenticate")).toMatch(/^Bearer/);
    expect(await detail(none)).toContain("needs a token");
    const basic = await gw.request("/auth/session", { headers: { authorization: "Basic abc" } });
    expect(basic.status).toBe(401);
    expect(await detail(basic)).toContain("not `Bearer <token>`");
    const garbage = await gw.request("/auth/session", { token: "abc.def.ghi" });
    expect(garbage.status).toBe(401);
    expect(await detail(garbage)).toContain("malformed");
  });

  it("401 for a token signed with another secret", async () => {
    const other = new TokenService("another secret that is long enough for HS256", 900, () => now);
    const lab = gw.chain.orgs.lab;
    const { token } = await other.issue({ account: lab.signer.address, orgId: lab.id, orgName: lab.name, roles: ["certifier"] });
    const res = await gw.request("/auth/session", { token });
    expect(res.status).toBe(401);
    expect(await detail(res)).toContain("signature is not this gateway's");
  });

  it("401 once the token has expired (15 minutes)", async () => {
    const token = await gw.signIn("machining");
    now += 14 * 60_000;
    expect((await gw.request("/auth/session", { token })).status).toBe(200);
    now += 60_000;
    const res = await gw.request("/auth/session", { token });
    expect(res.status).toBe(401);
    expect(await detail(res)).toContain("expired");
  });

  it("a token checked once is remembered to its expiry, never past it, and only as exactly the string signed", async () => {
    let clock = Date.UTC(2026, 11, 6, 12, 0, 0, 500);
    const service = new TokenService("a token secret that is long enough for HS256 here", 60, () => clock);
    const { token, expiresAt } = await service.issue({ account: "0x0000000000000000000000000000000000000001", orgId: 7, orgName: "Seven", roles: ["supplier"] });
    const first = await service.verify(token);
    // The caller's copy may change; the remembered claims do not.
    first.roles.push("regulator");
    expect(await service.verify(token)).toEqual({ account: "0x0000000000000000000000000000000000000001", orgId: 7, orgName: "Seven", roles: ["supplier"] });
    // Another signature on the same claims is not the remembered token.
    const forged = token.slice(0, -2) + (token.endsWith("AA") ? "BB" : "AA");
    await expect(service.verify(forged)).rejects.toThrow(/signature is not this gateway's|malformed/);
    clock = expiresAt.getTime() - 1;
    expect((await service.verify(token)).orgId).toBe(7);
    clock = expiresAt.getTime();
    await expect(service.verify(token)).rejects.toThrow(/expired/);
    await expect(service.verify(token)).rejects.toThrow(/expired/);
  });

  it("403 when the organisation lacks the route's role; the role holder passes", async () => {
    const oem = await gw.signIn("oem");
    const refused = await gw.request("/test/regulators-only", { token: oem });
    expect(refused.status).toBe(403);
    expect(await detail(refused)).toContain("Atlas Motors holds none of the roles this route needs (regulator)");
    const regulator = await gw.signIn("regulator");
    expect((await gw.request("/test/regulators-only", { token: regulator })).status).toBe(200);
  });

  it("403 within seconds of the organisation's suspension, and back after reinstatement", async () => {
    const token = await gw.signIn("foundry");
    expect((await gw.request("/auth/session", { token })).status).toBe(200);
    await suspendOrg(gw.chain, "foundry");
    now += 2000; // the membership cache's lifetime
    const res = await gw.request("/auth/session", { token });
    expect(res.status).toBe(403);
    expect(await detail(res)).toContain("no longer signs for an active organisation");
    // A suspended organisation cannot sign in again either.
    await expect(gw.signIn("foundry")).rejects.toThrow(/403/);
    await reinstateOrg(gw.chain, "foundry");
    // Only active memberships are cached: reinstatement works at once, with no cache to wait out.
    expect((await gw.request("/auth/session", { token })).status).toBe(200);
    now += 2000;
    expect((await gw.request("/auth/session", { token })).status).toBe(200);
  });

  it("rate-limits a signed-in organisation by its id, not its IP", async () => {
    const limited = await startTestGateway({ chain: gw.chain, gateway: { rateLimit: { max: 4, durationMs: 60_000 } } });
    try {
      const token = await limited.signIn("auditor"); // 2 requests from this IP
      for (let i = 0; i < 4; i++) expect((await limited.request("/auth/session", { token })).status).toBe(200);
      const res = await limited.request("/auth/session", { token });
      expect(res.status).toBe(429);
      expect(await detail(res)).toContain(`org:${gw.chain.orgs.auditor.id}`);
      // The anonymous IP still has two requests left.
      expect((await limited.request("/health")).status).toBe(200);
    } finally {
      await limited.stop();
    }
  });

  it("an unrelated wallet's token cannot be minted: the outsider never gets one", async () => {
    await expect(gw.signIn(Wallet.createRandom().connect(gw.chain.provider))).rejects.toThrow(/403/);
  });
});
