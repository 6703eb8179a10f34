/**
 * lib/verify-reading.ts against real anchors on DataAnchors (in-process chain): the verdict for a
 * sound reading, and each failure reason, for single readings and ranges.
 */
import { network } from "hardhat";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encodeReading } from "../../../lib/canonical-reading.ts";
import type { DataAnchors } from "../../../lib/contracts/types/index.js";
import { MerkleTree, leafHash, siblingsToHex } from "../../../lib/merkle.ts";
import type { Reading } from "../../../lib/reading.ts";
import {
  ANCHOR_NOT_FOUND_SELECTOR,
  type AnchorView,
  PROOF_VERSION,
  type ReadingProof,
  type ReadingRangeProof,
  contractAnchorView,
  readingLagMs,
  verifyReading,
  verifyReadingRange,
} from "../../../lib/verify-reading.ts";
import { SaltDeriver } from "../../../node/ingest/salt.ts";
import { type ConsortiumFixture, type Conn, deployBound, deployConsortium, increaseTime, now } from "../../helpers/fixture.ts";

const hex = (b: Uint8Array) => "0x" + Buffer.from(b).toString("hex");
const salts = new SaltDeriver(Buffer.alloc(32, 3));

interface Leaf {
  reading: Reading;
  seq: number;
  salt: Buffer;
}

/** A window as the node builds it: leaves in (stream, seq) order, its tree, and proofs. */
function windowOf(leaves: Leaf[], node: string, window: number) {
  const tree = MerkleTree.fromLeaves(leaves.map((l) => encodeReading(l.reading, l.seq, l.salt)));
  const proof = (i: number): ReadingProof => ({
    version: PROOF_VERSION,
    node,
    window,
    seq: leaves[i]!.seq,
    salt: hex(leaves[i]!.salt),
    leafHash: hex(tree.leaf(i)),
    index: i,
    leafCount: tree.leafCount,
    siblings: siblingsToHex(tree.proof(i).siblings),
  });
  const range = (start: number, end: number): ReadingRangeProof => ({
    version: PROOF_VERSION,
    node,
    window,
    seqs: leaves.slice(start, end).map((l) => l.seq),
    salts: leaves.slice(start, end).map((l) => hex(l.salt)),
    leafHashes: leaves.slice(start, end).map((_, k) => hex(tree.leaf(start + k))),
    start,
    end,
    leafCount: tree.leafCount,
    siblings: siblingsToHex(tree.rangeProof(start, end).siblings),
  });
  return { tree, proof, range, root: hex(tree.root) };
}

describe("verifyReading and verifyReadingRange against DataAnchors", () => {
  let conn: Conn;
  let fx: ConsortiumFixture;
  let anchors: DataAnchors;
  let view: AnchorView;
  let node: string;
  let w1: ReturnType<typeof windowOf>;
  let w2: ReturnType<typeof windowOf>;
  let leaves1: Leaf[];
  let leaves2: Leaf[];
  let from1: number;

  beforeAll(async () => {
    conn = await network.create();
    fx = await deployConsortium(conn);
    anchors = await deployBound<DataAnchors>(conn, "DataAnchors", await fx.consortium.getAddress());
    const signer = fx.orgs.machining.signer;
    node = signer.address;
    view = contractAnchorView(anchors);
    const t = (await now(conn)) * 1000;

    // Window 1: [t - 10 s, t - 9 s), anchored at once. Two streams; a reading that arrived a
    // minute after its source time (verifies: it is committed by receive time), and one whose
    // receive time lies an hour before the window (no honest node commits that).
    from1 = t - 10_000;
    const mk = (stream: string, seq: number, sourceTime: number, value: number, receivedTime = sourceTime + 20): Leaf => ({
      reading: { stream, metric: "torque", unit: "N.m", value, sourceTime, receivedTime, quality: "good" },
      seq,
      salt: salts.salt(stream, seq),
    });
    leaves1 = [
      mk("press-1/torque", 1, from1 + 100, 41.5),
      mk("press-1/torque", 2, from1 + 200, 42.5),
      mk("press-1/torque", 3, from1 - 60_000, 43.5, from1 + 250), // a minute late
      mk("press-2/torque", 1, from1 + 300, 10),
      mk("press-2/torque", 2, from1 - 3_600_000, 11), // received an hour before its window
    ];
    w1 = windowOf(leaves1, node, 1);
    await (await anchors.connect(signer).anchor(1, w1.root, "0x" + "00".repeat(32), from1, from1 + 1000, leaves1.length)).wait();

    // Window 2: [t - 8 s, t - 7 s), anchored an hour later.
    leaves2 = [mk("press-1/torque", 4, from1 + 2_500, 44.5), mk("press-1/torque", 5, from1 + 2_600, 45.5)];
    w2 = windowOf(leaves2, node, 2);
    await increaseTime(conn, 3600);
    await (await anchors.connect(signer).anchor(2, w2.root, w1.root, from1 + 2000, from1 + 3000, leaves2.length)).wait();
  });
  afterAll(async () => conn.close());

  it("accepts a sound reading, and the chain's own verifier accepts the same proof", async () => {
    for (const i of [0, 1, 3]) expect(await verifyReading(leaves1[i]!.reading, w1.proof(i), view)).toEqual({ ok: true });
    const p = w1.proof(1);
    expect(await anchors.verifyReading(node, 1, p.leafHash, p.siblings, p.index)).toBe(true);
    // A JSON round trip (the wire format) changes nothing.
    const wire = JSON.parse(JSON.stringify({ reading: leaves1[0]!.reading, proof: w1.proof(0) })) as { reading: Reading; proof: ReadingProof };
    expect(await verifyReading(wire.reading, wire.proof, view)).toEqual({ ok: true });
  });

  it("reading-altered: the proof is sound but the reading is not the one committed", async () => {
    const altered = [
      { ...leaves1[0]!.reading, value: 41.6 },
      { ...leaves1[0]!.reading, sourceTime: leaves1[0]!.reading.sourceTime + 1 },
      { ...leaves1[0]!.reading, receivedTime: leaves1[0]!.reading.receivedTime! + 1 },
      { ...leaves1[0]!.reading, receivedTime: undefined }, // cannot be encoded without it
      { ...leaves1[0]!.reading, unit: "kN.m" },
      { ...leaves1[0]!.reading, quality: "uncertain" as const },
      { ...leaves1[0]!.reading, stream: "press-9/torque" },
      { ...leaves1[0]!.reading, value: "not a reading\u0000", metric: "" }, // cannot even be encoded
    ];
    for (const r of altered) {
      const res = await verifyReading(r, w1.proof(0), view);
      expect(res).toMatchObject({ ok: false, reason: "reading-altered" });
    }
    // Another reading's salt or seq in an otherwise sound proof: also not the committed reading.
    expect(await verifyReading(leaves1[0]!.reading, { ...w1.proof(0), seq: 2 }, view)).toMatchObject({ reason: "reading-altered" });
    expect(await verifyReading(leaves1[0]!.reading, { ...w1.proof(0), salt: w1.proof(1).salt }, view)).toMatchObject({ reason: "reading-altered" });
  });

  it("proof-invalid: the proof does not lead to the anchored root, or is malformed", async () => {
    const r = leaves1[0]!.reading;
    const p = w1.proof(0);
    const flipped = [...p.siblings];
    flipped[1] = "0x" + (BigInt(flipped[1]!) ^ 1n).toString(16).padStart(64, "0");
    const cases: ReadingProof[] = [
      { ...p, siblings: flipped },
      { ...p, index: 1 },
      { ...p, leafCount: 4 }, // the anchor says 5
      { ...p, siblings: p.siblings.slice(1) },
      { ...p, siblings: [...p.siblings, p.siblings[0]!] },
      { ...p, leafHash: hex(leafHash(Buffer.from("something else"))), siblings: flipped },
      { ...p, salt: "0x1234" },
      { ...p, siblings: ["not hex"] },
      { ...p, node: "someone" },
      { ...p, window: -1 },
      {} as ReadingProof,
      null as unknown as ReadingProof,
    ];
    for (const c of cases) expect(await verifyReading(r, c, view), JSON.stringify(c)).toMatchObject({ ok: false, reason: "proof-invalid" });
    // A proof from another window of the same node does not lead to this window's root.
    expect(await verifyReading(leaves2[0]!.reading, { ...w2.proof(0), window: 1 }, view)).toMatchObject({ reason: "proof-invalid" });
  });

  it("window-not-anchored: the chain has no such anchor", async () => {
    const p = w1.proof(0);
    expect(await verifyReading(leaves1[0]!.reading, { ...p, window: 3 }, view)).toMatchObject({ ok: false, reason: "window-not-anchored" });
    expect(await verifyReading(leaves1[0]!.reading, { ...p, node: fx.orgs.oem.signer.address }, view)).toMatchObject({ reason: "window-not-anchored" });
  });

  it("wrong-node: a verifier that requires the serving node refuses anchors of another node identity", async () => {
    const p = w1.proof(0);
    const own = Number(await anchors.nodeOf(node));
    expect(own).toBeGreaterThan(0);
    expect(await verifyReading(leaves1[0]!.reading, p, view, { expectedNode: own })).toEqual({ ok: true });
    const other = Number(await anchors.nodeOf(fx.orgs.oem.signer.address));
    expect(await verifyReading(leaves1[0]!.reading, p, view, { expectedNode: other })).toMatchObject({ ok: false, reason: "wrong-node" });
    const readings = leaves1.slice(0, 2).map((l) => l.reading);
    expect(await verifyReadingRange(readings, w1.range(0, 2), view, { expectedNode: other })).toMatchObject({ ok: false, reason: "wrong-node" });
    await expect(verifyReading(leaves1[0]!.reading, p, { getAnchor: view.getAnchor }, { expectedNode: own })).rejects.toThrow(/nodeOf/);
  });

  it("outside-window: the committed receive time lies outside the window's range; a late source time does not matter", async () => {
    expect(await verifyReading(leaves1[4]!.reading, w1.proof(4), view)).toMatchObject({ ok: false, reason: "outside-window" });
    // A minute between source time and receipt: verified, and the lag is stated.
    const late = leaves1[2]!.reading;
    expect(await verifyReading(late, w1.proof(2), view)).toEqual({ ok: true });
    expect(readingLagMs(late)).toBe(60_250);
    expect(readingLagMs({ sourceTime: 1_500, receivedTime: 1_000 })).toBe(-500);
  });

  it("anchored-late: the window was anchored long after it ended", async () => {
    expect(await verifyReading(leaves2[0]!.reading, w2.proof(0), view)).toMatchObject({ ok: false, reason: "anchored-late" });
    expect(await verifyReading(leaves2[0]!.reading, w2.proof(0), view, { anchorToleranceMs: 2 * 3600_000 })).toEqual({ ok: true });
  });

  it("verifies a stream's run as a range, naming the altered reading in it", async () => {
    const readings = leaves1.slice(0, 3).map((l) => l.reading);
    expect(await verifyReadingRange(readings, w1.range(0, 3), view)).toEqual({ ok: true });
    const altered = readings.map((r, k) => (k === 1 ? { ...r, value: 0 } : r));
    expect(await verifyReadingRange(altered, w1.range(0, 3), view)).toMatchObject({ ok: false, reason: "reading-altered", index: 1 });
    const short = { ...w1.range(0, 3), siblings: w1.range(0, 3).siblings.slice(1) };
    expect(await verifyReadingRange(readings, short, view)).toMatchObject({ reason: "proof-invalid" });
    expect(await verifyReadingRange(readings.slice(0, 2), w1.range(0, 3), view)).toMatchObject({ reason: "proof-invalid" });
    // A range that leaves a reading out between two others cannot be passed off as complete.
    const gapped = { ...w1.range(0, 3), seqs: [1, 3, 4] };
    expect(await verifyReadingRange([readings[0]!, readings[2]!, leaves1[3]!.reading], gapped, view)).toMatchObject({ ok: false });
    expect(await verifyReadingRange(readings, { ...w1.range(0, 3), window: 7 }, view)).toMatchObject({ reason: "window-not-anchored" });
    const withEarly = leaves1.slice(3, 5).map((l) => l.reading);
    expect(await verifyReadingRange(withEarly, w1.range(3, 5), view)).toMatchObject({ reason: "outside-window", index: 1 });
    expect(await verifyReadingRange(leaves2.map((l) => l.reading), w2.range(0, 2), view)).toMatchObject({ reason: "anchored-late", index: 0 });
  });

  it("verifies a run without committed leaf hashes (the compact peer wire) by recomputing every leaf", async () => {
    const readings = leaves1.slice(0, 3).map((l) => l.reading);
    const { leafHashes: _, ...bare } = w1.range(0, 3);
    expect(await verifyReadingRange(readings, bare, view)).toEqual({ ok: true });
    // Nothing tells an altered reading from a forged proof then: any change is proof-invalid.
    for (const k of [0, 1, 2]) {
      const altered = readings.map((r, j) => (j === k ? { ...r, sourceTime: r.sourceTime + 1 } : r));
      expect(await verifyReadingRange(altered, bare, view)).toMatchObject({ ok: false, reason: "proof-invalid" });
    }
    expect(await verifyReadingRange([readings[1]!, readings[0]!, readings[2]!], bare, view)).toMatchObject({ reason: "proof-invalid" });
    const salt = (k: number, h: string) => ({ ...bare, salts: bare.salts.map((s, j) => (j === k ? h : s)) });
    expect(await verifyReadingRange(readings, salt(2, bare.salts[2]!.slice(0, -1) + "g"), view)).toMatchObject({ reason: "proof-invalid", detail: expect.stringMatching(/malformed/) });
    expect(await verifyReadingRange(readings, salt(1, bare.salts[1]!.slice(0, -2)), view)).toMatchObject({ reason: "proof-invalid" });
    expect(await verifyReadingRange(readings, salt(0, bare.salts[0]!.toUpperCase().replace("0X", "0x")), view)).toEqual({ ok: true });
    expect(await verifyReadingRange(readings, { ...bare, seqs: [1, 2, 2.5] }, view)).toMatchObject({ reason: "proof-invalid" });
    expect(await verifyReadingRange([readings[0]!, null as never, readings[2]!], bare, view)).toMatchObject({ reason: "proof-invalid" });
  });

  it("the contract view maps AnchorNotFound to 'not anchored' and lets other failures through", async () => {
    expect(ANCHOR_NOT_FOUND_SELECTOR).toBe(anchors.interface.getError("AnchorNotFound")!.selector);
    expect(await view.getAnchor(node, 99n)).toBeUndefined();
    expect(await view.getAnchor(node, 1n)).toMatchObject({ root: w1.root, leafCount: 5n });
    // Not a DataAnchors contract: an error, not a verdict.
    const wrong = contractAnchorView(anchors.attach(await fx.consortium.getAddress()) as DataAnchors);
    await expect(verifyReading(leaves1[0]!.reading, w1.proof(0), wrong)).rejects.toThrow();
  });
});
