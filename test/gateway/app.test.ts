/** The gateway's common behaviour over real HTTP: health, problem+json errors, limits, headers, metrics. */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { JsonRpcProvider } from "ethers";
import { freePort } from "../../scripts/local-chain/anvil.ts";
import { connectContracts } from "../../lib/deployment.ts";
import { createGateway } from "../../gateway/app.ts";
import { type TestGateway, startTestGateway } from "../helpers/gateway.ts";

let gw: TestGateway;

beforeAll(async () => {
  gw = await startTestGateway({ gateway: { bodyLimits: { small: 1024 }, rateLimit: { max: 1000, durationMs: 60_000 } } });
});
afterAll(async () => {
  await gw?.stop();
});

async function problemOf(res: Response) {
  expect(res.headers.get("content-type")).toMatch(/^application\/problem\+json/);
  const body = (await res.json()) as { type: string; title: string; status: number; detail: string };
  expect(body.status).toBe(res.status);
  expect(typeof body.detail).toBe("string");
  return body;
}

describe("gateway app", () => {
  it("reports health with the chain and organisation", async () => {
    const res = await gw.request("/health");
    expect(res.status).toBe(200);
    const body = (await res.json()) as { ok: boolean; chainId: number; organisation: { id: number; name: string }; blockNumber: number };
    expect(body.ok).toBe(true);
    expect(body.chainId).toBe(31337);
    expect(body.organisation).toEqual({ id: gw.chain.orgs.oem.id, name: "Atlas Motors" });
    expect(body.blockNumber).toBeGreaterThan(0);
  });

  it("answers unknown paths with a 404 problem", async () => {
    const res = await gw.request("/no/such/thing");
    expect(res.status).toBe(404);
    expect((await problemOf(res)).detail).toContain("GET /no/such/thing");
  });

  it("answers a wrong method with 405, the Allow header and a problem", async () => {
    const res = await gw.request("/health", { method: "DELETE" });
    expect(res.status).toBe(405);
    expect(res.headers.get("allow")).toContain("GET");
    expect((await problemOf(res)).detail).toContain("DELETE is not allowed on /health");
  });

  it("refuses query parameters a route does not declare", async () => {
    const res = await gw.request("/health?verbose=1");
    expect(res.status).toBe(400);
    expect((await problemOf(res)).detail).toContain("`verbose`");
  });

  it("refuses malformed JSON, wrong media types and oversized bodies", async () => {
    const malformed = await gw.request("/auth/token", { body: "{not json", headers: { "content-type": "application/json" } });
    expect(malformed.status).toBe(400);
    expect((await problemOf(malformed)).detail).toMatch(/not valid JSON/);
    const wrongType = await gw.request("/auth/token", { body: "message=x", headers: { "content-type": "application/x-www-form-urlencoded" } });
    expect(wrongType.status).toBe(415);
    await problemOf(wrongType);
    const big = await gw.request("/auth/token", { json: { message: "x".repeat(2000), signature: "0x" } });
    expect(big.status).toBe(413);
    expect((await problemOf(big)).detail).toContain("at most 1024");
  });

  it("stops reading a chunked body (no Content-Length) at the limit", async () => {
    const chunk = new TextEncoder().encode(`{"message":"${"x".repeat(600)}`);
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(chunk);
        controller.enqueue(chunk);
        controller.close();
      },
    });
    const res = await fetch(`${gw.url}/auth/token`, { method: "POST", body, headers: { "content-type": "application/json" }, duplex: "half" } as RequestInit);
    expect(res.status).toBe(413);
    expect((await problemOf(res)).detail).toContain("at most 1024");
  });

  it("sets security headers with a self-only content security policy", async () => {
    const res = await gw.request("/health");
    const csp = res.headers.get("content-security-policy") ?? "";
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain("unsafe-inline");
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    expect(res.headers.get("x-frame-options")).toBe("SAMEORIGIN");
  });

  it("serves Prometheus metrics to loopback callers, by route", async () => {
    await gw.request("/health");
    const res = await gw.request("/metrics");
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).toMatch(/tracemesh_gateway_requests_total\{method="GET",route="\/health",status="200"\} \d+/);
    expect(text).toContain("tracemesh_gateway_request_duration_seconds_bucket");
  });
});

describe("metrics access", () => {
  it("does not trust loopback unless told to: behind a local proxy every client is loopback", async () => {
    const strict = await startTestGateway({ chain: gw.chain, gateway: { metricsLoopback: false } });
    const tokened = await startTestGateway({ chain: gw.chain, gateway: { metricsLoopback: false, metricsToken: "m".repeat(32) } });
    try {
      const refused = await strict.request("/metrics");
      expect(refused.status).toBe(403);
      expect((await problemOf(refused)).detail).toMatch(/metrics are off: configure a metrics token/);
      expect((await tokened.request("/metrics")).status).toBe(403);
      expect((await tokened.request("/metrics", { token: "x".repeat(32) })).status).toBe(403);
      expect((await tokened.request("/metrics", { token: "m".repeat(32) })).status).toBe(200);
      // Where loopback is trusted on purpose, a forwarded request is still not the operator.
      expect((await gw.request("/metrics", { headers: { "x-forwarded-for": "203.0.113.5" } })).status).toBe(403);
    } finally {
      await strict.stop();
      await tokened.stop();
    }
  });
});

describe("chain outage", () => {
  it("answers 503 problems (and an unhealthy /health) while the chain is unreachable", async () => {
    const provider = new JsonRpcProvider(`http://127.0.0.1:${await freePort()}`, 31337, { staticNetwork: true, batchMaxCount: 1 });
    const services = { ...gw.services, provider, contracts: connectContracts(gw.chain.deployment.contracts, provider) };
    const server = await createGateway(services, { log: "silent" }).listen();
    try {
      const health = await fetch(`${server.url}/health`);
      expect(health.status).toBe(503);
      expect(((await health.json()) as { ok: boolean }).ok).toBe(false);
      const cert = await fetch(`${server.url}/certificates/0x${"ab".repeat(32)}`);
      expect(cert.status).toBe(503);
      expect(cert.headers.get("retry-after")).toBe("5");
      expect((await problemOf(cert)).detail).toContain("chain did not answer");
    } finally {
      await server.close();
      provider.destroy();
    }
  });
});

describe("logs and explorer assets", () => {
  it("writes one structured pino line per request", async () => {
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
        done();
      },
    });
    const logged = await startTestGateway({ chain: gw.chain, gateway: { log: pino({ level: "info" }, sink) } });
    try {
      await logged.request("/health");
      await logged.request("/nowhere");
      await new Promise((r) => setTimeout(r, 50));
      expect(lines).toEqual([
        expect.objectContaining({ msg: "request", method: "GET", path: "/health", route: "/health", status: 200, ms: expect.any(Number) }),
        expect.objectContaining({ msg: "request", method: "GET", path: "/nowhere", route: "unmatched", status: 404 }),
      ]);
    } finally {
      await logged.stop();
    }
  });

  it("serves the built explorer under /explorer/ with the same CSP", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "explorer-"));
    writeFileSync(path.join(dir, "index.html"), "<!doctype html><title>Tracemesh</title>");
    writeFileSync(path.join(dir, "app.js"), "console.log(1)");
    const withExplorer = await startTestGateway({ chain: gw.chain, gateway: { explorerDir: dir } });
    try {
      const page = await withExplorer.request("/explorer/");
      expect(page.status).toBe(200);
      expect(await page.text()).toContain("<title>Tracemesh</title>");
      expect(page.headers.get("content-security-policy")).toContain("script-src 'self'");
      const js = await withExplorer.request("/explorer/app.js");
      expect(js.headers.get("content-type")).toMatch(/javascript/);
      await js.arrayBuffer();
      expect((await withExplorer.request("/explorer/../package.json")).status).toBe(404);
      const missing = await withExplorer.request("/explorer/missing.js");
      expect(missing.status).toBe(404);
      await problemOf(missing);
    } finally {
      await withExplorer.stop();
    }
  });
});

describe("rate limits", () => {
  it("answers 429 problem+json with Retry-After once a client exceeds its limit", async () => {
    const limited = await startTestGateway({ chain: gw.chain, gateway: { rateLimit: { max: 3, durationMs: 60_000 } } });
    try {
      for (let i = 0; i < 3; i++) expect((await limited.request("/openapi.json")).status).toBe(200);
      const res = await limited.request("/openapi.json");
      expect(res.status).toBe(429);
      expect(Number(res.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
      expect((await problemOf(res)).detail).toContain("ip:");
      // A signed-in organisation is counted on its own, not with its IP.
    } finally {
      await limited.stop();
    }
  });
});
