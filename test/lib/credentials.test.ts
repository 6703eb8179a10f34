/** lib/credentials.ts without a chain: signing, the credential hash, signer recovery, input forms. */
import { readFileSync } from "node:fs";
import { SigningKey, Wallet, keccak256, sha256, toUtf8Bytes } from "ethers";
import { describe, expect, it } from "vitest";
import {
  CredentialError,
  credentialHash,
  decodeCredential,
  didPkh,
  envelope,
  jwsOfInput,
  kidOf,
  parseDidPkh,
  recoverCandidates,
  signCredential,
  signedBy,
} from "../../lib/credentials.ts";

const FIXTURES = process.env.TRACEMESH_FIXTURES ?? "/work/shared/fixtures";
const mtr = JSON.parse(readFileSync(`${FIXTURES}/vc/traceability-vocab/examples/MillTestReportCredential.json`, "utf8")) as Record<string, unknown>;
// LOCAL TEST KEY: a fixed, public key for deterministic tests only.
const key = new SigningKey("0x" + "11".repeat(32));
const address = new Wallet(key.privateKey).address;

describe("VC-JOSE credentials", () => {
  it("signs a W3C traceability credential as a vc+jwt with a did:pkh kid and issuer", () => {
    const jws = signCredential(mtr, key, 31337);
    const d = decodeCredential(jws);
    expect(d.header).toEqual({ alg: "ES256K", typ: "vc+jwt", cty: "vc", kid: `did:pkh:eip155:31337:${address}#blockchainAccountId` });
    expect((d.credential.issuer as { id: string; name: string }).id).toBe(didPkh(31337, address));
    expect((d.credential.issuer as { name: string }).name).toBe("Tall Steel, Inc");
    expect(d.credential.credentialSubject).toEqual(mtr.credentialSubject);
    expect(d.signature).toHaveLength(64);
  });

  it("defines the credential hash as keccak256 of the JWS signing input", () => {
    const jws = signCredential(mtr, key, 31337);
    const [h, p] = jws.split(".");
    expect(credentialHash(jws)).toBe(keccak256(toUtf8Bytes(`${h}.${p}`)));
    // The same credential signed again has the same id (deterministic RFC 6979 signatures aside,
    // the id does not depend on the signature at all).
    expect(credentialHash(`${h}.${p}.AAAA`)).toBe(credentialHash(jws));
    // Any change of content changes it.
    expect(credentialHash(signCredential({ ...mtr, validFrom: "2022-06-07T08:10:00Z" }, key, 31337))).not.toBe(credentialHash(jws));
  });

  it("recovers the signer with either recovery id", () => {
    const parities = new Set<number>();
    for (let i = 0; i < 16; i++) {
      const jws = signCredential({ ...mtr, id: `urn:uuid:00000000-0000-4000-8000-${String(i).padStart(12, "0")}` }, key, 31337);
      const d = decodeCredential(jws);
      const sig = key.sign(sha256(toUtf8Bytes(d.signingInput)));
      parities.add(sig.v);
      expect(recoverCandidates(d)).toContain(address);
    }
    expect(parities).toEqual(new Set([27, 28]));
  });

  it("does not recover the signer from an altered payload or a foreign signature", () => {
    const jws = signCredential(mtr, key, 31337);
    const [h, , s] = jws.split(".");
    const altered = Buffer.from(JSON.stringify({ ...decodeCredential(jws).credential, validFrom: "2030-01-01T00:00:00Z" })).toString("base64url");
    expect(recoverCandidates(decodeCredential(`${h}.${altered}.${s}`))).not.toContain(address);
    expect(recoverCandidates(decodeCredential(`${h}.${altered}.AAAA`))).toEqual([]);
  });

  it("checks signatures by recovery first, then natively with the learnt key, with the same answers", () => {
    // A fresh key, so the first check must recover it.
    const fresh = new SigningKey("0x" + "33".repeat(32));
    const who = new Wallet(fresh.privateKey).address;
    const jws = signCredential(mtr, fresh, 31337);
    const [h, , s] = jws.split(".");
    const altered = `${h}.${Buffer.from(JSON.stringify({ ...decodeCredential(jws).credential, x: 1 })).toString("base64url")}.${s}`;
    expect(signedBy(decodeCredential(altered), who)).toBe(false); // by recovery (nothing learnt)
    expect(signedBy(decodeCredential(jws), who)).toBe(true); // by recovery; learns the key
    expect(signedBy(decodeCredential(jws), who)).toBe(true); // natively
    expect(signedBy(decodeCredential(altered), who)).toBe(false); // natively
    expect(signedBy(decodeCredential(jws), address)).toBe(false); // another account
    // The high-s twin of a valid signature is refused on both paths.
    const sig = decodeCredential(jws).signature;
    const n = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
    const highS = (n - BigInt("0x" + Buffer.from(sig.subarray(32)).toString("hex"))).toString(16).padStart(64, "0");
    const twin = `${h}.${jws.split(".")[1]}.${Buffer.concat([Buffer.from(sig.subarray(0, 32)), Buffer.from(highS, "hex")]).toString("base64url")}`;
    expect(signedBy(decodeCredential(twin), who)).toBe(false);
  });

  it("refuses malformed JWS and credentials, naming the fault", () => {
    expect(() => decodeCredential("a.b")).toThrow(/three dot-separated parts, this has 2/);
    expect(() => decodeCredential("!!.e30.AA")).toThrow(/header is not base64url/);
    expect(() => signCredential({ ...mtr, "@context": ["https://www.w3.org/2018/credentials/v1"] }, key, 1)).toThrow(/@context must be an array starting with/);
    expect(() => signCredential({ ...mtr, credentialSubject: undefined }, key, 1)).toThrow(/credentialSubject is missing/);
  });

  it("accepts the JWS as text, data URL, enveloped credential or { jwt }, and refuses an unsecured credential", () => {
    const jws = signCredential(mtr, key, 31337);
    expect(jwsOfInput(`  ${jws}\n`)).toBe(jws);
    expect(jwsOfInput(envelope(jws))).toBe(jws);
    expect(jwsOfInput({ jwt: jws })).toBe(jws);
    expect(jwsOfInput(`data:application/vc+jwt,${jws}`)).toBe(jws);
    expect(() => jwsOfInput(mtr)).toThrow(CredentialError);
    expect(() => jwsOfInput(mtr)).toThrow(/not secured as a JWS/);
    expect(() => jwsOfInput(42)).toThrow(/expected a compact JWS/);
  });

  it("parses did:pkh and refuses other DIDs", () => {
    expect(parseDidPkh(kidOf(5, address))).toEqual({ chainId: 5, address });
    expect(() => parseDidPkh("did:web:organization.example.com")).toThrow(/not a did:pkh/);
  });
});
