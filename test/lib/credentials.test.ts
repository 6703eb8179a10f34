/** lib/credentials.ts without a chain: signing, the credential hash, signer recovery, input forms. */
import { readFileSync } from "node:fs";
import { SigningKey, Wallet, keccak256, sha256, toUtf8Bytes } from "ethers";
import { describe, expect, it } from "vitest";
import {
  CredentialError,
  TRACEMESH_CREDENTIALS_CONTEXT,
  VC_V2_CONTEXT,
  checkCredential,
  credentialHash,
  decodeCredential,
  didPkh,
  envelope,
  issueCredential,
  jwsOfInput,
  kidOf,
  parseDidPkh,
  recoverCandidates,
  signCredential,
  signedBy,
} from "../../lib/credentials.ts";
import { parseDateTimeStamp } from "../../lib/credentials/data-model.ts";
import { statusEntryOf } from "../../lib/credentials/status.ts";

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
    expect(() => signCredential({ ...mtr, credentialSubject: undefined }, key, 1)).toThrow(/credentialSubject is required/);
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

/** One accepted and one refused credential per VC 2.0 data model rule (lib/credentials/data-model.ts, contexts.ts). */
describe("VC 2.0 data model rules", () => {
  const base: Record<string, unknown> = {
    "@context": [VC_V2_CONTEXT, TRACEMESH_CREDENTIALS_CONTEXT],
    id: "urn:uuid:6a1b2c3d-0000-4000-8000-000000000001",
    type: ["VerifiableCredential", "MillTestReportCredential"],
    issuer: { id: didPkh(31337, address), name: "Certa Test Lab" },
    validFrom: "2025-01-01T00:00:00Z",
    validUntil: "2026-01-01T00:00:00Z",
    credentialSubject: { id: "https://id.gs1.org/01/09506000134352/10/HEAT-1", type: "MillTestReport", grade: "42CrMo4" },
  };
  // A vocabulary for the terms these cases use that no offline context defines.
  const withVocab = { "@context": [VC_V2_CONTEXT, TRACEMESH_CREDENTIALS_CONTEXT, { "@vocab": "https://certa.example.com/vocab#" }] };
  const status = { type: "TracemeshCertificateStatus", chainId: 31337, certificates: address };
  type Case = [rule: string, accepted: Record<string, unknown>, refused: Record<string, unknown>, path: string];
  const cases: Case[] = [
    ["context", { "@context": [VC_V2_CONTEXT, TRACEMESH_CREDENTIALS_CONTEXT, { grade: "https://example.com/grade" }] }, { "@context": [VC_V2_CONTEXT, TRACEMESH_CREDENTIALS_CONTEXT, "https ://not-a-url"] }, "/@context/2"],
    ["context", {}, { "@context": [VC_V2_CONTEXT, TRACEMESH_CREDENTIALS_CONTEXT, 42] }, "/@context/2"],
    ["context", {}, { "@context": ["https://www.w3.org/2018/credentials/v1", TRACEMESH_CREDENTIALS_CONTEXT] }, "/@context/0"],
    ["id", { id: "https://certa.example.com/certificates/1" }, { id: "not a url" }, "/id"],
    ["id", {}, { id: ["urn:uuid:1", "urn:uuid:2"] }, "/id"],
    ["id", {}, { id: null }, "/id"],
    ["type", { type: ["MillTestReportCredential", "VerifiableCredential"] }, { type: ["MillTestReportCredential"] }, "/type"],
    ["issuer", { issuer: didPkh(31337, address) }, { issuer: { name: "Certa Test Lab" } }, "/issuer/id"],
    ["issuer", {}, { issuer: "Certa Test Lab" }, "/issuer"],
    ["credential-subject", { credentialSubject: [{ grade: "316" }, { grade: "304" }] }, { credentialSubject: {} }, "/credentialSubject"],
    ["credential-subject", {}, { credentialSubject: [{ grade: "316" }, "x"] }, "/credentialSubject/1"],
    ["subject-id", { credentialSubject: { id: "did:web:customer.example.com", grade: "316" } }, { credentialSubject: { id: ["urn:a:1", "urn:a:2"], grade: "316" } }, "/credentialSubject/id"],
    ["date-time", { validFrom: "2025-01-01T08:00:00.250+08:00" }, { validFrom: "Sat 25 Feb 2023 07:16:31 PM CST" }, "/validFrom"],
    ["date-time", { validUntil: "2026-02-28T23:59:59-05:00" }, { validUntil: "2026-02-29T00:00:00Z" }, "/validUntil"],
    ["date-time", {}, { validFrom: "2025-01-01T00:00:00" }, "/validFrom"],
    ["validity-period", { validUntil: "2025-01-01T00:00:00Z" }, { validUntil: "2024-12-31T23:59:59Z" }, "/validUntil"],
    ["language-value", { name: [{ "@value": "钢材检验证书", "@language": "zh" }, { "@value": "Mill test report", "@language": "en", "@direction": "ltr" }] }, { name: { "@value": "Mill test report", "@language": "en", extra: 1 } }, "/name"],
    ["language-value", { description: { "@value": "EN 10204 3.1" } }, { description: { "@value": "EN 10204 3.1", "@direction": "up" } }, "/description/@direction"],
    ["typed-object", { credentialStatus: status }, { credentialStatus: { chainId: 31337 } }, "/credentialStatus/type"],
    ["typed-object", { credentialSchema: { id: "https://certa.example.com/schema.json", type: "JsonSchema" } }, { credentialSchema: { type: "JsonSchema" } }, "/credentialSchema/id"],
    ["typed-object", { evidence: [{ id: "https://certa.example.com/lab/run/7", type: ["Evidence"] }], ...withVocab }, { evidence: [{ id: "https ://x", type: "Evidence" }] }, "/evidence/0/id"],
    ["typed-object", { termsOfUse: { type: "TrustFrameworkPolicy" }, ...withVocab }, { termsOfUse: { id: "https://x.example.com/tos" } }, "/termsOfUse/type"],
    ["typed-object", { refreshService: { type: "ManualRefreshService2025" }, ...withVocab }, { refreshService: {} }, "/refreshService/type"],
    ["typed-object", { proof: { type: "DataIntegrityProof" } }, { proof: { type: "" } }, "/proof/type"],
    ["context-offline", {}, { "@context": [VC_V2_CONTEXT, "https://w3id.org/traceability/v1"] }, "/@context/1"],
    ["type-defined", { "@context": [VC_V2_CONTEXT, { "@vocab": "https://certa.example.com/vocab#" }], type: ["VerifiableCredential", "LabReport"] }, { type: ["VerifiableCredential", "LabReport"] }, "/type"],
    ["type-defined", {}, { credentialSubject: { type: "Steel", grade: "316" } }, "/credentialSubject/type"],
    ["protected-term", { "@context": [VC_V2_CONTEXT, TRACEMESH_CREDENTIALS_CONTEXT, { grade: "https://example.com/grade" }] }, { "@context": [VC_V2_CONTEXT, TRACEMESH_CREDENTIALS_CONTEXT, { name: "https://example.com/name" }] }, "/@context"],
  ];

  it("accepts the base credential", async () => {
    await expect(checkCredential(base)).resolves.toBeUndefined();
  });

  it.each(cases)("%s: accepts %j, refuses %j at %s", async (rule, accepted, refused, path) => {
    await expect(checkCredential({ ...base, ...accepted }), rule).resolves.toBeUndefined();
    const err = await checkCredential({ ...base, ...refused }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(CredentialError);
    const problems = (err as CredentialError).problems;
    expect(problems.map((p) => `${p.rule} ${p.path}`)).toContain(`${rule} ${path}`);
    expect((err as CredentialError).message).toContain(`rule ${rule} at ${path}`);
  });

  it("refuses to sign a credential that breaks a rule, and verifies nothing that does", async () => {
    expect(() => signCredential({ ...base, validUntil: "2024-01-01T00:00:00Z" }, key, 31337)).toThrow(/rule validity-period at \/validUntil/);
    await expect(issueCredential({ ...base, type: ["VerifiableCredential", "Undefined"] }, key, 31337)).rejects.toThrow(/type Undefined is not defined/);
    await expect(issueCredential(base, key, 31337)).resolves.toMatch(/^ey/);
  });

  it("adds the on-chain status entry and Tracemesh's context when told the Certificates contract", async () => {
    const certificates = "0x5fbdb2315678afecb367f032d93f642f64180aa3";
    const jws = await issueCredential({ ...base, "@context": [VC_V2_CONTEXT] , type: ["VerifiableCredential"], credentialSubject: { id: "https://id.gs1.org/01/09506000134352/10/HEAT-1" } }, key, 31337, { certificates });
    const c = decodeCredential(jws).credential;
    expect(c["@context"]).toEqual([VC_V2_CONTEXT, TRACEMESH_CREDENTIALS_CONTEXT]);
    expect(c.credentialStatus).toEqual({ type: "TracemeshCertificateStatus", chainId: 31337, certificates: "0x5FbDB2315678afecb367f032d93F642f64180aa3" });
    expect(statusEntryOf(c)).toEqual(c.credentialStatus);
    // An existing status entry of another kind is kept beside it.
    const both = decodeCredential(signCredential({ ...base, credentialStatus: { id: "https://x.example.com/status/1", type: "BitstringStatusListEntry" } }, key, 31337, { certificates })).credential;
    expect((both.credentialStatus as unknown[]).length).toBe(2);
    expect(() => statusEntryOf({ credentialStatus: { ...status, chainId: "31337" } })).toThrow(/chainId must be a positive integer/);
    expect(() => statusEntryOf({ credentialStatus: [status, status] })).toThrow(/one is allowed/);
  });

  it("reads XML Schema dateTimeStamps exactly", () => {
    expect(parseDateTimeStamp("2024-02-29T24:00:00Z")).toBe(Date.parse("2024-03-01T00:00:00Z"));
    expect(parseDateTimeStamp("2023-02-29T00:00:00Z")).toBeUndefined();
    expect(parseDateTimeStamp("2025-01-01T00:00:00+15:00")).toBeUndefined();
    expect(parseDateTimeStamp("2025-01-01")).toBeUndefined();
  });
});
