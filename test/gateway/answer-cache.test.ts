/**
 * The answer cache of the history and genealogy routes (gateway/answer-cache.ts): a repeated
 * query is answered from it, still logging every partner's read; and no kept answer outlives
 * what it was built from: a revocation (seen by the access checker's watch, or by the index when
 * decisions come from the index), a document stored, a new indexed block. The same for the parts
 * kept across answers (StampedParts: one history entry per record and caller's organisation).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { type IncomingHttpHeaders, request as httpRequest } from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import { brotliCompressSync, brotliDecompressSync, gunzipSync, gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { ChainAccessChecker } from "../../lib/access.ts";
import { eventHash as cbvEventHash } from "../../lib/epcis/event-hash.ts";
import { ScopeKind } from "../../lib/registry.ts";
import { AnswerCache, StampedParts } from "../../gateway/answer-cache.ts";
import { codedCount } from "../../gateway/compression.ts";
import { createGateway } from "../../gateway/app.ts";
import { AccessLog, AccessRecorder } from "../../node/access-log/index.ts";
import { ChainClient } from "../../node/chain/client.ts";
import { type OpenEvents, openEvents } from "../../node/events/service.ts";
import { Indexer } from "../../node/indexer/index.ts";
import { indexService } from "../../node/indexer/service.ts";
import { type TestChain, type TestGateway, startTestChain, startTestGateway } from "../helpers/gateway.ts";
import { DISP_ACTIVE, ORG_ID, PURPOSE, type StoryChain, dl, done, key, playStory, storyOn } from "../helpers/story.ts";

const FIXTURES = path.resolve(import.meta.dirname, "../../../shared/fixtures/epcis");
const CONTEXT = ["https://ref.gs1.org/standards/epcis/epcis-context.jsonld"];

describe("AnswerCache", () => {
  const built = (json: string, keep = true) => ({ json, replay: [], keep });
  const text = (a: { served: { bytes: Buffer } }) => a.served.bytes.toString("utf8");

  it("builds once per key and stamp, shares a build in flight, and builds again under a new stamp", async () => {
    const cache = new AnswerCache<never>(1 << 20);
    const build = vi.fn(async () => built(`"${build.mock.calls.length}"`));
    const [a, b] = await Promise.all([cache.answer("k", "s1", build), cache.answer("k", "s1", build)]);
    expect([text(a), text(b), a.hit || b.hit]).toEqual(['"1"', '"1"', true]);
    // A hit serves the very bytes encoded at the build: nothing is serialised or encoded again.
    expect(a.served.bytes).toBe(b.served.bytes);
    expect((await cache.answer("k", "s1", build)).served.bytes).toBe(a.served.bytes);
    const again = await cache.answer("k", "s2", build);
    expect([text(again), again.hit]).toEqual(['"2"', false]);
    expect((await cache.answer("other", "s2", build)).hit).toBe(false);
    expect(build).toHaveBeenCalledTimes(3);
  });

  it("keeps no failed build, no answer marked not to keep, and no answer beyond its byte bound", async () => {
    const cache = new AnswerCache<never>(100);
    await expect(cache.answer("k", "s", () => Promise.reject(new Error("index gone")))).rejects.toThrow("index gone");
    expect((await cache.answer("k", "s", async () => built("1"))).hit).toBe(false);
    expect((await cache.answer("n", "s", async () => built("1", false))).hit).toBe(false);
    expect(text(await cache.answer("n", "s", async () => built("2")))).toBe("2");
    // Larger than a tenth of the bound: answered, never kept.
    expect((await cache.answer("big", "s", async () => built("x".repeat(50)))).hit).toBe(false);
    expect(text(await cache.answer("big", "s", async () => built("y")))).toBe("y");
    // The bound counts bytes, not characters: 4 three-byte characters are 12 bytes, over a tenth of 100.
    expect((await cache.answer("wide", "s", async () => built("\u20ac".repeat(4)))).hit).toBe(false);
    expect((await cache.answer("wide", "s", async () => built("z"))).hit).toBe(false);
    expect(() => new AnswerCache(0)).toThrow(/positive number of bytes, got 0/);
  });

  it("makes each compressed form once, keeps it with the answer and counts its bytes in the bound", async () => {
    const cache = new AnswerCache<never>(1 << 20);
    const json = JSON.stringify({ entries: Array.from({ length: 50 }, (_, i) => ({ n: i, text: "the same words again" })) });
    const { served } = await cache.answer("k", "s", async () => built(json));
    const plain = cache.calculatedSize;
    const made = codedCount.value;
    const gz = cache.form("k", served, "gzip");
    expect(gunzipSync(gz.bytes).toString()).toBe(json);
    expect(gz.etag).toBe(`${served.etag.slice(0, -1)}-gzip"`);
    expect(cache.calculatedSize).toBe(plain + gz.bytes.length);
    // Asked again (a hit): the same bytes, nothing compressed, nothing counted twice.
    expect(cache.form("k", served, "gzip").bytes).toBe(gz.bytes);
    const br = cache.form("k", served, "br");
    expect(brotliDecompressSync(br.bytes).toString()).toBe(json);
    expect([codedCount.value - made, cache.calculatedSize]).toEqual([2, plain + gz.bytes.length + br.bytes.length]);
    // An answer not kept under this key (another stamp's) adds nothing to the bound.
    const other = await cache.answer("k", "s2", async () => built(json));
    const before = cache.calculatedSize;
    cache.form("k", served, "gzip");
    cache.form("k", { ...other.served, coded: {} }, "gzip");
    expect(cache.calculatedSize).toBe(before);
  });
});

describe("StampedParts", () => {
  it("gives a part only under the stamp it was kept for, drops every part at a new stamp, and bounds its bytes", () => {
    const parts = new StampedParts<string>(100, (v) => v.length);
    parts.set("s1", "a", "A1");
    parts.set("s1", "b", "B1");
    expect([parts.get("s1", "a"), parts.get("s1", "b"), parts.get("s2", "a")]).toEqual(["A1", "B1", undefined]);
    // Kept under a new stamp: the old stamp's parts are gone, and asking with the old stamp finds nothing.
    parts.set("s2", "a", "A2");
    expect([parts.get("s2", "a"), parts.get("s2", "b"), parts.get("s1", "a"), parts.size]).toEqual(["A2", undefined, undefined, 1]);
    // Larger than a tenth of the bound: never kept.
    parts.set("s2", "big", "x".repeat(11));
    expect(parts.get("s2", "big")).toBeUndefined();
    expect(() => new StampedParts(0, () => 1)).toThrow(/positive number of bytes, got 0/);
  });
});

describe("answer cache on the routes", () => {
  let tc: TestChain;
  let story: StoryChain;
  let indexer: Indexer;
  let dir: string;
  let events: OpenEvents;
  let accessLog: AccessLog;
  let checker: ChainAccessChecker;
  let unwatch: () => Promise<void>;
  /** Documents and decisions of the node (the chain's access checker, watching for grant events). */
  let withDocuments: TestGateway;
  /** Decisions from the index alone (no event store). */
  let indexOnly: TestGateway;
  const tokens = { foundry: "", oem: "", foundryAtIndexOnly: "" };

  beforeAll(async () => {
    tc = await startTestChain();
    story = storyOn(tc);
    await playStory(story);
    dir = mkdtempSync(path.join(tmpdir(), "tm-answer-cache-"));
    indexer = await Indexer.open({ provider: story.provider, deployment: tc.deployment, store: dir });
    await indexer.sync();
    checker = new ChainAccessChecker(tc.deployment.contracts, story.provider, { ttlMs: 60_000, pollMs: 20 });
    unwatch = await checker.watch();
    events = await openEvents({
      dataDir: dir,
      deployment: tc.deployment,
      client: new ChainClient(story.provider),
      signer: tc.orgs.oem.signer,
      provider: story.provider,
      validator: { schemaPath: path.join(FIXTURES, "EPCIS-JSON-Schema.json") },
      contexts: path.join(FIXTURES, "epcis-context.jsonld"),
      access: checker,
      genealogy: indexService(indexer).queries,
    });
    accessLog = await AccessLog.open(path.join(dir, "access-log"));
    withDocuments = await startTestGateway({
      chain: tc,
      node: "oem",
      services: { index: indexService(indexer), events, accessLog: new AccessRecorder(accessLog, story.view.accessGrants) },
      gateway: { rateLimit: false },
    });
    indexOnly = await startTestGateway({ chain: tc, node: "oem", services: { index: indexService(indexer) }, gateway: { rateLimit: false } });
    tokens.foundry = await withDocuments.signIn("foundry");
    tokens.oem = await withDocuments.signIn("oem");
    tokens.foundryAtIndexOnly = await indexOnly.signIn("foundry");
  });

  afterAll(async () => {
    await withDocuments?.stop();
    await indexOnly?.stop();
    await unwatch?.();
    await events?.close();
    await accessLog?.close();
    await indexer?.stop();
    await story?.stop();
    await tc?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  type Entry = { access: string; document: Record<string, unknown> | null; verified?: boolean };
  const history = async (gw: TestGateway, item: string, token: string) => {
    const res = await gw.request(`/items/${encodeURIComponent(item)}/history`, { token });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^application\/json/);
    return ((await res.json()) as { entries: Entry[] }).entries;
  };
  const cacheCount = async (gw: TestGateway, result: "hit" | "miss" | "uncacheable") => {
    const text = await (await gw.request("/metrics")).text();
    return Number(new RegExp(`^tracemesh_answer_cache_total\\{result="${result}"\\} (\\d+)$`, "m").exec(text)?.[1] ?? 0);
  };
  const partCount = async (gw: TestGateway, result: "hit" | "miss") => {
    const text = await (await gw.request("/metrics")).text();
    return Number(new RegExp(`^tracemesh_answer_parts_total\\{result="${result}"\\} (\\d+)$`, "m").exec(text)?.[1] ?? 0);
  };
  /**
   * A grant written and seen by the access checker's watch (its generation moves on grant events):
   * an answer built before the watch saw it is stamped with the older generation, so the next
   * request would rightly miss the cache.
   */
  const grantSeen = async (write: () => Promise<unknown>) => {
    const generation = checker.generation;
    await write();
    await vi.waitFor(() => expect(checker.generation).not.toBe(generation), { timeout: 5000, interval: 10 });
  };
  const storeOwn = async (label: string, epc: string, bizStep: string, time: string) => {
    const event = { type: "ObjectEvent", eventTime: time, eventTimeZoneOffset: "+00:00", epcList: [epc], action: "OBSERVE", bizStep, "example:note": label };
    const h = cbvEventHash(event, { context: CONTEXT });
    await events.store.putOwn([{ hashId: h.hashId, recordHash: h.digest, context: CONTEXT, owner: ORG_ID.oem, origin: { kind: "own", captureId: label }, event }]);
    return h;
  };

  it("answers a repeated history from the cache, logging the partner's read each time, until a revocation: the next request has no document", async () => {
    const item = key("CACHE-1");
    const first = await storeOwn("commissioned", dl("CACHE-1"), "commissioning", "2026-12-01T01:00:00.000Z");
    await done(story.as.oem.provenance.commission(item, DISP_ACTIVE, first.digest));
    const far = Math.floor(Date.now() / 1000) + 86_400;
    await grantSeen(() => done(story.as.oem.accessGrants.grantAccess(ORG_ID.foundry, ScopeKind.Item, item, PURPOSE, 0, 0, far)));
    await indexer.sync();
    const entries = async () => (await accessLog.entries({ reader: ORG_ID.foundry })).filter((e) => e.reads.some((r) => r.subject.kind === "document" && r.subject.eventHash === first.digest));
    const logged = async () => (await entries()).length;

    const hits = await cacheCount(withDocuments, "hit");
    const granted = await history(withDocuments, item, tokens.foundry);
    expect(granted).toMatchObject([{ access: "granted", verified: true, document: { bizStep: "commissioning" } }]);
    expect(await history(withDocuments, item, tokens.foundry)).toEqual(granted);
    expect(await cacheCount(withDocuments, "hit")).toBe(hits + 1);
    // Served from the cache, the read still goes into the OEM's access log: the answer's one entry, appended again.
    expect(await logged()).toBe(2);
    const [built, kept] = await entries();
    expect(kept!.seq).toBeGreaterThan(built!.seq);
    expect(kept!.reads).toEqual(built!.reads);
    expect(kept!.reads).toMatchObject([{ subject: { kind: "document", eventHash: first.digest }, purpose: PURPOSE }]);

    const grantId = await story.view.accessGrants.grantIdOf(ORG_ID.oem, ORG_ID.foundry, item);
    const generation = checker.generation;
    await done(story.as.oem.accessGrants.revokeAccess(grantId));
    // The access checker's watch sees the revocation (the index is not synced: it still holds the grant).
    await vi.waitFor(() => expect(checker.generation).not.toBe(generation), { timeout: 5000, interval: 10 });
    expect(await history(withDocuments, item, tokens.foundry)).toMatchObject([{ access: "public-fact", document: null }]);
    expect(await logged()).toBe(2);
    await indexer.sync();
  });

  it("a conditional request with the answer's ETag gets 304 without the body, its read still logged with the grant's purpose; after a revocation the same ETag gets the new answer", async () => {
    const item = key("CACHE-ETAG");
    const first = await storeOwn("etag", dl("CACHE-ETAG"), "commissioning", "2026-12-01T05:00:00.000Z");
    await done(story.as.oem.provenance.commission(item, DISP_ACTIVE, first.digest));
    const far = Math.floor(Date.now() / 1000) + 86_400;
    await grantSeen(() => done(story.as.oem.accessGrants.grantAccess(ORG_ID.foundry, ScopeKind.Item, item, PURPOSE, 0, 0, far)));
    await indexer.sync();
    const reads = async () => (await accessLog.entries({ reader: ORG_ID.foundry, event: first.digest, limit: 1000 }));
    const url = `/items/${item}/history`;
    const full = await withDocuments.request(url, { token: tokens.foundry });
    const etag = full.headers.get("etag")!;
    expect([full.status, etag, full.headers.get("cache-control")]).toEqual([200, expect.stringMatching(/^"[A-Za-z0-9_-]{43}(?:-gzip|-br)?"$/), "private, no-cache"]);
    const body = await full.text();
    // Kept or not, equal bytes carry the equal tag; a tag among others, or weak, still matches.
    const again = await withDocuments.request(url, { token: tokens.foundry, headers: { "if-none-match": `"other", W/${etag}` } });
    expect([again.status, again.headers.get("etag"), await again.text()]).toEqual([304, etag, ""]);
    const logged = await reads();
    expect(logged.map((e) => e.reads.map((r) => [r.purpose, r.grant?.scopeKey]))).toEqual([[[PURPOSE, item]], [[PURPOSE, item]]]);
    // Another tag, or none: the whole answer.
    expect(await (await withDocuments.request(url, { token: tokens.foundry, headers: { "if-none-match": '"stale"' } })).text()).toBe(body);
    // The tag never lets an unauthenticated caller learn anything.
    expect((await withDocuments.request(url, { headers: { "if-none-match": etag } })).status).toBe(401);
    expect(await reads()).toHaveLength(3);

    const generation = checker.generation;
    await done(story.as.oem.accessGrants.revokeAccess(await story.view.accessGrants.grantIdOf(ORG_ID.oem, ORG_ID.foundry, item)));
    await vi.waitFor(() => expect(checker.generation).not.toBe(generation), { timeout: 5000, interval: 10 });
    const revoked = await withDocuments.request(url, { token: tokens.foundry, headers: { "if-none-match": etag } });
    expect(revoked.status).toBe(200);
    expect(revoked.headers.get("etag")).not.toBe(etag);
    expect(((await revoked.json()) as { entries: Entry[] }).entries).toMatchObject([{ access: "public-fact", document: null }]);
    expect(await reads()).toHaveLength(3);
    await indexer.sync();
  });

  it("with decisions from the index, the next request after the index sees the revocation answers without the grant", async () => {
    const item = key("CACHE-2");
    await done(story.as.oem.provenance.commission(item, DISP_ACTIVE, (await storeOwn("two", dl("CACHE-2"), "commissioning", "2026-12-01T02:00:00.000Z")).digest));
    const far = Math.floor(Date.now() / 1000) + 86_400;
    await grantSeen(() => done(story.as.oem.accessGrants.grantAccess(ORG_ID.foundry, ScopeKind.Item, item, PURPOSE, 0, 0, far)));
    await indexer.sync();
    const hits = await cacheCount(indexOnly, "hit");
    expect(await history(indexOnly, item, tokens.foundryAtIndexOnly)).toMatchObject([{ access: "granted" }]);
    expect(await history(indexOnly, item, tokens.foundryAtIndexOnly)).toMatchObject([{ access: "granted" }]);
    expect(await cacheCount(indexOnly, "hit")).toBe(hits + 1);
    await done(story.as.oem.accessGrants.revokeAccess(await story.view.accessGrants.grantIdOf(ORG_ID.oem, ORG_ID.foundry, item)));
    await indexer.sync();
    expect(await history(indexOnly, item, tokens.foundryAtIndexOnly)).toMatchObject([{ access: "public-fact" }]);
  });

  it("a document stored after an answer was kept is in the next answer; another organisation never gets the kept answer", async () => {
    const item = key("CACHE-3");
    const h = await storeOwn("three", dl("CACHE-3"), "commissioning", "2026-12-01T03:00:00.000Z");
    await done(story.as.oem.provenance.commission(item, DISP_ACTIVE, h.digest));
    await indexer.sync();
    // A record whose document is not yet here (stored right after the answer is kept).
    const later = { type: "ObjectEvent", eventTime: "2026-12-01T04:00:00.000Z", eventTimeZoneOffset: "+00:00", epcList: [dl("CACHE-3")], action: "OBSERVE", bizStep: "inspecting" };
    const lh = cbvEventHash(later, { context: CONTEXT });
    await done(story.as.oem.provenance.observe([item], lh.digest));
    await indexer.sync();
    expect(await history(withDocuments, item, tokens.oem)).toMatchObject([{ access: "own", document: { bizStep: "commissioning" } }, { access: "own", document: null }]);
    expect(await history(withDocuments, item, tokens.foundry)).toMatchObject([{ access: "public-fact", document: null }, { access: "public-fact", document: null }]);
    await events.store.putOwn([{ hashId: lh.hashId, recordHash: lh.digest, context: CONTEXT, owner: ORG_ID.oem, origin: { kind: "own", captureId: "later" }, event: later }]);
    expect(await history(withDocuments, item, tokens.oem)).toMatchObject([{ document: { bizStep: "commissioning" } }, { verified: true, document: { bizStep: "inspecting" } }]);
  });

  it("a record shared by two items is built once for both histories, per organisation, and not past a revocation", async () => {
    const [a, b] = [key("PART-A"), key("PART-B")];
    await done(story.as.oem.provenance.commission(a, DISP_ACTIVE, (await storeOwn("part-a", dl("PART-A"), "commissioning", "2026-12-01T05:00:00.000Z")).digest));
    await done(story.as.oem.provenance.commission(b, DISP_ACTIVE, (await storeOwn("part-b", dl("PART-B"), "commissioning", "2026-12-01T05:00:01.000Z")).digest));
    // One record naming both items (its document names both: a partner needs a grant on each).
    const shared = { type: "ObjectEvent", eventTime: "2026-12-01T05:00:02.000Z", eventTimeZoneOffset: "+00:00", epcList: [dl("PART-A"), dl("PART-B")], action: "OBSERVE", bizStep: "inspecting" };
    const sh = cbvEventHash(shared, { context: CONTEXT });
    await events.store.putOwn([{ hashId: sh.hashId, recordHash: sh.digest, context: CONTEXT, owner: ORG_ID.oem, origin: { kind: "own", captureId: "part-shared" }, event: shared }]);
    await done(story.as.oem.provenance.observe([a, b], sh.digest));
    const far = Math.floor(Date.now() / 1000) + 86_400;
    // Each grant seen by the access watch on its own: waiting once for both let the second grant's
    // event arrive between A's and B's history and rightly start a new stamp (CI saw the miss).
    for (const item of [a, b]) await grantSeen(() => done(story.as.oem.accessGrants.grantAccess(ORG_ID.foundry, ScopeKind.Item, item, PURPOSE, 0, 0, far)));
    await indexer.sync();
    const logged = async () => (await accessLog.entries({ reader: ORG_ID.foundry })).filter((e) => e.reads.some((r) => r.subject.kind === "document" && r.subject.eventHash === sh.digest)).length;

    // The foundry (granted both) reads A, then B: B's shared entry is A's, its read logged again.
    expect(await history(withDocuments, a, tokens.foundry)).toMatchObject([{ access: "granted" }, { access: "granted", verified: true, document: { bizStep: "inspecting" } }]);
    const hits = await partCount(withDocuments, "hit");
    expect(await history(withDocuments, b, tokens.foundry)).toMatchObject([{ access: "granted" }, { access: "granted", verified: true, document: { bizStep: "inspecting" } }]);
    expect(await partCount(withDocuments, "hit")).toBe(hits + 1);
    expect(await logged()).toBe(2);

    // Another organisation never gets the foundry's entry: the OEM its own, the lab (no grant) the fact alone.
    expect(await history(withDocuments, b, tokens.oem)).toMatchObject([{ access: "own" }, { access: "own", document: { bizStep: "inspecting" } }]);
    const lab = await withDocuments.signIn("lab");
    expect(await history(withDocuments, b, lab)).toMatchObject([{ access: "public-fact", document: null }, { access: "public-fact", document: null }]);
    expect(await partCount(withDocuments, "hit")).toBe(hits + 1);

    // Revoking the grant on B: the shared document needs a grant on every item it names, so A's
    // history (its answer and the shared entry both kept) now withholds it, and no read is logged.
    const generation = checker.generation;
    await done(story.as.oem.accessGrants.revokeAccess(await story.view.accessGrants.grantIdOf(ORG_ID.oem, ORG_ID.foundry, b)));
    await vi.waitFor(() => expect(checker.generation).not.toBe(generation), { timeout: 5000, interval: 10 });
    expect(await history(withDocuments, a, tokens.foundry)).toMatchObject([{ access: "granted" }, { access: "public-fact", document: null }]);
    expect(await logged()).toBe(2);
    await indexer.sync();
  });

  /** One request as sent on the wire: the raw bytes, no decoding (fetch would decode them). */
  const raw = (gw: TestGateway | string, pathname: string, headers: Record<string, string>, method = "GET") =>
    new Promise<{ status: number; headers: IncomingHttpHeaders; body: Buffer }>((resolve, reject) => {
      const req = httpRequest(`${typeof gw === "string" ? gw : gw.url}${pathname}`, { method, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
      });
      req.on("error", reject);
      req.end();
    });

  it("sends a kept answer in the coding the client asks for (q-values, *, identity, refusals), each form with its own tag and 304, compressed once", async () => {
    const item = key("CACHE-GZIP");
    const first = await storeOwn("gzip ".repeat(300), dl("CACHE-GZIP"), "commissioning", "2026-12-01T06:00:00.000Z");
    await done(story.as.oem.provenance.commission(item, DISP_ACTIVE, first.digest));
    const far = Math.floor(Date.now() / 1000) + 86_400;
    await grantSeen(() => done(story.as.oem.accessGrants.grantAccess(ORG_ID.foundry, ScopeKind.Item, item, PURPOSE, 0, 0, far)));
    await indexer.sync();
    const url = `/items/${item}/history`;
    const ask = (acceptEncoding: string | undefined, more: Record<string, string> = {}, method = "GET") =>
      raw(withDocuments, url, { authorization: `Bearer ${tokens.foundry}`, ...(acceptEncoding === undefined ? {} : { "accept-encoding": acceptEncoding }), ...more }, method);

    // A small answer's first serve goes as it is, even to a client that asks for gzip: compressing
    // pays only once it is served again (compression.ts worthCompressing).
    const firstServe = await ask("gzip");
    expect([firstServe.status, firstServe.headers["content-encoding"], firstServe.headers.vary]).toEqual([200, undefined, "Accept-Encoding"]);
    const plain = await ask(undefined);
    expect([plain.status, plain.headers["content-encoding"], plain.headers.vary]).toEqual([200, undefined, "Accept-Encoding"]);
    expect(plain.body.length).toBeGreaterThan(1024);
    expect(plain.body.length).toBeLessThan(16 * 1024);
    expect(firstServe.body).toEqual(plain.body);
    const tag = plain.headers.etag!;
    const decode = { gzip: gunzipSync, br: brotliDecompressSync } as const;
    const made = codedCount.value;
    for (const [header, coding] of [
      ["gzip, deflate", "gzip"],
      ["br, gzip, deflate", "br"],
      ["gzip;q=0.5, br", "br"],
      ["br;q=0, gzip", "gzip"],
      ["*", "br"],
      ["identity", undefined],
      ["deflate", undefined],
      ["*;q=0, identity", undefined],
      // Nothing acceptable (identity refused, no coding we hold): the answer still goes, as identity.
      ["*;q=0", undefined],
      ["", undefined],
    ] as const) {
      const res = await ask(header);
      expect([header, res.status, res.headers["content-encoding"], res.headers.vary]).toEqual([header, 200, coding, "Accept-Encoding"]);
      expect(Number(res.headers["content-length"])).toBe(res.body.length);
      expect(coding === undefined ? res.body : decode[coding](res.body)).toEqual(plain.body);
      expect(res.headers.etag).toBe(coding === undefined ? tag : `${tag.slice(0, -1)}-${coding}"`);
    }
    // The kept answer was compressed once per coding, however often asked.
    expect(codedCount.value - made).toBe(2);
    for (const coding of ["gzip", "br"] as const) {
      const res = await ask(coding);
      // 304 for the tag of the form asked for; a client holding the identity form (its first
      // serve) gets 304 for that form: the server selects the representation the client holds.
      expect((await ask(coding, { "if-none-match": res.headers.etag! })).status).toBe(304);
      const other = await ask(coding, { "if-none-match": tag });
      expect([other.status, other.headers.etag, other.headers["content-encoding"]]).toEqual([304, tag, undefined]);
      // A tag of no form of the current answer confirms nothing.
      const stale = await ask(coding, { "if-none-match": `"not-${tag.slice(1)}` });
      expect([stale.status, stale.headers["content-encoding"]]).toEqual([200, coding]);
      const head = await ask(coding, {}, "HEAD");
      expect([head.status, head.headers["content-encoding"], head.headers["content-length"], head.body.length]).toEqual([200, coding, String(res.body.length), 0]);
    }
    expect((await ask(undefined, { "if-none-match": tag })).status).toBe(304);
    expect(codedCount.value - made).toBe(2);
    // Node's fetch (the gateway client) decodes by itself: the same answer.
    expect(await (await withDocuments.request(url, { token: tokens.foundry })).text()).toBe(plain.body.toString());
  });

  it("compresses other large answers as they are sent, never small ones; serves the explorer's precompressed files", async () => {
    const spec = await raw(withDocuments, "/openapi.json", { "accept-encoding": "gzip" });
    expect([spec.status, spec.headers["content-encoding"], spec.headers.vary]).toEqual([200, "gzip", "Accept-Encoding"]);
    expect(JSON.parse(gunzipSync(spec.body).toString())).toMatchObject({ openapi: expect.any(String) });
    const small = await raw(withDocuments, "/health", { "accept-encoding": "gzip, br" });
    expect([small.headers["content-encoding"], small.headers.vary]).toEqual([undefined, "Accept-Encoding"]);
    expect(JSON.parse(small.body.toString())).toBeTypeOf("object");
    expect((await raw(withDocuments, "/openapi.json", { "accept-encoding": "identity" })).headers["content-encoding"]).toBeUndefined();

    const explorerDir = path.join(dir, "explorer");
    mkdirSync(path.join(explorerDir, "assets"), { recursive: true });
    const script = Buffer.from("console.log('explorer');\n".repeat(100));
    writeFileSync(path.join(explorerDir, "index.html"), "<!doctype html><title>explorer</title>");
    writeFileSync(path.join(explorerDir, "assets", "app.js"), script);
    writeFileSync(path.join(explorerDir, "assets", "app.js.gz"), gzipSync(script));
    writeFileSync(path.join(explorerDir, "assets", "app.js.br"), brotliCompressSync(script));
    const gw = createGateway(withDocuments.services, { log: "silent", rateLimit: false, explorerDir });
    const server = await gw.listen(0, "127.0.0.1");
    try {
      for (const [header, coding] of [["gzip", "gzip"], ["br, gzip", "br"], [undefined, undefined]] as const) {
        const res = await raw(server.url, "/explorer/assets/app.js", header === undefined ? {} : { "accept-encoding": header });
        expect([res.status, res.headers["content-encoding"], res.headers["content-type"], res.headers.vary]).toEqual([200, coding, expect.stringMatching(/javascript/), "Accept-Encoding"]);
        expect(coding === "gzip" ? gunzipSync(res.body) : coding === "br" ? brotliDecompressSync(res.body) : res.body).toEqual(script);
      }
    } finally {
      await server.close();
    }
  });
});
