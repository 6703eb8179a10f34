/**
 * The platform primitives shared code needs, Node edition (see ./README.md). Selected by the
 * "#platform" import of package.json; ./browser.ts is the browser twin with the same exports.
 */
import { createHash, hash } from "node:crypto";
import { createRequire } from "node:module";

export const PLATFORM = "node";

/** SHA-256 of bytes, or of a string's UTF-8 bytes, as lower-case hex (no 0x). */
export function sha256Hex(data: Uint8Array | string): string {
  return hash("sha256", data, "hex");
}

/**
 * SHA-256 of `input` written into `out` at `offset` (32 bytes). Node's one-shot hash with a
 * latin1 string result written straight into the buffer avoids one allocation per hash: the
 * Merkle tree's hot path.
 */
export function sha256Into(input: Uint8Array, out: Buffer, offset: number): void {
  out.write(hash("sha256", input, "binary"), offset, 32, "latin1");
}

/** SHA-256 over the concatenation of `parts`, without concatenating them (large leaves). */
export function sha256Concat(parts: readonly Uint8Array[]): Uint8Array {
  const h = createHash("sha256");
  for (const p of parts) h.update(p);
  return h.digest();
}

const requireHere = createRequire(import.meta.url);

/** A CommonJS package, loaded synchronously. */
export function loadCommonJs(name: string): unknown {
  return requireHere(name);
}
