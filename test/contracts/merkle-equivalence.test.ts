/**
 * lib/merkle.ts and contracts/libraries/Sha256Merkle.sol are one definition in two languages:
 * trees and proofs built in TypeScript verify on chain through DataAnchors, tampered ones fail in
 * both, and the contract's leaf hash is the library's.
 */
import fc from "fast-check";
import { ZeroHash } from "ethers";
import { network } from "hardhat";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DataAnchors } from "../../lib/contracts/types/index.js";
import { MerkleTree, leafHash, siblingsToHex, verifyMultiProof, verifyProof } from "../../lib/merkle.ts";
import { type Conn, deployBound, deployConsortium, now } from "../helpers/fixture.ts";

const SECOND = 1000n;
const toHex = (b: Uint8Array) => "0x" + Buffer.from(b).toString("hex");

function flip(bytes: Uint8Array, bit: number): Buffer {
  const out = Buffer.from(bytes);
  out[Math.floor(bit / 8) % out.length]! ^= 1 << bit % 8;
  return out;
}

describe("Merkle equivalence: lib/merkle.ts and DataAnchors", () => {
  let conn: Conn;
  let anchors: DataAnchors;
  let node: string;
  /** The node's chain: windows of one second each, starting a week ago. */
  let next: { sequence: bigint; prevRoot: string; fromTimeMs: bigint };

  beforeAll(async () => {
    conn = await network.create();
    const fx = await deployConsortium(conn);
    anchors = await deployBound<DataAnchors>(conn, "DataAnchors", await fx.consortium.getAddress());
    anchors = anchors.connect(fx.orgs.steel.signer);
    node = fx.orgs.steel.signer.address;
    next = { sequence: 1n, prevRoot: ZeroHash, fromTimeMs: BigInt((await now(conn)) - 7 * 86_400) * SECOND };
  });
  afterAll(async () => conn.close());

  /** Anchors a tree as the node's next window and returns its sequence. */
  async function anchorTree(tree: MerkleTree): Promise<bigint> {
    const { sequence, prevRoot, fromTimeMs } = next;
    await (await anchors.anchor(sequence, tree.root, prevRoot, fromTimeMs, fromTimeMs + SECOND, tree.leafCount)).wait();
    next = { sequence: sequence + 1n, prevRoot: toHex(tree.root), fromTimeMs: fromTimeMs + SECOND };
    return sequence;
  }

  it("every TS proof of every leaf verifies on chain, and a tampered one fails in both", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.uint8Array({ maxLength: 48 }), { minLength: 1, maxLength: 48 }),
        fc.nat(255),
        fc.nat(),
        async (leaves, bit, which) => {
          const tree = MerkleTree.fromLeaves(leaves);
          const sequence = await anchorTree(tree);
          for (let i = 0; i < leaves.length; i++) {
            const proof = tree.proof(i);
            const leaf = leafHash(leaves[i]!);
            expect(verifyProof(proof, tree.root, leaf)).toBe(true);
            expect(await anchors.verifyReading(node, sequence, leaf, siblingsToHex(proof.siblings), i)).toBe(true);
          }
          const i = which % leaves.length;
          const proof = tree.proof(i);
          const leaf = tree.leaf(i);
          const badLeaf = flip(leaf, bit);
          expect(verifyProof(proof, tree.root, badLeaf)).toBe(false);
          expect(await anchors.verifyReading(node, sequence, badLeaf, siblingsToHex(proof.siblings), i)).toBe(false);
          if (proof.siblings.length > 0) {
            const s = which % proof.siblings.length;
            const siblings = proof.siblings.map((x, k) => (k === s ? flip(x, bit) : x));
            expect(verifyProof({ ...proof, siblings }, tree.root, leaf)).toBe(false);
            expect(await anchors.verifyReading(node, sequence, leaf, siblingsToHex(siblings), i)).toBe(false);
          }
        },
      ),
      { numRuns: 30 },
    );
  });

  it("TS multi-proofs and range proofs verify on chain, and tampered ones fail in both", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc
          .array(fc.uint8Array({ maxLength: 32 }), { minLength: 1, maxLength: 120 })
          .chain((leaves) =>
            fc.tuple(
              fc.constant(leaves),
              fc.uniqueArray(fc.nat(leaves.length - 1), { minLength: 1, maxLength: 12 }),
              fc.nat(leaves.length - 1),
              fc.nat(leaves.length - 1),
            ),
          ),
        fc.nat(255),
        async ([leaves, subset, a, b], bit) => {
          const tree = MerkleTree.fromLeaves(leaves);
          const sequence = await anchorTree(tree);
          const multi = tree.multiProof(subset);
          const [start, end] = [Math.min(a, b), Math.max(a, b) + 1];
          const range = tree.rangeProof(start, end);
          const rangeIndices = Array.from({ length: end - start }, (_, k) => start + k);
          for (const [indices, siblings] of [
            [multi.indices, multi.siblings],
            [rangeIndices, range.siblings],
          ] as const) {
            const hashes = indices.map((i) => tree.leaf(i));
            const proof = { indices, leafCount: leaves.length, siblings };
            expect(verifyMultiProof(proof, tree.root, hashes)).toBe(true);
            expect(await anchors.verifyReadings(node, sequence, hashes, [...indices], siblingsToHex(siblings))).toBe(true);
            const badHashes = hashes.map((h, k) => (k === bit % hashes.length ? flip(h, bit) : h));
            expect(verifyMultiProof(proof, tree.root, badHashes)).toBe(false);
            expect(await anchors.verifyReadings(node, sequence, badHashes, [...indices], siblingsToHex(siblings))).toBe(false);
            if (siblings.length > 0) {
              const badSiblings = siblings.map((x, k) => (k === bit % siblings.length ? flip(x, bit) : x));
              expect(verifyMultiProof({ ...proof, siblings: badSiblings }, tree.root, hashes)).toBe(false);
              expect(await anchors.verifyReadings(node, sequence, hashes, [...indices], siblingsToHex(badSiblings))).toBe(false);
            }
          }
        },
      ),
      { numRuns: 25 },
    );
  });

  it("agrees on large and power-of-two-edge trees", async () => {
    for (const size of [255, 256, 257, 1000, 4097]) {
      const leaves = Array.from({ length: size }, (_, i) => Buffer.from(`spindle-2/load seq=${i}`));
      const tree = MerkleTree.fromLeaves(leaves);
      const sequence = await anchorTree(tree);
      for (const i of [0, 1, size >> 1, size - 2, size - 1]) {
        const proof = siblingsToHex(tree.proof(i).siblings);
        expect(await anchors.verifyReading(node, sequence, tree.leaf(i), proof, i), `leaf ${i} of ${size}`).toBe(true);
        expect(await anchors.verifyReading(node, sequence, tree.leaf(i), proof, (i + 1) % size), `leaf ${i} of ${size} moved`).toBe(false);
      }
      const range = tree.rangeProof(size - 40, size);
      const indices = Array.from({ length: 40 }, (_, k) => size - 40 + k);
      expect(await anchors.verifyReadings(node, sequence, indices.map((i) => tree.leaf(i)), indices, siblingsToHex(range.siblings))).toBe(true);
    }
  });

  it("computes the same leaf hash for random bytes", async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 600 }), async (bytes) => {
        expect(await anchors.leafHashOf(bytes)).toBe(toHex(leafHash(bytes)));
      }),
      { numRuns: 100 },
    );
    for (const size of [4096, 4097, 10_000]) {
      const bytes = Buffer.alloc(size, size & 0xff);
      expect(await anchors.leafHashOf(bytes), `${size} bytes`).toBe(toHex(leafHash(bytes)));
    }
  });
});
