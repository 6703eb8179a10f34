/**
 * A window larger than one answer (node/p2p/ingest-source.ts): a stream's run of 12,000 readings
 * in one window is fetched in pages, each a consecutive part of the run with a proof of just its
 * leaves, and every page verifies against the window's anchored root; the pages together hold
 * every reading once, in order. A time range inside the window goes out the same way, with no
 * reading outside it. (Before: a run that did not fit one answer went out one proof per reading,
 * about 1.5 KB each, and past 4 MB the answer was refused.) Between two real libp2p hosts over
 * `/tracemesh/fetch/2.0.0`, the whole run arrives verified at no more than 80 bytes a reading as
 * counted on the stream (JSON cost about 225).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Reading } from "../../../lib/reading.ts";
import { type AnchorView, verifyReadingRange } from "../../../lib/verify-reading.ts";
import { IngestPipeline } from "../../../node/ingest/pipeline.ts";
import { ProofService } from "../../../node/ingest/proofs.ts";
import { IngestStore, type WindowRecord } from "../../../node/ingest/store.ts";
import { IngestReadingSource } from "../../../node/p2p/ingest-source.ts";
import type { AccessChecker } from "../../../lib/access.ts";
import { FetchClient, type VerifiedReadings } from "../../../node/p2p/fetch-client.ts";
import { serveFetch } from "../../../node/p2p/fetch-server.ts";
import { type Host, createHost } from "../../../node/p2p/host.ts";
import { DEFAULT_MAX_FRAME_BYTES, type ReadingItem, encodeJson } from "../../../node/p2p/protocol.ts";

const NODE = "0x" + "ab".repeat(20);
const STREAM = "press-4/force";
const TOTAL = 12_000;
const PAGE = 5_000;

let dir: string;
let store: IngestStore;
let source: IngestReadingSource;
let window: WindowRecord;
let chain: AnchorView;
const t0 = Date.now() - 60_000;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), "tm-window-pages-"));
  store = await IngestStore.open(dir);
  const pipeline = await IngestPipeline.open(store, Buffer.alloc(32, 7), { windowMs: 3_600_000 });
  // Values as a press reports them: mostly fractions (binary64 on the wire), some whole numbers.
  const reading = (stream: string, i: number): Reading => ({ stream, metric: "force", unit: "kN", value: 200 + i / 8, sourceTime: t0 + i, quality: "good" });
  for (let i = 0; i < TOTAL; i += 1000) {
    // Another stream's readings sit between this stream's in the window.
    await pipeline.write([...Array.from({ length: 1000 }, (_, k) => reading(STREAM, i + k)), reading("press-4/temperature", i)]);
  }
  await pipeline.stop();
  window = (await store.window(1))!;
  expect(window.runs.find((r) => r.stream === STREAM)?.count).toBe(TOTAL);
  await store.markAnchored([{ sequence: 1, txHash: "0x" + "11".repeat(32), anchoredAt: Math.ceil(window.toTimeMs / 1000) + 1 }]);
  // The anchor as the chain holds it: the window's root and times.
  chain = {
    getAnchor: async (node, seq) =>
      node.toLowerCase() === NODE && seq === 1n ? { root: window.root, fromTimeMs: window.fromTimeMs, toTimeMs: window.toTimeMs, anchoredAt: Math.ceil(window.toTimeMs / 1000) + 1, leafCount: window.leafCount } : undefined,
  };
  source = new IngestReadingSource(store, new ProofService(store, NODE), { clockToleranceMs: 60_000 });
});

afterAll(async () => {
  await store?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Every page of [from, to), as a client asks for them; each page's items verified, and its size on the wire. */
async function fetchAll(from: number, to: number) {
  const pages: { items: ReadingItem[]; bytes: number }[] = [];
  let afterSeq = 0;
  for (;;) {
    const page = await source.readings({ stream: STREAM, from, to, afterSeq, limit: PAGE });
    const bytes = encodeJson({ items: page.items, more: page.more }).length;
    pages.push({ items: page.items, bytes });
    for (const item of page.items) {
      expect(item.kind).toBe("run");
      if (item.kind !== "run") continue;
      const verdict = await verifyReadingRange(item.readings, item.proof, chain);
      expect(verdict, JSON.stringify(verdict)).toMatchObject({ ok: true });
      afterSeq = item.proof.seqs.at(-1)!;
    }
    if (!page.more) return pages;
    expect(pages.length).toBeLessThan(100);
  }
}

describe("a window larger than one page", () => {
  it("is fetched completely in pages, each a verified sub-range of the run, well inside the frame limit", async () => {
    const pages = await fetchAll(t0, t0 + TOTAL);
    expect(pages.length).toBe(Math.ceil(TOTAL / PAGE));
    const runs = pages.flatMap((p) => p.items).filter((i) => i.kind === "run");
    const seqs = runs.flatMap((i) => i.proof.seqs);
    expect(seqs).toEqual(Array.from({ length: TOTAL }, (_, k) => k + 1));
    expect(runs.flatMap((i) => i.readings.map((r) => r.value))).toEqual(Array.from({ length: TOTAL }, (_, k) => 200 + k / 8));
    for (const p of pages) {
      expect(p.bytes).toBeLessThan(DEFAULT_MAX_FRAME_BYTES);
      // A range proof costs little per reading; one proof per reading cost about 1.5 KB each.
      expect(p.bytes / p.items.reduce((n, i) => n + (i.kind === "run" ? i.readings.length : 1), 0)).toBeLessThan(400);
    }
  });

  it("answers a time range inside the window with a proven part of the run and nothing outside the range", async () => {
    const [from, to] = [t0 + 2_500, t0 + 9_000];
    const runs = (await fetchAll(from, to)).flatMap((p) => p.items).filter((i) => i.kind === "run");
    const readings = runs.flatMap((i) => i.readings);
    expect(readings.length).toBe(to - from);
    expect(readings.every((r) => r.sourceTime >= from && r.sourceTime < to)).toBe(true);
    expect(runs.flatMap((i) => i.proof.seqs)).toEqual(Array.from({ length: to - from }, (_, k) => 2_501 + k));
  });

  it("travels between two libp2p hosts complete, every reading verified, at most 80 bytes a reading on the stream", async () => {
    const tmp = mkdtempSync(path.join(tmpdir(), "tm-window-wire-"));
    const hosts: Host[] = [];
    try {
      for (const name of ["owner", "partner"]) hosts.push(await createHost({ keyFile: path.join(tmp, `${name}.key`), listen: ["/ip4/127.0.0.1/tcp/0"] }));
      const [owner, partner] = hosts as [Host, Host];
      // Both hosts are the owner's organisation: access is decided as the owner's (no grants needed here).
      const denyAll: AccessChecker = { isAllowed: async () => false, isAllowedAt: async () => false, grantKind: async () => undefined };
      await serveFetch(owner, { orgOf: async () => 1, access: denyAll, ownerOrg: 1, readings: source, maxReadings: PAGE });
      let bytes = 0;
      const stored: VerifiedReadings[] = [];
      const client = new FetchClient(partner, {
        selfOrg: 1,
        orgOf: async () => 1,
        anchors: { getAnchor: chain.getAnchor, orgOfAnchor: async (node, seq) => ((await chain.getAnchor(node, BigInt(seq))) ? 1 : undefined) },
        storeReadings: async (b) => void stored.push(b),
        onBytes: (n) => (bytes += n),
      });
      let afterSeq = 0;
      for (let more = true; more; ) {
        const page = await client.fetchReadings(owner.getMultiaddrs()[0]!, { stream: STREAM, from: t0, to: t0 + TOTAL, afterSeq, limit: PAGE });
        ({ more } = page);
        afterSeq = page.lastSeq;
      }
      const readings = stored.flatMap((b) => b.items.flatMap((i) => (i.kind === "run" ? i.readings : [i.reading])));
      expect(readings.map((r) => r.value)).toEqual(Array.from({ length: TOTAL }, (_, k) => 200 + k / 8));
      expect(stored.reduce((n, b) => n + b.count, 0)).toBe(TOTAL);
      expect(bytes / TOTAL).toBeLessThanOrEqual(80);
    } finally {
      await Promise.all(hosts.map((h) => h.stop()));
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  it("refuses a part outside the run, naming it", async () => {
    const proofs = new ProofService(store, NODE);
    const run = (await proofs.proveRun(STREAM, 1))!;
    await expect(proofs.provePart(run, 5, 5)).rejects.toThrow(/part \[5, 5\) is not within a run of 12000 readings/);
    await expect(proofs.provePart(run, 0, TOTAL + 1)).rejects.toThrow(/not within/);
  });
});
