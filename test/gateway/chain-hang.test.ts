/**
 * A chain that hangs (anvil stopped with SIGSTOP: connections accepted, never answered) and a
 * chain that refuses connections (anvil gone): /health and the trace routes answer 503 with
 * Retry-After within the bound of one chain call (lib/rpc-provider.ts) plus slack, never a
 * request left hanging (issue 18).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_CHAIN_CALL_TIMEOUT_MS, rpcProvider } from "../../lib/rpc-provider.ts";
import { Indexer } from "../../node/indexer/index.ts";
import { indexService } from "../../node/indexer/service.ts";
import { type TestChain, type TestGateway, startTestChain, startTestGateway } from "../helpers/gateway.ts";

// The routes make at most two chain calls (membership, the index's freshness), each bounded.
const BOUND_MS = 2 * DEFAULT_CHAIN_CALL_TIMEOUT_MS + 1_500;

describe("gateway requests while the chain hangs or refuses", () => {
  let chain: TestChain;
  let gw: TestGateway;
  let indexer: Indexer;
  let dir: string;
  let token: string;
  let stopped = false;

  beforeAll(async () => {
    chain = await startTestChain();
    dir = mkdtempSync(path.join(tmpdir(), "tracemesh-chain-hang-"));
    const provider = rpcProvider(chain.chain.url, chain.deployment.chainId);
    indexer = await Indexer.open({ provider, deployment: chain.deployment, store: dir });
    await indexer.sync();
    // No membership cache: every request asks the chain who the caller signs for.
    gw = await startTestGateway({ chain, services: { index: indexService(indexer) }, gateway: { rateLimit: false, membershipTtlMs: 0 } });
    token = await gw.signIn("oem");
  }, 60_000);
  afterAll(async () => {
    if (stopped) process.kill(chain.chain.pid, "SIGCONT");
    await gw?.stop();
    await indexer?.stop();
    await chain?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** GET `route`, with how long the answer took; fails rather than wait past 20 s. */
  const timed = async (route: string, auth = false) => {
    const t0 = Date.now();
    const res = await fetch(gw.url + route, { headers: auth ? { authorization: `Bearer ${token}` } : {}, signal: AbortSignal.timeout(20_000) });
    await res.arrayBuffer();
    return { status: res.status, retryAfter: res.headers.get("retry-after"), ms: Date.now() - t0 };
  };
  const ROUTES: [string, boolean][] = [
    ["/health", false],
    ["/items/urn:epc:id:sgtin:0614141.112345.400", true],
    ["/consortium", true],
  ];

  it("answers while the chain is up", async () => {
    expect((await timed("/health")).status).toBe(200);
    expect((await timed("/consortium", true)).status).toBe(200);
  });

  it("a hung chain: 503 with Retry-After within the bound, on every route", async () => {
    process.kill(chain.chain.pid, "SIGSTOP");
    stopped = true;
    await new Promise((r) => setTimeout(r, 500)); // past ethers' 250 ms cache of a head read just now
    for (const [route, auth] of ROUTES) {
      const r = await timed(route, auth);
      expect(r, route).toMatchObject({ status: 503 });
      expect(Number(r.retryAfter), `${route} Retry-After`).toBeGreaterThan(0);
      expect(r.ms, `${route} answered after ${r.ms} ms`).toBeLessThan(BOUND_MS);
    }
    stopped = false;
    process.kill(chain.chain.pid, "SIGCONT");
    expect((await timed("/health")).status).toBe(200);
  }, 120_000);

  it("a refusing chain: 503 with Retry-After, at once", async () => {
    await chain.chain.stop();
    await new Promise((r) => setTimeout(r, 500));
    for (const [route, auth] of ROUTES) {
      const r = await timed(route, auth);
      expect(r, route).toMatchObject({ status: 503 });
      expect(Number(r.retryAfter), `${route} Retry-After`).toBeGreaterThan(0);
      expect(r.ms, `${route} answered after ${r.ms} ms`).toBeLessThan(BOUND_MS);
    }
  }, 60_000);
});
