/**
 * The platform primitives shared code needs, browser edition (see ./README.md): the same exports
 * as ./node.ts, over @noble/hashes (the hash library ethers already ships to browsers).
 */
import { sha256 } from "@noble/hashes/sha2";
import { bytesToHex, utf8ToBytes } from "@noble/hashes/utils";

export const PLATFORM = "browser";

const bytesOf = (data: Uint8Array | string): Uint8Array => (typeof data === "string" ? utf8ToBytes(data) : data);

/** SHA-256 of bytes, or of a string's UTF-8 bytes, as lower-case hex (no 0x). */
export function sha256Hex(data: Uint8Array | string): string {
  return bytesToHex(sha256(bytesOf(data)));
}

/** SHA-256 of `input` written into `out` at `offset` (32 bytes). */
export function sha256Into(input: Uint8Array, out: Uint8Array, offset: number): void {
  out.set(sha256(input), offset);
}

/** SHA-256 over the concatenation of `parts`. */
export function sha256Concat(parts: readonly Uint8Array[]): Uint8Array {
  const h = sha256.create();
  for (const p of parts) h.update(p);
  return h.digest();
}

/** CommonJS packages are not loaded at run time in the browser; callers fall back. */
export function loadCommonJs(name: string): unknown {
  throw new Error(`${name} is not available in the browser`);
}
