/**
 * Rate limits that fit integrations (gateway/ratelimit.ts): by default a member organisation
 * (a caller with a token) may send 12,000 requests a minute, so one partner's ERP is not capped at
 * 10 a second, while anonymous callers keep 600 a minute per address. Both limits are set
 * separately, from the gateway options or the member configuration, and counted separately: an
 * organisation's traffic never uses up the anonymous budget of its address, nor the reverse.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_RATE_LIMITS, rateLimitsOf } from "../../gateway/ratelimit.ts";
import { gatewayRateLimits, loadMemberConfig } from "../../member/config.ts";
import { ConfigError } from "../../node/config.ts";
import { type TestChain, type TestGateway, startTestChain, startTestGateway } from "../helpers/gateway.ts";

let chain: TestChain;
beforeAll(async () => {
  chain = await startTestChain();
});
afterAll(async () => {
  await chain?.stop();
});

const detailOf = async (res: Response) => ((await res.json()) as { detail: string }).detail;

/** `n` requests one after another; the statuses. */
async function burst(gw: TestGateway, n: number, token?: string): Promise<number[]> {
  const statuses: number[] = [];
  for (let i = 0; i < n; i++) statuses.push((await gw.request("/openapi.json", { token })).status);
  return statuses;
}

describe("rate limits", () => {
  it("by default let an organisation past 600 a minute while an anonymous address stops at 600", async () => {
    expect(DEFAULT_RATE_LIMITS).toEqual({ organisation: { max: 12_000, durationMs: 60_000 }, anonymous: { max: 600, durationMs: 60_000 } });
    const gw = await startTestGateway({ chain });
    try {
      const token = await gw.signIn("oem");
      expect(new Set(await burst(gw, 700, token))).toEqual(new Set([200]));
      // The sign-in's two requests were anonymous.
      expect(new Set(await burst(gw, 598))).toEqual(new Set([200]));
      const refused = await gw.request("/openapi.json");
      expect(refused.status).toBe(429);
      expect(await detailOf(refused)).toMatch(/rate limit of 600 requests per 60 s exceeded for ip:/);
      // The organisation, on the same address, still gets its answers.
      expect((await gw.request("/openapi.json", { token })).status).toBe(200);
    } finally {
      await gw.stop();
    }
  }, 60_000);

  it("counts organisations and anonymous callers against their own configured limits", async () => {
    const gw = await startTestGateway({ chain, gateway: { rateLimit: { organisation: { max: 3, durationMs: 60_000 }, anonymous: { max: 4, durationMs: 60_000 } } } });
    try {
      // Each sign-in's two requests are anonymous: the anonymous budget of 4 is used up.
      const oem = await gw.signIn("oem");
      const lab = await gw.signIn("lab");
      expect(await burst(gw, 4, oem)).toEqual([200, 200, 200, 429]);
      const limited = await gw.request("/openapi.json", { token: oem });
      expect(limited.status).toBe(429);
      expect(Number(limited.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
      expect(await detailOf(limited)).toMatch(/rate limit of 3 requests per 60 s exceeded for org:\d+/);
      // Another organisation has its own count.
      expect(await burst(gw, 3, lab)).toEqual([200, 200, 200]);
      expect((await gw.request("/openapi.json")).status).toBe(429);
    } finally {
      await gw.stop();
    }
  });

  it("takes one limit for both, fills what a configuration leaves out, and refuses nonsense naming it", () => {
    expect(rateLimitsOf({ max: 5, durationMs: 1000 })).toEqual({ organisation: { max: 5, durationMs: 1000 }, anonymous: { max: 5, durationMs: 1000 } });
    expect(rateLimitsOf({ anonymous: { max: 60, durationMs: 60_000 } })).toEqual({ organisation: DEFAULT_RATE_LIMITS.organisation, anonymous: { max: 60, durationMs: 60_000 } });
    expect(() => rateLimitsOf({ organisation: { max: 0, durationMs: 60_000 } })).toThrow(/rate limit for organisation callers: max must be .* got 0/);
    expect(() => rateLimitsOf({ anonymous: { max: 10, durationMs: 10 } })).toThrow(/rate limit for anonymous callers: durationMs .* got 10/);
  });

  it("reads per-minute limits from the member configuration and names a bad one", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "tm-rate-limits-"));
    try {
      const node = { organisation: "Delta Machining", dataDir: "./data", chain: { rpcUrl: "http://127.0.0.1:8545", deployment: "./deployment.json", keyEnv: "NODE_KEY" } };
      const file = path.join(dir, "member.json");
      writeFileSync(file, JSON.stringify({ ...node, gateway: { rateLimit: { organisationPerMinute: 30_000 } } }));
      const c = loadMemberConfig(file);
      expect(gatewayRateLimits(c.gateway.rateLimit!)).toEqual({ organisation: { max: 30_000, durationMs: 60_000 } });
      writeFileSync(file, JSON.stringify({ ...node, gateway: { rateLimit: { anonymousPerMinute: 0, perSecond: 5 } } }));
      let problems: string[] = [];
      try {
        loadMemberConfig(file);
      } catch (e) {
        expect(e).toBeInstanceOf(ConfigError);
        problems = [...(e as ConfigError).problems];
      }
      expect(problems.join("\n")).toMatch(/gateway\.rateLimit/);
      expect(problems.join("\n")).toMatch(/anonymousPerMinute.*1 or more|perSecond/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
