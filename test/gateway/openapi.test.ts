/**
 * The OpenAPI document and the router agree: every registered route is documented with its
 * method, and every documented operation has a route. Also checks the document's own shape.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openApiPathOf } from "../../gateway/openapi.ts";
import { type TestGateway, startTestGateway } from "../helpers/gateway.ts";

let gw: TestGateway;

beforeAll(async () => {
  gw = await startTestGateway();
});
afterAll(async () => {
  await gw?.stop();
});

const METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

describe("OpenAPI document", () => {
  it("documents exactly the routes the router registers", () => {
    const registered = new Set<string>();
    for (const layer of gw.gateway.router.stack) {
      for (const method of layer.methods) {
        // Koa's router adds HEAD to every GET route; OpenAPI documents GET only.
        if (method === "HEAD") continue;
        registered.add(`${method.toLowerCase()} ${openApiPathOf(String(layer.path))}`);
      }
    }
    const documented = new Set<string>();
    for (const [path, item] of Object.entries(gw.gateway.openapi.paths)) {
      for (const method of Object.keys(item)) if (METHODS.includes(method)) documented.add(`${method} ${path}`);
    }
    expect([...registered].filter((r) => !documented.has(r)), "routes missing from the OpenAPI document").toEqual([]);
    expect([...documented].filter((d) => !registered.has(d)), "documented operations without a route").toEqual([]);
    expect(registered.size).toBeGreaterThan(5);
  });

  it("declares every path parameter of each path template", () => {
    for (const [path, item] of Object.entries(gw.gateway.openapi.paths)) {
      const inPath = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]).sort();
      for (const [method, op] of Object.entries(item)) {
        const declared = ((op as { parameters?: { in: string; name: string }[] }).parameters ?? [])
          .filter((p) => p.in === "path")
          .map((p) => p.name)
          .sort();
        expect(declared, `${method.toUpperCase()} ${path}`).toEqual(inPath);
        expect(Object.keys((op as { responses?: object }).responses ?? {}).length, `${method.toUpperCase()} ${path} responses`).toBeGreaterThan(0);
      }
    }
  });

  it("is served at /openapi.json as OpenAPI 3.1, and /docs works offline", async () => {
    const res = await gw.request("/openapi.json");
    expect(res.status).toBe(200);
    const doc = (await res.json()) as { openapi: string; paths: object };
    expect(doc.openapi).toBe("3.1.0");
    expect(Object.keys(doc.paths)).toEqual(Object.keys(gw.gateway.openapi.paths));
    const page = await gw.request("/docs");
    expect(page.headers.get("content-type")).toMatch(/^text\/html/);
    const html = await page.text();
    const assets = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    expect(assets.every((a) => a.startsWith("/docs/")), "no asset from elsewhere").toBe(true);
    for (const asset of assets) {
      const r = await gw.request(asset);
      expect(r.status, asset).toBe(200);
      expect((await r.arrayBuffer()).byteLength, asset).toBeGreaterThan(100);
    }
    expect(html).not.toMatch(/<script>[^<]/); // no inline script: the CSP forbids it
    expect((await gw.request("/docs/../package.json")).status).toBe(404);
    expect((await gw.request("/docs/index.html")).status).toBe(404);
  });
});
