/**
 * The GS1 Digital Link resolver and /resolve over real HTTP, with digital-link.js's own vectors
 * (/work/shared/fixtures/digital-link). The JSON-RPC pass-through is tested in rpc.test.ts.
 */
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { itemKey, batchKey } from "../../lib/identifiers/canonical.ts";
import { PRIMARY_KEYS } from "../../gateway/routes/resolver.ts";
import { type TestGateway, startTestGateway } from "../helpers/gateway.ts";

const FIXTURES = process.env.TRACEMESH_FIXTURES ?? "/work/shared/fixtures";
const vectors = JSON.parse(readFileSync(`${FIXTURES}/digital-link/digital-link-js-vectors.json`, "utf8")) as {
  validation: { uri: string; valid: boolean | null; note: string }[];
};

let gw: TestGateway;

beforeAll(async () => {
  gw = await startTestGateway();
});
afterAll(async () => {
  await gw?.stop();
});

const LINKSET = "application/linkset+json";

async function detail(res: Response): Promise<string> {
  expect(res.headers.get("content-type")).toMatch(/^application\/problem\+json/);
  return ((await res.json()) as { detail: string }).detail;
}

describe("Digital Link resolver", () => {
  const sgtin = "/01/09506000134352/10/LOT-7/21/SN%2F001";
  const canonical = "https://id.gs1.org/01/09506000134352/21/SN%2F001";

  it("answers machines with an RFC 9264 linkset anchored at the canonical Digital Link", async () => {
    const res = await gw.request(sgtin, { headers: { accept: LINKSET } });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^application\/linkset\+json/);
    expect(res.headers.get("vary")).toMatch(/accept/i);
    const body = (await res.json()) as { linkset: Record<string, unknown>[] };
    const ctx = body.linkset[0]!;
    expect(ctx.anchor).toBe(canonical);
    const enc = encodeURIComponent(canonical);
    expect(ctx["https://ref.gs1.org/voc/defaultLink"]).toEqual([{ href: `${gw.url}/explorer/#/item/${enc}`, title: expect.any(String), type: "text/html", hreflang: ["en", "zh"] }]);
    expect((ctx["https://ref.gs1.org/voc/traceability"] as { href: string }[])[0]!.href).toBe(`${gw.url}/items/${enc}/history`);
    // GS1's older IRI of each link type is kept as an equivalent relation type.
    for (const type of ["defaultLink", "traceability", "epcis", "certificationInfo"]) expect(ctx[`https://gs1.org/voc/${type}`], type).toEqual(ctx[`https://ref.gs1.org/voc/${type}`]);
    expect((ctx["https://tracemesh.dev/rel/item"] as { href: string }[])[0]!.href).toBe(`${gw.url}/items/${enc}`);
    // Plain JSON clients get the same linkset.
    const plain = await gw.request(sgtin, { headers: { accept: "application/json" } });
    expect(plain.headers.get("content-type")).toMatch(/^application\/json/);
    expect(await plain.json()).toEqual(body);
  });

  it("redirects browsers (303) to the explorer's item page", async () => {
    const res = await fetch(gw.url + sgtin, {
      headers: { accept: "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8" },
      redirect: "manual",
    });
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe(`${gw.url}/explorer/#/item/${encodeURIComponent(canonical)}`);
  });

  it("follows ?linkType to one link; an absent one falls back to the linkset", async () => {
    const res = await fetch(`${gw.url}/01/09506000134352/10/LOT-7?linkType=gs1:certificationInfo`, { redirect: "manual" });
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe(`${gw.url}/items/${encodeURIComponent("https://id.gs1.org/01/09506000134352/10/LOT-7")}/certificates`);
    // A link type the item lacks falls back to the default answer (GS1 resolver behaviour).
    const unknown = await gw.request("/01/09506000134352?linkType=gs1:recipeInfo", { headers: { accept: LINKSET } });
    expect(unknown.status).toBe(200);
    expect(unknown.headers.get("content-type")).toMatch(/^application\/linkset\+json/);
    await unknown.arrayBuffer();
    // ?linkType=all gives the linkset even to a browser.
    const all = await gw.request("/01/09506000134352?linkType=all", { headers: { accept: "text/html" } });
    expect(all.status).toBe(200);
    expect(((await all.json()) as { linkset: { anchor: string }[] }).linkset[0]!.anchor).toBe("https://id.gs1.org/01/09506000134352");
  });

  it("says what is wrong with an invalid URI", async () => {
    const cases: [string, RegExp][] = [
      ["/01/09506000134353", /GTIN check digit is 3, expected 2/],
      ["/01/09506000134352/21/S1/10/L1", /out of order/],
      ["/00/106141412345678908/10/L1", /lot number \(AI 10\) is not a key qualifier of SSCC/],
      // DL 1.4: a GTIN in the path has 14 digits (zero-padded); shorter ones were a leniency of older versions.
      ["/01/0950600013435", /GTIN \(AI 01\) "0950600013435" has 13 digits, expected 14$/],
      ["/01/09506000134352?17=", /AI 17 in the query string has an empty value/],
      ["/01/09506000134352?4711=1", /query parameter 4711 is not a GS1 data attribute/],
      ["/01/09506000134352?17=261231&17=270101", /AI 17 appears more than once/],
      ["/01/09506000134352?410=9520123456789", /AI 410 "9520123456789" has a wrong check digit/],
      ["/01/09506000134352?linkType=gs1:pip%00", /contains a NUL byte/],
      ["/01/09506000134352?21=S1", /serial number \(AI 21\) is a GS1 key or key qualifier: it belongs in the path/],
      ["/01/09506000134352/99/X", /AI 99 is not a key qualifier of GTIN/],
      ["/01/09506000134352/17/261231", /AI 17 is not a key qualifier of GTIN/],
      ["/01/ABC", /must contain digits only/],
      ["/414/9520123456781", /GLN check digit/],
    ];
    for (const [path, why] of cases) {
      const res = await gw.request(path, { headers: { accept: LINKSET } });
      expect(res.status, path).toBe(400);
      expect(await detail(res), path).toMatch(why);
    }
  });

  it("agrees with the digital-link.js validation vectors whose path starts at a numeric primary key", async () => {
    const numeric = vectors.validation.filter((v) => {
      const first = new URL(v.uri).pathname.split("/")[1] ?? "";
      return v.valid !== null && first in PRIMARY_KEYS;
    });
    expect(numeric.length).toBeGreaterThanOrEqual(10);
    for (const v of numeric) {
      const u = new URL(v.uri);
      const res = await gw.request(u.pathname + u.search, { headers: { accept: LINKSET } });
      // Where digital-link.js (DL 1.1/1.2) accepts a zero-suppressed GTIN, DL 1.4 and this resolver refuse it.
      const shortGtin = /^\/01\/(\d{8}|\d{12}|\d{13})(\/|$)/.test(u.pathname);
      expect(res.status, `${v.uri} (${v.note})`).toBe(v.valid && !shortGtin ? 200 : 400);
      await res.arrayBuffer();
    }
  });

  it("takes the last key segment as the key, the path before it as a free stem", async () => {
    const res = await gw.request("/00/faux/00/006141411234567890", { headers: { accept: LINKSET } });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { linkset: { anchor: string }[] }).linkset[0]!.anchor).toBe("https://id.gs1.org/00/006141411234567890");
  });

  it("resolves a compressed Digital Link like its uncompressed form, with an owl:sameAs link to it", async () => {
    const res = await gw.request("/HxHKVAdpQgZzjr-hCDKigI", { headers: { accept: LINKSET } });
    expect(res.status).toBe(200);
    const ctx = ((await res.json()) as { linkset: Record<string, unknown>[] }).linkset[0]!;
    const uncompressed = `${gw.url}/01/09780345418913/10/231/21/345345?15=120820`;
    expect(ctx["http://www.w3.org/2002/07/owl#sameAs"]).toEqual([{ href: uncompressed, title: expect.any(String), type: LINKSET }]);
    expect(res.headers.get("link")).toContain(`<${uncompressed}>; rel="http://www.w3.org/2002/07/owl#sameAs"`);
    const plain = await gw.request(new URL(uncompressed).pathname + "?15=120820", { headers: { accept: LINKSET } });
    const plainCtx = ((await plain.json()) as { linkset: Record<string, unknown>[] }).linkset[0]!;
    expect(ctx.anchor).toBe(plainCtx.anchor);
    expect(plainCtx["http://www.w3.org/2002/07/owl#sameAs"]).toBeUndefined();
    // Any other single path segment is not the resolver's.
    for (const path of ["/notcompressed", "/resolve?id=09506000134352"]) {
      const other = await gw.request(path);
      expect(other.status, path).toBe(path.startsWith("/resolve") ? 200 : 404);
      await other.arrayBuffer();
    }
  });

  it("answers any origin (CORS), follows old and new link type IRIs, and describes itself at /.well-known/gs1resolver", async () => {
    const res = await gw.request("/01/09506000134352", { headers: { accept: LINKSET, origin: "https://scanner.example" } });
    expect(res.headers.get("access-control-allow-origin")).toBe("*");
    expect(res.headers.get("access-control-expose-headers")).toMatch(/Link/);
    await res.arrayBuffer();
    const bad = await gw.request("/01/09506000134353", { headers: { origin: "https://scanner.example" } });
    expect(bad.status).toBe(400);
    expect(bad.headers.get("access-control-allow-origin")).toBe("*");
    await bad.arrayBuffer();
    for (const linkType of ["gs1:epcis", "https://ref.gs1.org/voc/epcis", "https://gs1.org/voc/epcis"]) {
      const r = await fetch(`${gw.url}/01/09506000134352?linkType=${encodeURIComponent(linkType)}`, { redirect: "manual" });
      expect(r.status, linkType).toBe(303);
      expect(r.headers.get("location")).toBe(`${gw.url}/epcs/${encodeURIComponent("https://id.gs1.org/01/09506000134352")}/events`);
    }
    const wk = await gw.request("/.well-known/gs1resolver");
    expect(wk.status).toBe(200);
    expect(wk.headers.get("access-control-allow-origin")).toBe("*");
    const d = (await wk.json()) as Record<string, unknown>;
    expect(d).toMatchObject({ resolverRoot: gw.url, linkTypeDefaultCanBeLinkset: true, supportedLanguages: ["en", "zh"] });
    expect(d.supportedPrimaryKeys).toEqual(Object.keys(PRIMARY_KEYS));
  });

  it("/resolve recognises every vector the library parses, with the right verdict", async () => {
    // Our deviations from digital-link.js (test/lib/identifiers.test.ts explains them).
    const deviations: Record<string, boolean> = {
      "https://example.com/01/01234565/21/12345/10/4512": false,
      "https://example.com/giai/0801234126": true,
      "https://example.com/giai/0801234127": true,
    };
    for (const v of vectors.validation) {
      const expected = deviations[v.uri] ?? v.valid;
      if (expected === null) continue;
      const res = await gw.request(`/resolve?id=${encodeURIComponent(v.uri)}`);
      expect(res.status, `${v.uri} (${v.note})`).toBe(expected ? 200 : 400);
      await res.arrayBuffer();
    }
  });
});

describe("/resolve", () => {
  const dl = "https://id.gs1.org/01/09506000134352/21/1001";

  async function resolve(id: string) {
    const res = await gw.request(`/resolve?id=${encodeURIComponent(id)}`);
    return { status: res.status, body: (await res.json()) as Record<string, string> };
  }

  it("recognises Digital Links, EPC URIs, element strings and GTIN text as the same item", async () => {
    for (const input of [
      dl,
      "https://example.com/01/09506000134352/10/L1/21/1001?17=261231",
      "urn:epc:id:sgtin:9506000.013435.1001",
      "(01)09506000134352(21)1001",
      "(21)1001(01)09506000134352",
      "09506000134352 serial 1001",
      "01/09506000134352/21/1001",
    ]) {
      const { status, body } = await resolve(input);
      expect(status, input).toBe(200);
      expect(body, input).toMatchObject({ input, type: "sgtin", digitalLink: dl, itemKey: itemKey(dl) });
    }
    expect((await resolve("urn:epc:id:sgtin:9506000.013435.1001")).body.epc).toBe("urn:epc:id:sgtin:9506000.013435.1001");
  });

  it("recognises batches", async () => {
    const { body } = await resolve("09506000134352 lot ABC-1");
    expect(body).toMatchObject({ type: "lgtin", digitalLink: "https://id.gs1.org/01/09506000134352/10/ABC-1", batchKey: batchKey("https://id.gs1.org/01/09506000134352/10/ABC-1") });
    expect(body.itemKey).toBeUndefined();
  });

  it("tells a certificate id from an unknown key by asking the chain", async () => {
    const { body } = await resolve("0x" + "ab".repeat(32));
    expect(body).toEqual({ input: "0x" + "ab".repeat(32), type: "key", itemKey: "0x" + "ab".repeat(32) });
  });

  it("400 for text it does not recognise, or an invalid identifier, naming why", async () => {
    const junk = await gw.request("/resolve?id=hello%20world");
    expect(junk.status).toBe(400);
    expect(await detail(junk)).toContain("is not recognised");
    const bad = await gw.request(`/resolve?id=${encodeURIComponent("(01)09506000134353(21)1")}`);
    expect(bad.status).toBe(400);
    expect(await detail(bad)).toContain("check digit");
    const missing = await gw.request("/resolve");
    expect(missing.status).toBe(400);
    expect(await detail(missing)).toContain("`id`");
  });
});
