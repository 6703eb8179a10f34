/**
 * The received store (node/p2p/received-store.ts) keeps each received part of a run as one value
 * (about a sixth of a transfer's time went to writing every reading apart), reads readings back
 * from parts, single readings and stores written before parts were kept whole, and counts them.
 */
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Reading } from "../../../lib/reading.ts";
import type { VerifiedReadings } from "../../../node/p2p/fetch-client.ts";
import type { OneItem, RunItem } from "../../../node/p2p/protocol.ts";
import { ReceivedStore } from "../../../node/p2p/received-store.ts";
import { tempDir } from "./helpers.ts";

const STREAM = "oven-3/temperature";
const NODE = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";
const OWNER = 4;
const hex = (b: Uint8Array) => "0x" + Buffer.from(b).toString("hex");
const reading = (i: number): Reading => ({ stream: STREAM, metric: "temperature", unit: "Cel", value: 180 + i / 4, sourceTime: 1_765_000_000_000 + i, receivedTime: 1_765_000_000_010 + i, quality: "good" });
const siblings = [hex(randomBytes(32))];

function run(firstSeq: number, n: number, window: number): RunItem {
  const seqs = Array.from({ length: n }, (_, k) => firstSeq + k);
  return { kind: "run", readings: seqs.map(reading), proof: { version: 1, node: NODE, window, seqs, salts: seqs.map(() => hex(randomBytes(16))), start: 0, end: n, leafCount: n, siblings }, tx: hex(randomBytes(32)) };
}
const one = (seq: number, window: number): OneItem => ({
  kind: "one",
  reading: reading(seq),
  proof: { version: 1, node: NODE, window, seq, salt: hex(randomBytes(16)), leafHash: hex(randomBytes(32)), index: 0, leafCount: 1, siblings: [] },
});
const batch = (items: (RunItem | OneItem)[]): VerifiedReadings => ({ peer: "12D3KooWpeer", ownerOrg: OWNER, stream: STREAM, items, more: false, lastSeq: 0, count: 0, unverifiable: [] });

describe("the received store", () => {
  const tmp = tempDir("tm-received-");
  let store: ReceivedStore;
  beforeAll(async () => void (store = await ReceivedStore.open(tmp.dir)));
  afterAll(async () => {
    await store.close();
    tmp.remove();
  });

  it("keeps a part of a run as one value and gives its readings back, with the single readings and an older store's, in order", async () => {
    await store.putReadings(batch([run(1, 300, 1), run(301, 200, 2)]), { now: 5 });
    await store.putReadings(batch([one(501, 3)]), { now: 6 });
    // A reading of a run as stores kept them before parts were kept whole: one JSON value each.
    const old = { reading: reading(502), node: NODE, window: 3, seq: 502, origin: { peer: "12D3KooWold", ownerOrg: OWNER, receivedAt: 1 } };
    const key = Buffer.concat([Buffer.from("r"), Buffer.of(0, 0, 0, OWNER, STREAM.length), Buffer.from(STREAM), Buffer.from(NODE.slice(2), "hex"), Buffer.from("00000000000001f6", "hex")]);
    await store.db.put(key, Buffer.from(JSON.stringify(old)));

    let values = 0;
    for await (const _ of store.db.keys({ gte: Buffer.from("q"), lt: Buffer.from("r") })) values++;
    expect(values).toBe(2);
    const back = await store.readings(OWNER, STREAM);
    expect(back.map((r) => r.seq)).toEqual(Array.from({ length: 502 }, (_, k) => k + 1));
    expect(back.map((r) => r.reading)).toEqual(Array.from({ length: 502 }, (_, k) => reading(k + 1)));
    expect(back[0]).toMatchObject({ node: NODE, window: 1, origin: { peer: "12D3KooWpeer", ownerOrg: OWNER, receivedAt: 5 } });
    expect(back[500]).toMatchObject({ window: 3, proof: { seq: 501 } });
    expect(await store.count(OWNER, STREAM)).toBe(502);
    expect(await store.count(OWNER + 1, STREAM)).toBe(0);
    expect(await store.total()).toBe(502);
    expect((await store.readings(OWNER, STREAM, { from: 1_765_000_000_100, limit: 3 })).map((r) => r.seq)).toEqual([100, 101, 102]);
  });
});
