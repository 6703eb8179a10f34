/**
 * The two node:crypto functions lib/credentials.ts uses for its learnt-key fast path
 * (`createPublicKey` from a secp256k1 JWK, `verify` of an ES256K signature), for the browser
 * build only (explorer/vite.config.ts aliases node:crypto here). Verification recovers the signer
 * from the signature with ethers, for both recovery ids, and compares it with the key: the same
 * check as an ECDSA verify. Anything else from node:crypto is deliberately absent.
 */
import { Signature, SigningKey, hexlify, sha256 } from "ethers";

interface PublicKey {
  /** 0x04 || x || y */
  readonly uncompressed: string;
}

const fromB64u = (s: string): Uint8Array => Uint8Array.from(atob(s.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0));

export function createPublicKey(input: { key: { kty: string; crv: string; x: string; y: string }; format: "jwk" }): PublicKey {
  const { kty, crv, x, y } = input.key;
  if (input.format !== "jwk" || kty !== "EC" || crv !== "secp256k1") throw new Error("only secp256k1 JWKs are supported in the browser");
  const point = new Uint8Array(65);
  point[0] = 4;
  point.set(fromB64u(x), 1);
  point.set(fromB64u(y), 33);
  return { uncompressed: hexlify(point) };
}

export function verify(algorithm: string, data: Uint8Array, key: { key: PublicKey; dsaEncoding?: string }, signature: Uint8Array): boolean {
  if (algorithm !== "sha256" || key.dsaEncoding !== "ieee-p1363" || signature.length !== 64) return false;
  const digest = sha256(data);
  const r = hexlify(signature.subarray(0, 32));
  const s = hexlify(signature.subarray(32));
  for (const v of [27, 28]) {
    try {
      if (SigningKey.recoverPublicKey(digest, Signature.from({ r, s, v })) === key.key.uncompressed) return true;
    } catch {
      // not this recovery id
    }
  }
  return false;
}

export type KeyObject = PublicKey;
