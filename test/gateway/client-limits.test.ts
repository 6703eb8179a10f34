/**
 * Sign-in challenges and rate limits per client (issue 12, low findings): a few clients could
 * fill the global challenge store (every sign-in then 503 for five minutes), and everyone behind
 * a proxy shared one rate-limit bucket. Challenges are capped per address and per client, and
 * X-Forwarded-For names the client only when it comes from a configured trusted proxy.
 */
import { Wallet } from "ethers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { clientAddressOf, trustedProxySet } from "../../gateway/client-address.ts";
import { type TestGateway, startTestGateway } from "../helpers/gateway.ts";

let gw: TestGateway;

beforeAll(async () => {
  // A small store: 40 challenges in all, so two clients at their cap of 20 would fill it.
  gw = await startTestGateway({ gateway: { challengeLimits: { perClient: 20, total: 40 }, trustedProxies: ["127.0.0.1"], rateLimit: false } });
});
afterAll(async () => {
  await gw?.stop();
});

const challenge = (address: string, client?: string) =>
  gw.request(`/auth/challenge?address=${address}`, client ? { headers: { "x-forwarded-for": client } } : {});

describe("sign-in challenge caps", () => {
  it("keeps only an address's newest challenges: a retrying wallet never piles them up", async () => {
    const signer = gw.chain.orgs.lab.signer;
    const issued: { message: string }[] = [];
    for (let i = 0; i < 4; i++) issued.push((await (await challenge(signer.address, "198.51.100.7")).json()) as { message: string });
    const oldest = issued[0]!.message;
    const refused = await gw.request("/auth/token", { json: { message: oldest, signature: await signer.signMessage(oldest) } });
    expect(refused.status).toBe(401);
    expect(((await refused.json()) as { detail: string }).detail).toMatch(/unknown or already used/);
    const newest = issued[3]!.message;
    const ok = await gw.request("/auth/token", { json: { message: newest, signature: await signer.signMessage(newest) } });
    expect(ok.status).toBe(200);
  });

  it("caps the challenges one client holds, so a few clients cannot lock everyone out", async () => {
    // Today's code let one client take the whole store: here 40 challenges, then 503 for all.
    let limited: Response | undefined;
    for (let i = 0; i < 45; i++) {
      const res = await challenge(Wallet.createRandom().address, "203.0.113.66");
      if (res.status !== 200) {
        limited = res;
        break;
      }
    }
    expect(limited?.status).toBe(429);
    expect(limited?.headers.get("content-type")).toMatch(/^application\/problem\+json/);
    expect(((await limited!.json()) as { detail: string }).detail).toMatch(/20 sign-in challenges are already pending for 203\.0\.113\.66/);
    // Another client still signs in.
    const other = await challenge(gw.chain.orgs.oem.signer.address, "192.0.2.10");
    expect(other.status).toBe(200);
  });
});

describe("trusted proxies", () => {
  const fake = (remote: string, forwarded?: string) => ({
    req: { socket: { remoteAddress: remote } },
    get: (name: string) => (name.toLowerCase() === "x-forwarded-for" ? (forwarded ?? "") : ""),
  });

  it("reads X-Forwarded-For only from a configured proxy, right to left past trusted hops", () => {
    const trusted = trustedProxySet(["10.0.0.1", "10.0.0.2"]);
    const cases: [string, string | undefined, string][] = [
      ["192.0.2.1", "198.51.100.9", "192.0.2.1"], // not a proxy: its header is ignored
      ["::ffff:10.0.0.1", "198.51.100.9", "198.51.100.9"],
      ["10.0.0.1", "6.6.6.6, 198.51.100.9, 10.0.0.2", "198.51.100.9"], // the client's own claim (6.6.6.6) is not trusted
      ["10.0.0.1", "not-an-ip, 198.51.100.9", "198.51.100.9"],
      ["10.0.0.1", "198.51.100.9, garbage", "10.0.0.1"],
      ["10.0.0.1", undefined, "10.0.0.1"],
    ];
    for (const [remote, forwarded, client] of cases) expect(clientAddressOf(fake(remote, forwarded) as never, trusted), `${remote} ${forwarded}`).toBe(client);
    expect(() => trustedProxySet(["proxy.local"])).toThrow(/not an IP address/);
  });

  it("gives clients behind a trusted proxy their own rate-limit buckets", async () => {
    const proxied = await startTestGateway({ chain: gw.chain, gateway: { trustedProxies: ["127.0.0.1"], rateLimit: { max: 2, durationMs: 60_000 } } });
    const direct = await startTestGateway({ chain: gw.chain, gateway: { rateLimit: { max: 2, durationMs: 60_000 } } });
    try {
      const get = (g: TestGateway, client: string) => g.request("/health", { headers: { "x-forwarded-for": client } });
      for (let i = 0; i < 2; i++) expect((await get(proxied, "198.51.100.1")).status).toBe(200);
      expect((await get(proxied, "198.51.100.1")).status).toBe(429);
      expect((await get(proxied, "198.51.100.2")).status).toBe(200);
      // Without trusted proxies, a client cannot pick a fresh bucket by forging the header.
      for (let i = 0; i < 2; i++) expect((await get(direct, `198.51.100.${10 + i}`)).status).toBe(200);
      expect((await get(direct, "198.51.100.99")).status).toBe(429);
    } finally {
      await proxied.stop();
      await direct.stop();
    }
  });
});
