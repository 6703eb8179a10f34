/**
 * What a partner hands back of a node's readings (ReceivedStore.heldOf, return-fetch.ts): the
 * parts and single readings of that node's stream in the windows asked for, as received with
 * their proofs, by seq, in pages that never skip a reading; nothing of another node or owner.
 */
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Reading } from "../../../lib/reading.ts";
import type { VerifiedReadings } from "../../../node/p2p/fetch-client.ts";
import type { OneItem, ReadingItem, RunItem } from "../../../node/p2p/protocol.ts";
import { ReceivedStore } from "../../../node/p2p/received-store.ts";
import { tempDir } from "./helpers.ts";

const STREAM = "oven-3/temperature";
const NODE = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";
const OTHER_NODE = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC";
const OWNER = 4;
const hex = (b: Uint8Array) => "0x" + Buffer.from(b).toString("hex");
const reading = (i: number): Reading => ({ stream: STREAM, metric: "temperature", unit: "Cel", value: 180 + i, sourceTime: 1_765_000_000_000 + i, receivedTime: 1_765_000_000_010 + i, quality: "good" });

function run(firstSeq: number, n: number, window: number, node = NODE): RunItem {
  const seqs = Array.from({ length: n }, (_, k) => firstSeq + k);
  return { kind: "run", readings: seqs.map(reading), proof: { version: 1, node, window, seqs, salts: seqs.map(() => hex(randomBytes(16))), start: 0, end: n, leafCount: n, siblings: [hex(randomBytes(32))] } };
}
const one = (seq: number, window: number): OneItem => ({
  kind: "one",
  reading: reading(seq),
  proof: { version: 1, node: NODE, window, seq, salt: hex(randomBytes(16)), leafHash: hex(randomBytes(32)), index: 0, leafCount: 1, siblings: [] },
});
const batch = (items: ReadingItem[], ownerOrg = OWNER): VerifiedReadings => ({ peer: "12D3KooWpeer", ownerOrg, stream: STREAM, items, more: false, lastSeq: 0, count: 0, unverifiable: [] });
const seqsOf = (items: ReadingItem[]) => items.flatMap((i) => (i.kind === "run" ? i.proof.seqs : [i.proof.seq]));

describe("what a partner holds of a node's stream", () => {
  const tmp = tempDir("tm-return-held-");
  let store: ReceivedStore;
  beforeAll(async () => {
    store = await ReceivedStore.open(tmp.dir);
    // Windows 1..3 of four readings each; window 4 a part and a reading received alone.
    await store.putReadings(batch([run(1, 4, 1), run(5, 4, 2), run(9, 4, 3), run(13, 2, 4), one(15, 4)]));
    await store.putReadings(batch([run(1, 4, 2, OTHER_NODE)]));
    await store.putReadings(batch([run(100, 4, 2)], OWNER + 1));
  });
  afterAll(async () => {
    await store.close();
    tmp.remove();
  });

  it("answers the windows asked for, as received, by seq", async () => {
    const held = await store.heldOf(OWNER, STREAM, NODE, { fromWindow: 2, toWindow: 4, afterSeq: 0, limit: 1_000 });
    expect(held.more).toBe(false);
    expect(seqsOf(held.items)).toEqual([5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
    expect(held.items.map((i) => i.kind)).toEqual(["run", "run", "run", "one"]);
    expect((held.items[0] as RunItem).readings[2]).toEqual(reading(7));
    expect(held.items.every((i) => i.proof.node === NODE)).toBe(true);
    expect((await store.heldOf(OWNER, STREAM, OTHER_NODE, { fromWindow: 1, toWindow: 9, afterSeq: 0, limit: 1_000 })).items.map((i) => i.proof.node)).toEqual([OTHER_NODE]);
    expect((await store.heldOf(OWNER + 2, STREAM, NODE, { fromWindow: 1, toWindow: 9, afterSeq: 0, limit: 1_000 })).items).toEqual([]);
  });

  it("pages whole parts, and the next page starts where the last ended", async () => {
    const pages: number[][] = [];
    let afterSeq = 0;
    for (let i = 0; i < 10; i++) {
      const page = await store.heldOf(OWNER, STREAM, NODE, { fromWindow: 1, toWindow: 4, afterSeq, limit: 5 });
      pages.push(seqsOf(page.items));
      afterSeq = Math.max(afterSeq, ...seqsOf(page.items));
      if (!page.more) break;
    }
    expect(pages.flat()).toEqual(Array.from({ length: 15 }, (_, k) => k + 1));
    expect(pages.length).toBeGreaterThan(1);
  });
});
