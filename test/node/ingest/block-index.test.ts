/**
 * The block index of the reading store (node/ingest/store.ts, format 2): a single reading's proof
 * hashes one block of LEAF_BLOCK leaves and the page's block roots instead of its whole leaf page,
 * and verifies against the window's root; a format-1 store (no block roots) is given them once at
 * open, saying so in the log, and its proofs are the same.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { Reading } from "../../../lib/reading.ts";
import { type AnchorView, verifyReading } from "../../../lib/verify-reading.ts";
import { IngestPipeline } from "../../../node/ingest/pipeline.ts";
import { ProofService } from "../../../node/ingest/proofs.ts";
import { IngestStore, LEAF_PAGE, STORE_FORMAT, type WindowRecord, keys, pageBlockRoots } from "../../../node/ingest/store.ts";

const NODE = "0x" + "cd".repeat(20);
const dir = mkdtempSync(path.join(tmpdir(), "tm-block-index-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const TOTAL = LEAF_PAGE * 2 + 77; // two full pages and a short one, ending in a short block
const chainOf = (w: WindowRecord): AnchorView => ({
  getAnchor: async (node, seq) => (node.toLowerCase() === NODE && seq === 1n ? { root: w.root, fromTimeMs: w.fromTimeMs, toTimeMs: w.toTimeMs, anchoredAt: Math.ceil(w.toTimeMs / 1000), leafCount: w.leafCount } : undefined),
});

async function proveAll(store: IngestStore, w: WindowRecord, seqs: number[]) {
  const proofs = new ProofService(store, NODE); // nothing cached: every proof is a cold one
  for (const seq of seqs) {
    const stream = seq % 3 === 0 ? "b" : "a";
    const n = Math.floor(seq / 3) + 1;
    const proven = await proofs.proveReading(stream, n);
    expect(proven, `${stream} #${n}`).toBeDefined();
    expect(await verifyReading(proven!.reading, proven!.proof, chainOf(w))).toEqual({ ok: true });
  }
}

describe("the reading store's block index", () => {
  it("proves single readings from a block and the block roots, and builds the index once for a format-1 store", async () => {
    let store = await IngestStore.open(dir);
    const pipeline = await IngestPipeline.open(store, Buffer.alloc(32, 3), { windowMs: 3_600_000 });
    const t0 = Date.now() - 10_000;
    await pipeline.write(Array.from({ length: TOTAL }, (_, i): Reading => ({ stream: i % 3 === 0 ? "b" : "a", metric: "m", value: i, sourceTime: t0 + i, quality: "good" })));
    await pipeline.stop();
    const w = (await store.window(1))!;
    expect(w.leafCount).toBe(TOTAL);
    const pages = Math.ceil(TOTAL / LEAF_PAGE);
    for (let p = 0; p < pages; p++) expect(await store.blockRoots(1, p)).toEqual(pageBlockRoots((await store.leafPage(1, p))!));
    const sample = [0, 1, 2, 31, 32, 33, 1023, 1024, 1500, 2047, 2048, 2100, TOTAL - 1].map((i) => i);
    await proveAll(store, w, sample);

    // The same store as format 1 wrote it: no block roots.
    for (let p = 0; p < pages; p++) await store.db.del(keys.blockRoots(1, p));
    const format = (await store.format())!;
    await store.db.put(keys.meta("format"), Buffer.from(JSON.stringify({ ...format, version: 1 })));
    await store.close();

    const log: string[] = [];
    store = await IngestStore.open(dir, { log: (m) => log.push(m) });
    expect(log[0]).toMatch(/building the block index of 1 closed windows once \(store format 1 to 2/);
    expect(log[1]).toMatch(/block index built in \d+ ms/);
    expect((await store.format())!.version).toBe(STORE_FORMAT);
    for (let p = 0; p < pages; p++) expect(await store.blockRoots(1, p)).toEqual(pageBlockRoots((await store.leafPage(1, p))!));
    await proveAll(store, w, sample);
    await store.close();
    // Opened again: nothing left to build.
    log.length = 0;
    await (await IngestStore.open(dir, { log: (m) => log.push(m) })).close();
    expect(log).toEqual([]);
  });
});
