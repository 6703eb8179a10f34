/**
 * The explorer runs the shared verification code with lib/platform/browser.ts (@noble/hashes)
 * instead of node:crypto. Here the browser edition is swapped in for the whole module graph and
 * must reproduce the GS1 reference event hashes and the RFC 6962 Merkle tree exactly.
 */
import { createHash, randomBytes } from "node:crypto";
import { readFileSync, readdirSync } from "node:fs";
import { describe, expect, it, vi } from "vitest";

vi.mock("#platform", async () => await import("../../lib/platform/browser.ts"));

const { PLATFORM, sha256Concat, sha256Hex, sha256Into } = await import("#platform");
const { documentEventHashes } = await import("../../lib/epcis/event-hash.ts");
const { MerkleTree, leafHash, rootFromProof } = await import("../../lib/merkle.ts");

const EXAMPLES = new URL("../../../shared/fixtures/epcis/event-hash/examples/", import.meta.url);

/** RFC 6962 Merkle Tree Hash, written plainly (split at the largest power of two below n). */
function mth(leaves: Buffer[]): Buffer {
  const sha = (...parts: Buffer[]) => createHash("sha256").update(Buffer.concat(parts)).digest();
  if (leaves.length === 1) return sha(Buffer.from([0]), leaves[0]!);
  let k = 1;
  while (k * 2 < leaves.length) k *= 2;
  return sha(Buffer.from([1]), mth(leaves.slice(0, k)), mth(leaves.slice(k)));
}

describe("lib/platform browser edition", () => {
  it("is the one in use", () => {
    expect(PLATFORM).toBe("browser");
  });

  it("hashes like node:crypto (strings as UTF-8, bytes, into a buffer, in parts)", () => {
    for (const input of ["", "abc", "事件哈希 ✓", randomBytes(1000)]) {
      const node = createHash("sha256").update(input).digest();
      expect(sha256Hex(input)).toBe(node.toString("hex"));
      const out = Buffer.alloc(40);
      sha256Into(typeof input === "string" ? Buffer.from(input) : input, out, 5);
      expect(out.subarray(5, 37)).toEqual(node);
    }
    const a = randomBytes(5000);
    const b = randomBytes(7);
    expect(Buffer.from(sha256Concat([a, b]))).toEqual(createHash("sha256").update(a).update(b).digest());
  });

  it("reproduces every GS1 reference event hash of the 22 JSON-LD examples", () => {
    let count = 0;
    for (const f of readdirSync(EXAMPLES).filter((n) => n.endsWith(".jsonld"))) {
      const doc: unknown = JSON.parse(readFileSync(new URL(f, EXAMPLES), "utf8"));
      const expected = readFileSync(new URL(f.replace(/\.jsonld$/, ".hashes"), EXAMPLES), "utf8").split("\n").filter((l) => l !== "");
      expect(documentEventHashes(doc).map((h) => h.hashId), f).toEqual(expected);
      count += expected.length;
    }
    expect(count).toBeGreaterThanOrEqual(42);
  });

  it("builds the RFC 6962 Merkle tree and checks its proofs, large leaves included", () => {
    for (const n of [1, 2, 3, 7, 64, 100]) {
      const leaves = Array.from({ length: n }, (_, i) => randomBytes(i === 3 ? 5000 : 90));
      const tree = MerkleTree.fromLeaves(leaves);
      expect(tree.root).toEqual(mth(leaves));
      for (const i of [0, n - 1, Math.floor(n / 2)]) {
        expect(rootFromProof(leafHash(leaves[i]!), tree.proof(i))).toEqual(tree.root);
        const other = Buffer.from(leafHash(randomBytes(90)));
        expect(rootFromProof(other, tree.proof(i))?.equals(tree.root) ?? false).toBe(false);
      }
    }
  });
});
