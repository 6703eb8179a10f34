import { createHash } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  HASH_BYTES,
  MAX_LEAF_COUNT,
  type MerkleProof,
  MerkleTree,
  leafHash,
  leafHashes,
  merkleRoot,
  nodeHash,
  rootFromMultiProof,
  rootFromProof,
  rootFromRangeProof,
  siblingsFromHex,
  siblingsToHex,
  verifyMultiProof,
  verifyProof,
  verifyRangeProof,
} from "../../lib/merkle.ts";

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const unhex = (h: string) => Buffer.from(h, "hex");
const sha256 = (...parts: Uint8Array[]) => {
  const h = createHash("sha256");
  for (const p of parts) h.update(p);
  return h.digest();
};

/** RFC 6962 section 2.1, written independently of lib/merkle.ts: split at the largest power of two. */
function referenceRoot(leaves: Uint8Array[]): Buffer {
  if (leaves.length === 1) return sha256(Uint8Array.of(0), leaves[0]!);
  let k = 1;
  while (k * 2 < leaves.length) k *= 2;
  return sha256(Uint8Array.of(1), referenceRoot(leaves.slice(0, k)), referenceRoot(leaves.slice(k)));
}

/** Flips one bit of a copy. */
function flip(bytes: Uint8Array, bit: number): Buffer {
  const out = Buffer.from(bytes);
  out[Math.floor(bit / 8) % out.length]! ^= 1 << bit % 8;
  return out;
}

// Leaves are made distinct by their index, so "another leaf" is always a different hash.
const distinctLeaves = (min: number, max: number) =>
  fc
    .array(fc.uint8Array({ maxLength: 40 }), { minLength: min, maxLength: max })
    .map((raw) => raw.map((bytes, i) => Buffer.concat([Buffer.from(bytes), Buffer.from(`#${i}`)])));

// The Certificate Transparency reference data (RFC 6962 test vectors, as in its reference code).
const CT_LEAVES = ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"].map(unhex);
const CT_ROOTS = [
  "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
  "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
  "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
  "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
  "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
  "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
  "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
  "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];
const CT_PROOFS = [
  { index: 0, size: 8, path: ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7", "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e", "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"] },
  { index: 5, size: 8, path: ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b", "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0", "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"] },
  { index: 2, size: 3, path: ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"] },
  { index: 1, size: 5, path: ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d", "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e", "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"] },
];

describe("lib/merkle: the definition", () => {
  it("hashes leaves as sha256(0x00 || bytes) and inner nodes as sha256(0x01 || left || right)", () => {
    const data = Buffer.from("furnace-3/temperature 1043.2 degC");
    expect(hex(leafHash(data))).toBe(hex(sha256(Uint8Array.of(0), data)));
    const [a, b] = [leafHash(Buffer.from("a")), leafHash(Buffer.from("b"))];
    expect(hex(nodeHash(a, b))).toBe(hex(sha256(Uint8Array.of(1), a, b)));
    expect(() => nodeHash(a, b.subarray(1))).toThrow(RangeError);
  });

  it("matches the RFC 6962 reference roots for 1 to 8 leaves", () => {
    for (let n = 1; n <= 8; n++) {
      expect(hex(MerkleTree.fromLeaves(CT_LEAVES.slice(0, n)).root), `size ${n}`).toBe(CT_ROOTS[n - 1]);
    }
  });

  it("produces the RFC 6962 reference inclusion proofs", () => {
    for (const { index, size, path } of CT_PROOFS) {
      const tree = MerkleTree.fromLeaves(CT_LEAVES.slice(0, size));
      const proof = tree.proof(index);
      expect(proof.siblings.map(hex), `${index} of ${size}`).toEqual(path);
      expect(verifyProof({ index, leafCount: size, siblings: path.map(unhex) }, unhex(CT_ROOTS[size - 1]!), leafHash(CT_LEAVES[index]!))).toBe(true);
    }
  });

  it("agrees with an independent RFC 6962 implementation for random trees of 1..300 leaves", () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 24 }), { minLength: 1, maxLength: 300 }), (leaves) => {
        expect(hex(MerkleTree.fromLeaves(leaves).root)).toBe(hex(referenceRoot(leaves)));
      }),
    );
  });

  it("promotes the odd node instead of duplicating it (no CVE-2012-2459 root collision)", () => {
    const leaves = ["a", "b", "c"].map((s) => Buffer.from(s));
    const withDuplicate = [...leaves, leaves[2]!];
    expect(hex(MerkleTree.fromLeaves(leaves).root)).not.toBe(hex(MerkleTree.fromLeaves(withDuplicate).root));
    // Promotion: root(a, b, c) = node(node(a, b), c).
    const [a, b, c] = leaves.map(leafHash);
    expect(hex(MerkleTree.fromLeaves(leaves).root)).toBe(hex(nodeHash(nodeHash(a!, b!), c!)));
  });

  it("gives a one-leaf tree its leaf hash as root and an empty proof", () => {
    const tree = MerkleTree.fromLeaves([Buffer.from("only")]);
    expect(hex(tree.root)).toBe(hex(leafHash(Buffer.from("only"))));
    expect(tree.depth).toBe(0);
    const proof = tree.proof(0);
    expect(proof.siblings).toEqual([]);
    expect(verifyProof(proof, tree.root, tree.leaf(0))).toBe(true);
  });

  it("refuses an empty tree in every constructor", () => {
    expect(() => MerkleTree.fromLeaves([])).toThrow(RangeError);
    expect(() => MerkleTree.fromLeafHashes([])).toThrow(RangeError);
    expect(() => MerkleTree.fromLeafHashes(Buffer.alloc(0))).toThrow(RangeError);
    expect(() => merkleRoot([])).toThrow(RangeError);
  });

  it("refuses leaf hashes that are not 32 bytes", () => {
    expect(() => MerkleTree.fromLeafHashes([Buffer.alloc(31)])).toThrow(RangeError);
    expect(() => MerkleTree.fromLeafHashes(Buffer.alloc(65))).toThrow(RangeError);
  });

  it("builds the same tree from raw leaves, a hash array, concatenated hashes and merkleRoot", () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 100 }), { minLength: 1, maxLength: 200 }), (leaves) => {
        const fromLeaves = MerkleTree.fromLeaves(leaves);
        const flat = leafHashes(leaves);
        const list = leaves.map(leafHash);
        expect(flat.length).toBe(leaves.length * HASH_BYTES);
        expect(hex(flat)).toBe(list.map(hex).join(""));
        for (const root of [MerkleTree.fromLeafHashes(list).root, MerkleTree.fromLeafHashes(flat).root, merkleRoot(list), merkleRoot(flat)]) {
          expect(hex(root)).toBe(hex(fromLeaves.root));
        }
        expect(leaves.map((_, i) => hex(fromLeaves.leaf(i)))).toEqual(list.map(hex));
      }),
      { numRuns: 50 },
    );
  });

  it("hashes large leaves (streamed, not copied) the same way", () => {
    for (const size of [4095, 4096, 4097, 70_000]) {
      const data = Buffer.alloc(size, 0xab);
      expect(hex(leafHash(data)), `${size} bytes`).toBe(hex(sha256(Uint8Array.of(0), data)));
      expect(hex(leafHashes([data, Buffer.from("x")]).subarray(0, 32))).toBe(hex(sha256(Uint8Array.of(0), data)));
    }
    // A small leaf right after a large one does not see stale scratch bytes.
    expect(hex(leafHash(Buffer.from("y")))).toBe(hex(sha256(Uint8Array.of(0), Buffer.from("y"))));
  });

  it("does not let callers mutate the tree through returned buffers", () => {
    const tree = MerkleTree.fromLeaves([Buffer.from("a"), Buffer.from("b"), Buffer.from("c")]);
    const root = hex(tree.root);
    tree.leaf(0).fill(0);
    (tree.proof(0).siblings[0] as Buffer).fill(0);
    expect(tree.proof(0).siblings.map(hex)).toEqual(MerkleTree.fromLeaves([Buffer.from("a"), Buffer.from("b"), Buffer.from("c")]).proof(0).siblings.map(hex));
    expect(hex(MerkleTree.fromLeafHashes([0, 1, 2].map((i) => tree.leaf(i))).root)).toBe(root);
  });
});

describe("lib/merkle: single proofs", () => {
  it("every proof of every leaf verifies, for random trees of 1..300 leaves", () => {
    fc.assert(
      fc.property(distinctLeaves(1, 300), (leaves) => {
        const tree = MerkleTree.fromLeaves(leaves);
        for (let i = 0; i < leaves.length; i++) {
          const proof = tree.proof(i);
          expect(proof.siblings.length).toBeLessThanOrEqual(tree.depth);
          expect(verifyProof(proof, tree.root, leafHash(leaves[i]!))).toBe(true);
        }
      }),
    );
  });

  it("fails after any single bit flip in the leaf, any sibling or the root", () => {
    fc.assert(
      fc.property(
        distinctLeaves(1, 300).chain((leaves) => fc.tuple(fc.constant(leaves), fc.nat(leaves.length - 1), fc.nat(255), fc.nat())),
        ([leaves, index, bit, which]) => {
          const tree = MerkleTree.fromLeaves(leaves);
          const proof = tree.proof(index);
          const leaf = tree.leaf(index);
          expect(verifyProof(proof, tree.root, flip(leaf, bit))).toBe(false);
          expect(verifyProof(proof, flip(tree.root, bit), leaf)).toBe(false);
          if (proof.siblings.length > 0) {
            const s = which % proof.siblings.length;
            const siblings = proof.siblings.map((x, k) => (k === s ? flip(x, bit) : x));
            expect(verifyProof({ ...proof, siblings }, tree.root, leaf)).toBe(false);
          }
        },
      ),
    );
  });

  it("a proof for index i verifies neither another leaf nor the same leaf at another index", () => {
    fc.assert(
      fc.property(
        distinctLeaves(2, 300).chain((leaves) => fc.tuple(fc.constant(leaves), fc.nat(leaves.length - 1), fc.nat(leaves.length - 1))),
        ([leaves, i, j]) => {
          fc.pre(i !== j);
          const tree = MerkleTree.fromLeaves(leaves);
          const proof = tree.proof(i);
          expect(verifyProof(proof, tree.root, tree.leaf(j))).toBe(false);
          expect(verifyProof({ ...proof, index: j }, tree.root, tree.leaf(i))).toBe(false);
        },
      ),
    );
  });

  it("an inner node cannot be presented as a leaf, neither as a hash at any index nor as leaf bytes", () => {
    fc.assert(
      fc.property(distinctLeaves(2, 120), (leaves) => {
        const n = leaves.length;
        const hashes = leaves.map(leafHash);
        const tree = MerkleTree.fromLeafHashes(hashes);
        // The inner node at (level k, position q) is the root over leaves [q*2^k, q*2^k + 2^k).
        for (let k = 1; 2 ** k < 2 * n; k++) {
          for (let q = 0; q * 2 ** k < n; q++) {
            const first = q * 2 ** k;
            const covered = hashes.slice(first, Math.min(first + 2 ** k, n));
            // Covering no more than the left half, this is a lower node promoted: tested at its level.
            if (covered.length <= 2 ** (k - 1)) continue;
            const inner = merkleRoot(covered);
            const below = MerkleTree.fromLeafHashes(covered).proof(0).siblings.length;
            const upper = tree.proof(first).siblings.slice(below);
            // The upper path is right: completing it from the inner node gives the tree's root.
            const lower = MerkleTree.fromLeafHashes(covered).proof(0);
            expect(hex(rootFromProof(hashes[first]!, { index: first, leafCount: n, siblings: [...lower.siblings, ...upper] })!)).toBe(hex(tree.root));
            for (let index = 0; index < n; index++) {
              expect(verifyProof({ index, leafCount: n, siblings: upper }, tree.root, inner)).toBe(false);
            }
            // The classic second preimage: the node's two children as one 64-byte leaf.
            const mid = first + 2 ** (k - 1);
            const left = merkleRoot(hashes.slice(first, mid));
            const right = merkleRoot(hashes.slice(mid, Math.min(first + 2 ** k, n)));
            expect(hex(nodeHash(left, right))).toBe(hex(inner));
            expect(hex(leafHash(Buffer.concat([left, right])))).not.toBe(hex(inner));
          }
        }
      }),
      { numRuns: 40 },
    );
  });

  it("does not commit to the leaf count in the root: verifiers take it from the anchor", () => {
    // Leaf 1 has the same path shape in trees of 3 and 4 leaves, so the same proof computes the
    // same root for both counts. DataAnchors stores the count with the root for this reason.
    const tree = MerkleTree.fromLeaves(["a", "b", "c"].map((s) => Buffer.from(s)));
    const proof = tree.proof(1);
    expect(verifyProof({ ...proof, leafCount: 4 }, tree.root, tree.leaf(1))).toBe(true);
    // A count that changes the path shape fails.
    expect(verifyProof({ ...proof, leafCount: 2 }, tree.root, tree.leaf(1))).toBe(false);
  });

  it("rejects malformed proofs without throwing", () => {
    const tree = MerkleTree.fromLeaves(["a", "b", "c", "d", "e"].map((s) => Buffer.from(s)));
    const leaf = tree.leaf(1);
    const good = tree.proof(1);
    const bad: MerkleProof[] = [
      { ...good, index: 5 },
      { ...good, index: -1 },
      { ...good, index: 1.5 },
      { ...good, leafCount: 0 },
      { ...good, leafCount: MAX_LEAF_COUNT + 1 },
      { ...good, leafCount: Number.NaN },
      { ...good, siblings: good.siblings.slice(1) },
      { ...good, siblings: [...good.siblings, good.siblings[0]!] },
      { ...good, siblings: [good.siblings[0]!.subarray(1), ...good.siblings.slice(1)] },
      { ...good, siblings: undefined as unknown as Uint8Array[] },
      { ...good, siblings: [null as unknown as Uint8Array, ...good.siblings.slice(1)] },
    ];
    expect(verifyProof(good, tree.root, leaf)).toBe(true);
    for (const proof of bad) {
      expect(() => verifyProof(proof, tree.root, leaf)).not.toThrow();
      expect(verifyProof(proof, tree.root, leaf)).toBe(false);
      expect(rootFromProof(leaf, proof)).toBeUndefined();
    }
    expect(verifyProof(good, tree.root.subarray(1), leaf)).toBe(false);
    expect(verifyProof(good, tree.root, leaf.subarray(1))).toBe(false);
  });

  it("throws RangeError for proofs of leaves outside the tree", () => {
    const tree = MerkleTree.fromLeaves([Buffer.from("a"), Buffer.from("b")]);
    for (const i of [-1, 2, 0.5, Number.NaN]) {
      expect(() => tree.proof(i)).toThrow(RangeError);
      expect(() => tree.leaf(i)).toThrow(RangeError);
    }
  });
});

describe("lib/merkle: multi-proofs and range proofs", () => {
  const treeAndSubset = distinctLeaves(1, 300).chain((leaves) =>
    fc.tuple(fc.constant(leaves), fc.uniqueArray(fc.nat(leaves.length - 1), { minLength: 1, maxLength: leaves.length })),
  );

  it("a multi-proof of any subset verifies, and is no longer than the single proofs together", () => {
    fc.assert(
      fc.property(treeAndSubset, ([leaves, subset]) => {
        const tree = MerkleTree.fromLeaves(leaves);
        const proof = tree.multiProof(subset);
        expect(proof.indices).toEqual([...subset].sort((a, b) => a - b));
        const hashes = proof.indices.map((i) => tree.leaf(i));
        expect(verifyMultiProof(proof, tree.root, hashes)).toBe(true);
        const singles = proof.indices.reduce((sum, i) => sum + tree.proof(i).siblings.length, 0);
        expect(proof.siblings.length).toBeLessThanOrEqual(singles);
        // A one-leaf multi-proof is exactly the single proof.
        expect(tree.multiProof([proof.indices[0]!]).siblings.map(hex)).toEqual(tree.proof(proof.indices[0]!).siblings.map(hex));
      }),
    );
  });

  it("a multi-proof fails with a flipped sibling, a wrong leaf, a moved index or a dropped leaf", () => {
    fc.assert(
      fc.property(treeAndSubset, fc.nat(255), fc.nat(), ([leaves, subset], bit, which) => {
        const tree = MerkleTree.fromLeaves(leaves);
        const proof = tree.multiProof(subset);
        const hashes = proof.indices.map((i) => tree.leaf(i));
        const k = which % hashes.length;
        expect(verifyMultiProof(proof, tree.root, hashes.map((h, x) => (x === k ? flip(h, bit) : h)))).toBe(false);
        expect(verifyMultiProof(proof, flip(tree.root, bit), hashes)).toBe(false);
        if (proof.siblings.length > 0) {
          const s = which % proof.siblings.length;
          expect(verifyMultiProof({ ...proof, siblings: proof.siblings.map((x, y) => (y === s ? flip(x, bit) : x)) }, tree.root, hashes)).toBe(false);
        }
        const free = leaves.findIndex((_, i) => !proof.indices.includes(i));
        if (free >= 0) {
          const moved = [...proof.indices];
          moved[k] = free;
          const order = moved.map((i, x) => [i, hashes[x]!] as const).sort((a, b) => a[0] - b[0]);
          expect(verifyMultiProof({ ...proof, indices: order.map((o) => o[0]) }, tree.root, order.map((o) => o[1]))).toBe(false);
        }
        if (hashes.length > 1) {
          expect(verifyMultiProof({ ...proof, indices: proof.indices.filter((_, x) => x !== k) }, tree.root, hashes.filter((_, x) => x !== k))).toBe(false);
        }
      }),
    );
  });

  it("a range proof verifies exactly the leaves of its range, none omitted, added or reordered", () => {
    fc.assert(
      fc.property(
        distinctLeaves(1, 300).chain((leaves) =>
          fc.tuple(fc.constant(leaves), fc.nat(leaves.length - 1), fc.nat(leaves.length - 1)).map(([l, a, b]) => [l, Math.min(a, b), Math.max(a, b) + 1] as const),
        ),
        ([leaves, start, end]) => {
          const tree = MerkleTree.fromLeaves(leaves);
          const proof = tree.rangeProof(start, end);
          const hashes = leaves.slice(start, end).map(leafHash);
          expect(verifyRangeProof(proof, tree.root, hashes)).toBe(true);
          // A range proof is the multi-proof of its indices.
          const indices = Array.from({ length: end - start }, (_, k) => start + k);
          expect(proof.siblings.map(hex)).toEqual(tree.multiProof(indices).siblings.map(hex));
          expect(verifyMultiProof({ indices, leafCount: leaves.length, siblings: proof.siblings }, tree.root, hashes)).toBe(true);
          if (hashes.length > 1) {
            expect(verifyRangeProof(proof, tree.root, hashes.slice(1))).toBe(false);
            expect(verifyRangeProof({ ...proof, end: end - 1 }, tree.root, hashes.slice(0, -1))).toBe(false);
            expect(verifyRangeProof(proof, tree.root, [hashes[1]!, hashes[0]!, ...hashes.slice(2)])).toBe(false);
          }
          if (end < leaves.length) {
            expect(verifyRangeProof({ ...proof, end: end + 1 }, tree.root, [...hashes, tree.leaf(end)])).toBe(false);
          }
          if (start > 0) expect(verifyRangeProof({ ...proof, start: start - 1, end: end - 1 }, tree.root, hashes)).toBe(false);
        },
      ),
    );
  });

  it("builds a range's root in place from leaves written by the caller, for every range of small trees", () => {
    for (let count = 1; count <= 33; count++) {
      const leaves = Array.from({ length: count }, (_, i) => Buffer.from(`leaf ${i}`));
      const tree = MerkleTree.fromLeaves(leaves);
      for (let start = 0; start < count; start++) {
        for (let end = start + 1; end <= count; end++) {
          const proof = tree.rangeProof(start, end);
          const written: number[] = [];
          const write = (k: number, out: Buffer, offset: number) => {
            written.push(k);
            out.set(tree.leaf(start + k), offset);
            return true;
          };
          expect(hex(rootFromRangeProof(proof, write)!)).toBe(hex(tree.root));
          expect(written).toEqual(Array.from({ length: end - start }, (_, k) => k)); // each leaf once, in order
          // A sibling too many or too few, a leaf the caller cannot give, or a range that does not fit: no root.
          expect(rootFromRangeProof({ ...proof, siblings: [...proof.siblings, tree.root] }, write)).toBeUndefined();
          if (proof.siblings.length > 0) expect(rootFromRangeProof({ ...proof, siblings: proof.siblings.slice(1) }, write)).toBeUndefined();
          expect(rootFromRangeProof(proof, (k, out, offset) => k !== end - start - 1 && write(k, out, offset))).toBeUndefined();
          expect(rootFromRangeProof({ ...proof, end: count + 1 }, write)).toBeUndefined();
        }
      }
    }
  });

  it("refuses a repeated index, which would let a forged leaf ride along with a genuine one", () => {
    const tree = MerkleTree.fromLeaves(["a", "b", "c", "d", "e", "f"].map((s) => Buffer.from(s)));
    const genuine = tree.proof(2).siblings;
    // Both copies of index 2 climb the same path; were repeats allowed, only the first would
    // reach the root check, and the forged hash would pass as leaf 2 too.
    const doubled = genuine.flatMap((s) => [s, s]);
    const forged = leafHash(Buffer.from("forged"));
    expect(verifyMultiProof({ indices: [2, 2], leafCount: 6, siblings: doubled }, tree.root, [tree.leaf(2), forged])).toBe(false);
    expect(rootFromMultiProof([tree.leaf(2), forged], { indices: [2, 2], leafCount: 6, siblings: doubled })).toBeUndefined();
  });

  it("proves a whole tree with no siblings", () => {
    const leaves = ["a", "b", "c", "d", "e", "f", "g"].map((s) => Buffer.from(s));
    const tree = MerkleTree.fromLeaves(leaves);
    const proof = tree.rangeProof(0, leaves.length);
    expect(proof.siblings).toEqual([]);
    expect(verifyRangeProof(proof, tree.root, leaves.map(leafHash))).toBe(true);
  });

  it("rejects malformed multi-proofs and ranges without throwing, and refuses to build bad ones", () => {
    const leaves = ["a", "b", "c", "d", "e"].map((s) => Buffer.from(s));
    const tree = MerkleTree.fromLeaves(leaves);
    const proof = tree.multiProof([1, 3]);
    const hashes = [tree.leaf(1), tree.leaf(3)];
    expect(verifyMultiProof(proof, tree.root, hashes)).toBe(true);
    const bad = [
      { ...proof, indices: [3, 1] },
      { ...proof, indices: [1, 1] },
      { ...proof, indices: [1, 5] },
      { ...proof, indices: [] },
      { ...proof, leafCount: 0 },
      { ...proof, siblings: [...proof.siblings, proof.siblings[0]!] },
      { ...proof, siblings: proof.siblings.slice(1) },
    ];
    for (const p of bad) {
      expect(() => verifyMultiProof(p, tree.root, hashes.slice(0, p.indices.length))).not.toThrow();
      expect(verifyMultiProof(p, tree.root, hashes.slice(0, p.indices.length))).toBe(false);
    }
    expect(rootFromMultiProof([tree.leaf(1)], proof)).toBeUndefined();
    const range = tree.rangeProof(1, 3);
    for (const r of [{ ...range, start: 3 }, { ...range, end: 6 }, { ...range, start: -1 }]) {
      expect(verifyRangeProof(r, tree.root, [tree.leaf(1), tree.leaf(2)])).toBe(false);
    }
    expect(() => tree.multiProof([])).toThrow(RangeError);
    expect(() => tree.multiProof([5])).toThrow(RangeError);
    expect(() => tree.rangeProof(2, 2)).toThrow(RangeError);
    expect(() => tree.rangeProof(0, 6)).toThrow(RangeError);
    // Indices in any order, with duplicates, make the same proof.
    expect(tree.multiProof([3, 1, 3]).siblings.map(hex)).toEqual(proof.siblings.map(hex));
  });
});

describe("lib/merkle: hex encoding of siblings", () => {
  it("round-trips and refuses anything but 32-byte hashes", () => {
    const tree = MerkleTree.fromLeaves(["a", "b", "c"].map((s) => Buffer.from(s)));
    const encoded = siblingsToHex(tree.proof(0).siblings);
    expect(encoded.every((h) => /^0x[0-9a-f]{64}$/.test(h))).toBe(true);
    expect(siblingsFromHex(encoded).map(hex)).toEqual(tree.proof(0).siblings.map(hex));
    expect(() => siblingsFromHex(["0x1234"])).toThrow(RangeError);
    expect(() => siblingsFromHex([encoded[0]!.slice(2)])).toThrow(RangeError);
    expect(() => siblingsFromHex(["0x" + "zz".repeat(32)])).toThrow(RangeError);
  });
});
