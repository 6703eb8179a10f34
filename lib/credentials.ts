/**
 * Certificates as W3C Verifiable Credentials 2.0 secured with VC-JOSE: a compact JWS whose
 * payload is the credential, header `{alg: "ES256K", typ: "vc+jwt", cty: "vc", kid}`, signed by
 * one of the issuing organisation's on-chain accounts, with
 * `kid = did:pkh:eip155:<chainId>:<address>#blockchainAccountId` and the credential's `issuer`
 * set to that did:pkh. Shared by the gateway (/certificates/verify) and the member tool.
 *
 * THE credential hash (the certificate id in contracts/Certificates.sol) is
 *     keccak256(ASCII bytes of the JWS signing input "<base64url header>.<base64url payload>")
 * i.e. exactly the bytes the issuer's signature covers. Why these bytes: they are the credential
 * as issued, byte for byte, so no JSON or JSON-LD canonicalisation has to be agreed on (and
 * re-implemented identically everywhere) to recompute the id; they include the header, so the
 * id also commits to the signing account (kid) and algorithm; and they exclude the signature,
 * whose encoding is malleable (ECDSA s / n-s), so a re-encoded signature cannot make the same
 * credential look like an unrecorded one. Any change to a credential's content changes its id.
 *
 * ES256K signatures are the JOSE form: r || s (64 bytes, no recovery id, low s) over SHA-256 of
 * the signing input. The signer is recovered by trying both recovery ids (ethers SigningKey), and
 * must be the address named by `kid`; once an account's public key is known that way, later
 * signatures of that account are checked with node:crypto (native, about ten times faster).
 *
 * Every credential is checked against the VC 2.0 data model before it is signed and when it is
 * verified (credentials/data-model.ts, and the JSON-LD rules in credentials/contexts.ts); issued
 * credentials carry a TracemeshCertificateStatus entry naming where their status is
 * (credentials/status.ts).
 */
import { type KeyObject, createPublicKey, verify as verifyNative } from "node:crypto";
import { Signature, SigningKey, ZeroHash, computeAddress, getAddress, isAddress, keccak256, sha256, toUtf8Bytes } from "ethers";
import type { TracemeshContracts } from "./deployment.ts";
import { CertificateStatus, type RevocationReason, reasonName } from "./registry.ts";
import { ADVISORY_CHECKS, CHECK_NAMES, type CheckName } from "./credentials/check-names.ts";

export { reasonName };
import { itemKey, batchKey } from "./identifiers/canonical.ts";
import { IdentifierError } from "./identifiers/gs1-keys.ts";
import { TracemeshError } from "./errors.ts";
import { type DataModelProblem, VC_V2_CONTEXT, dataModelProblems, parseDateTimeStamp } from "./credentials/data-model.ts";
import { TRACEMESH_CREDENTIALS_CONTEXT, termProblems } from "./credentials/contexts.ts";
import { certificateStatusEntry, statusEntryOf } from "./credentials/status.ts";

export { VC_V2_CONTEXT, TRACEMESH_CREDENTIALS_CONTEXT };
export const VC_JWT_TYP = "vc+jwt";
export const VC_JWT_MEDIA_TYPE = "application/vc+jwt";

export class CredentialError extends TracemeshError {
  /** The data model rules broken, when that is the refusal (credentials/data-model.ts). */
  readonly problems: readonly DataModelProblem[];

  constructor(message: string, options?: { cause?: unknown; problems?: readonly DataModelProblem[] }) {
    super("invalid-credential", message, options);
    this.problems = options?.problems ?? [];
  }

  /** The refusal of a credential that breaks data model rules: each rule, where, and why. */
  static of(problems: readonly DataModelProblem[]): CredentialError {
    const text = problems.map((p) => `${p.message} (rule ${p.rule} at ${p.path || "/"})`).join("; ");
    return new CredentialError(text, { problems });
  }
}

export interface CredentialHeader {
  alg: string;
  typ?: string;
  cty?: string;
  kid?: string;
  [k: string]: unknown;
}

export interface DecodedCredential {
  jws: string;
  header: CredentialHeader;
  credential: Record<string, unknown>;
  signingInput: string;
  /** r || s, 64 bytes. */
  signature: Uint8Array;
}

// ------------------------------------------------------------------------------------ did:pkh

/** did:pkh (CAIP-10) of an EVM account on chain `chainId`. */
export function didPkh(chainId: number | bigint, address: string): string {
  return `did:pkh:eip155:${chainId}:${getAddress(address)}`;
}

/** The verification method id that signs: the account itself. */
export function kidOf(chainId: number | bigint, address: string): string {
  return `${didPkh(chainId, address)}#blockchainAccountId`;
}

export function parseDidPkh(did: string): { chainId: number; address: string } {
  const m = /^did:pkh:eip155:(\d+):(0x[0-9a-fA-F]{40})(?:#blockchainAccountId)?$/.exec(did);
  if (!m || !isAddress(m[2]!)) throw new CredentialError(`"${did}" is not a did:pkh:eip155:<chainId>:<address> identifier`);
  return { chainId: Number(m[1]), address: getAddress(m[2]!) };
}

// ---------------------------------------------------------------------------------- base64url

const b64u = (bytes: Uint8Array | string) => Buffer.from(typeof bytes === "string" ? Buffer.from(bytes, "utf8") : bytes).toString("base64url");

function fromB64u(part: string, what: string): Buffer {
  if (!/^[A-Za-z0-9_-]*$/.test(part)) throw new CredentialError(`the JWS ${what} is not base64url`);
  return Buffer.from(part, "base64url");
}

// ----------------------------------------------------------------------------- sign, decode

export interface SignOptions {
  /**
   * The Certificates contract the certificate will be recorded in: the credential then gets the
   * TracemeshCertificateStatus entry (credentials/status.ts) and Tracemesh's context.
   */
  certificates?: string;
}

/** The payload `signCredential` signs: issuer id set to the signer, the status entry added. */
export function payloadOf(credential: Record<string, unknown>, address: string, chainId: number | bigint, options: SignOptions): Record<string, unknown> {
  const issuer = credential.issuer;
  const issuerObject = typeof issuer === "object" && issuer !== null && !Array.isArray(issuer) ? (issuer as Record<string, unknown>) : {};
  const payload: Record<string, unknown> = { ...credential, issuer: { ...issuerObject, id: didPkh(chainId, address) } };
  if (options.certificates !== undefined) {
    const ctx = Array.isArray(credential["@context"]) ? (credential["@context"] as unknown[]) : [];
    if (!ctx.includes(TRACEMESH_CREDENTIALS_CONTEXT)) payload["@context"] = [...ctx, TRACEMESH_CREDENTIALS_CONTEXT];
    const others = credential.credentialStatus === undefined ? [] : [credential.credentialStatus].flat();
    const entry = certificateStatusEntry(chainId, options.certificates);
    payload.credentialStatus = others.length === 0 ? entry : [...others, entry];
  }
  return payload;
}

/**
 * Signs `credential` (a VC 2.0 credential, unsecured) as its issuer's account `key` on chain
 * `chainId`, and returns the compact JWS. The credential's `issuer` id becomes the account's
 * did:pkh (a name or other issuer properties are kept). Checks the data model rules that need no
 * JSON-LD; `issueCredential` checks all of them.
 */
export function signCredential(credential: Record<string, unknown>, key: SigningKey, chainId: number | bigint, options: SignOptions = {}): string {
  const address = computeAddress(key.publicKey);
  const payload = payloadOf(credential, address, chainId, options);
  checkCredentialShape(payload);
  return signCompactJws({ alg: "ES256K", typ: VC_JWT_TYP, cty: "vc", kid: kidOf(chainId, address) }, payload, key);
}

/** A compact ES256K JWS of `payload` under `header` (JOSE r || s signature over SHA-256). */
export function signCompactJws(header: CredentialHeader, payload: Record<string, unknown>, key: SigningKey): string {
  const signingInput = `${b64u(JSON.stringify(header))}.${b64u(JSON.stringify(payload))}`;
  const sig = key.sign(sha256(toUtf8Bytes(signingInput)));
  return `${signingInput}.${b64u(Buffer.concat([Buffer.from(sig.r.slice(2), "hex"), Buffer.from(sig.s.slice(2), "hex")]))}`;
}

/** Splits and parses a compact JWS credential; throws CredentialError naming what is malformed. */
export function decodeCredential(jws: string): DecodedCredential {
  const text = jws.trim();
  const parts = text.split(".");
  if (parts.length !== 3) throw new CredentialError(`a compact JWS has three dot-separated parts, this has ${parts.length}`);
  const [h, p, s] = parts as [string, string, string];
  let header: CredentialHeader;
  let credential: Record<string, unknown>;
  try {
    header = JSON.parse(fromB64u(h, "header").toString("utf8")) as CredentialHeader;
  } catch (e) {
    throw e instanceof CredentialError ? e : new CredentialError("the JWS header is not JSON");
  }
  try {
    credential = JSON.parse(fromB64u(p, "payload").toString("utf8")) as Record<string, unknown>;
  } catch (e) {
    throw e instanceof CredentialError ? e : new CredentialError("the JWS payload is not JSON");
  }
  if (typeof header !== "object" || header === null) throw new CredentialError("the JWS header is not a JSON object");
  if (typeof credential !== "object" || credential === null || Array.isArray(credential)) throw new CredentialError("the JWS payload is not a JSON object");
  const signature = fromB64u(s, "signature");
  return { jws: text, header, credential, signingInput: `${h}.${p}`, signature };
}

/** THE certificate id of a secured credential (see the header of this file). */
export function credentialHash(jws: string | DecodedCredential): string {
  const signingInput = typeof jws === "string" ? decodeCredential(jws).signingInput : jws.signingInput;
  return keccak256(toUtf8Bytes(signingInput));
}

/** The VC 2.0 data model rules that need no JSON-LD; throws CredentialError naming each broken rule and its path. */
export function checkCredentialShape(c: Record<string, unknown>): void {
  const problems = dataModelProblems(c);
  if (problems.length > 0) throw CredentialError.of(problems);
}

/** All VC 2.0 data model rules, the JSON-LD ones (types defined, protected terms) included. */
export async function checkCredential(c: Record<string, unknown>): Promise<void> {
  checkCredentialShape(c);
  const problems = await termProblems(c);
  if (problems.length > 0) throw CredentialError.of(problems);
}

/** `signCredential` after checking every data model rule, the JSON-LD ones included: how issuers sign. */
export async function issueCredential(credential: Record<string, unknown>, key: SigningKey, chainId: number | bigint, options: SignOptions = {}): Promise<string> {
  await checkCredential(payloadOf(credential, computeAddress(key.publicKey), chainId, options));
  return signCredential(credential, key, chainId, options);
}

export function issuerIdOf(c: Record<string, unknown>): string | undefined {
  const issuer = c.issuer;
  if (typeof issuer === "string") return issuer;
  const id = (issuer as { id?: unknown } | null | undefined)?.id;
  return typeof id === "string" ? id : undefined;
}

/**
 * The addresses that could have made `signature` over `signingInput` (one per recovery id);
 * empty when the signature is not a valid secp256k1 signature.
 */
export function recoverCandidates(decoded: DecodedCredential): string[] {
  if (decoded.signature.length !== 64) return [];
  const digest = sha256(toUtf8Bytes(decoded.signingInput));
  const r = "0x" + Buffer.from(decoded.signature.subarray(0, 32)).toString("hex");
  const s = "0x" + Buffer.from(decoded.signature.subarray(32)).toString("hex");
  const out: string[] = [];
  for (const v of [27, 28]) {
    try {
      out.push(computeAddress(SigningKey.recoverPublicKey(digest, Signature.from({ r, s, v }))));
    } catch {
      // Not a point on the curve for this recovery id (or a high-s signature, which ethers refuses).
    }
  }
  return out;
}

const SECP256K1_HALF_N = 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0n;
/** Public keys learnt by recovery, per checksummed address (bounded). */
const knownKeys = new Map<string, KeyObject>();

/**
 * Whether `address` made the signature over the credential's signing input. A high-s signature
 * (the malleable twin of a valid one) is refused, as ethers and Ethereum refuse it.
 */
export function signedBy(decoded: Pick<DecodedCredential, "signingInput" | "signature">, address: string): boolean {
  const sig = decoded.signature;
  if (sig.length !== 64 || BigInt("0x" + Buffer.from(sig.subarray(32)).toString("hex")) > SECP256K1_HALF_N) return false;
  const known = knownKeys.get(address);
  if (known) return verifyNative("sha256", Buffer.from(decoded.signingInput, "ascii"), { key: known, dsaEncoding: "ieee-p1363" }, sig);
  const digest = sha256(toUtf8Bytes(decoded.signingInput));
  const r = "0x" + Buffer.from(sig.subarray(0, 32)).toString("hex");
  const s = "0x" + Buffer.from(sig.subarray(32)).toString("hex");
  for (const v of [27, 28]) {
    let publicKey: string;
    try {
      publicKey = SigningKey.recoverPublicKey(digest, Signature.from({ r, s, v }));
    } catch {
      continue;
    }
    if (computeAddress(publicKey) !== address) continue;
    const point = Buffer.from(publicKey.slice(2), "hex"); // 0x04 || x || y
    if (knownKeys.size >= 10_000) knownKeys.delete(knownKeys.keys().next().value!);
    knownKeys.set(
      address,
      createPublicKey({ key: { kty: "EC", crv: "secp256k1", x: point.subarray(1, 33).toString("base64url"), y: point.subarray(33).toString("base64url") }, format: "jwk" }),
    );
    return true;
  }
  return false;
}

/**
 * Extracts the compact JWS from what a verifier was given: the JWS text itself, a JSON string of
 * it, a VC 2.0 EnvelopedVerifiableCredential (`id: "data:application/vc+jwt,<jws>"`), or
 * `{ jwt | credential: <jws> }`. An unsecured credential is refused with the reason.
 */
export function jwsOfInput(input: unknown): string {
  if (typeof input === "string") {
    const t = input.trim();
    if (t.startsWith(`data:${VC_JWT_MEDIA_TYPE},`)) return t.slice(`data:${VC_JWT_MEDIA_TYPE},`.length);
    if (t.includes("~")) throw new CredentialError("this is a selective disclosure (SD-JWT, vc+sd-jwt): verify it for the challenge and domain you gave its holder");
    return t;
  }
  if (typeof input === "object" && input !== null && !Array.isArray(input)) {
    const o = input as Record<string, unknown>;
    const type = o.type;
    const isEnveloped = Array.isArray(type) ? type.includes("EnvelopedVerifiableCredential") : type === "EnvelopedVerifiableCredential";
    if (isEnveloped) {
      if (typeof o.id !== "string" || !o.id.startsWith(`data:${VC_JWT_MEDIA_TYPE},`)) {
        throw new CredentialError(`an EnvelopedVerifiableCredential's id must be a data:${VC_JWT_MEDIA_TYPE},<jws> URL`);
      }
      return o.id.slice(`data:${VC_JWT_MEDIA_TYPE},`.length);
    }
    for (const k of ["jwt", "jws", "credential"]) if (typeof o[k] === "string") return jwsOfInput(o[k]);
    if ("credentialSubject" in o || "proof" in o) {
      throw new CredentialError("this credential is not secured as a JWS (VC-JOSE): certificates here are compact JWS (vc+jwt) or EnvelopedVerifiableCredential");
    }
  }
  throw new CredentialError("expected a compact JWS credential (vc+jwt), an EnvelopedVerifiableCredential, or { jwt }");
}

/** The VC 2.0 envelope of a JWS credential, for JSON transports. */
export function envelope(jws: string): Record<string, unknown> {
  return { "@context": [VC_V2_CONTEXT], id: `data:${VC_JWT_MEDIA_TYPE},${jws}`, type: "EnvelopedVerifiableCredential" };
}

// ------------------------------------------------------------------------- on-chain status

export type CertificateStatusName = "unknown" | "valid" | "not-yet-valid" | "expired" | "suspended" | "revoked" | "superseded";

export const STATUS_NAMES: Record<CertificateStatus, CertificateStatusName> = {
  [CertificateStatus.Unknown]: "unknown",
  [CertificateStatus.Valid]: "valid",
  [CertificateStatus.NotYetValid]: "not-yet-valid",
  [CertificateStatus.Expired]: "expired",
  [CertificateStatus.Suspended]: "suspended",
  [CertificateStatus.Revoked]: "revoked",
  [CertificateStatus.Superseded]: "superseded",
};

const iso = (t: bigint) => (t === 0n ? null : new Date(Number(t) * 1000).toISOString());

/** A certificate as the Certificates contract holds it, with its status at the chain's time and names resolved. */
export interface OnChainCertificate {
  id: string;
  /** Certificates.status(id) with time applied (the stored life-cycle state is not exposed). */
  state: CertificateStatusName;
  issuer: { id: number; name: string | null };
  subject: string;
  scope: string;
  issuedAt: string | null;
  validFrom: string | null;
  validUntil: string | null;
  reason: string | null;
  reasonHash: string | null;
  suspendedAt: string | null;
  revokedAt: string | null;
  supersedes: string | null;
  supersededBy: string | null;
  accreditedAtIssuance: boolean;
  accreditedNow: boolean;
}

/** A certificate's on-chain record and status; undefined for an id never issued. */
export async function certificateOnChain(contracts: TracemeshContracts, id: string): Promise<OnChainCertificate | undefined> {
  const [[status, atIssuance, now], cert] = await Promise.all([contracts.certificates.status(id), contracts.certificates.certificate(id)]);
  const st = Number(status) as CertificateStatus;
  if (st === CertificateStatus.Unknown) return undefined;
  const issuerId = Number(cert.issuer);
  let name: string | null = null;
  try {
    [name] = await contracts.consortium.org(issuerId);
  } catch {
    name = null;
  }
  const withReason = st === CertificateStatus.Suspended || st === CertificateStatus.Revoked;
  return {
    id: id.toLowerCase(),
    state: STATUS_NAMES[st],
    issuer: { id: issuerId, name },
    subject: cert.subject,
    scope: cert.scope,
    issuedAt: iso(cert.issuedAt),
    validFrom: iso(cert.validFrom),
    validUntil: iso(cert.validUntil),
    reason: withReason ? reasonName(Number(cert.reason) as RevocationReason) : null,
    reasonHash: withReason && cert.reasonHash !== ZeroHash ? cert.reasonHash : null,
    suspendedAt: iso(cert.suspendedAt),
    revokedAt: iso(cert.revokedAt),
    supersedes: cert.supersedes === ZeroHash ? null : cert.supersedes,
    supersededBy: cert.supersededBy === ZeroHash ? null : cert.supersededBy,
    accreditedAtIssuance: atIssuance,
    accreditedNow: now,
  };
}

// ------------------------------------------------------------------------------- verification

export interface Check {
  /** true passed, false failed, null not checked (an earlier check failed, or not applicable). */
  ok: boolean | null;
  detail: string;
}

// The check names are plain data of their own (./credentials/check-names.ts): pages list them without this module.
export { ADVISORY_CHECKS, CHECK_NAMES, type CheckName };

export interface Verification {
  verdict: "valid" | "invalid";
  id: string | null;
  signer: string | null;
  checks: Record<CheckName, Check>;
  /** Failed checks that make the verdict invalid, in words. */
  problems: string[];
  /** Failed advisory checks, in words. */
  warnings: string[];
  certificate: OnChainCertificate | null;
  credential: Record<string, unknown> | null;
  header: CredentialHeader | null;
}

/**
 * Verifies a secured credential against the chain: its form, its ES256K signature by the
 * account its kid names, that its hash is a recorded certificate, that the signer is an account
 * of the certificate's on-chain issuer, the certificate's status, the issuer's accreditation at
 * issuance (and now, advisory), its validity window at `nowMs`, and, when the credential names
 * a GS1 subject, that it is the certificate's subject.
 */
export async function verifyCredential(
  input: unknown,
  contracts: TracemeshContracts,
  options: { chainId: number; nowMs?: number },
): Promise<Verification> {
  const checks = Object.fromEntries(CHECK_NAMES.map((n) => [n, { ok: null, detail: "not checked" }])) as Record<CheckName, Check>;
  const result: Verification = { verdict: "invalid", id: null, signer: null, checks, problems: [], warnings: [], certificate: null, credential: null, header: null };

  // format
  let decoded: DecodedCredential;
  let format: SecuredFormat;
  try {
    decoded = decodeCredential(jwsOfInput(input));
    result.header = decoded.header;
    result.credential = decoded.credential;
    format = await checkSecuredFormat(decoded.header, decoded.credential, VC_JWT_TYP, options.chainId);
    checks.format = { ok: true, detail: "a VC 2.0 credential secured as vc+jwt (ES256K), kid on this chain" };
  } catch (e) {
    if (!(e instanceof CredentialError)) throw e;
    checks.format = { ok: false, detail: e.message };
    return finishVerification(result, CHECK_NAMES);
  }

  checks.signature = signatureCheck(decoded, format.kidAddress);
  if (checks.signature.ok) result.signer = format.kidAddress;
  await checkOnChain(result, credentialHash(decoded), decoded.credential, format.statusEntry, contracts, options);
  return finishVerification(result, CHECK_NAMES);
}

/** What the format check of a secured credential found: the signing account and the status entry. */
export interface SecuredFormat {
  kidAddress: string;
  statusEntry: ReturnType<typeof statusEntryOf>;
}

/**
 * The format rules shared by every secured credential (vc+jwt, vc+sd-jwt): ES256K, the expected
 * typ, a did:pkh kid on this chain, every data model rule, a well-formed status entry, and the
 * issuer being the signing account. Throws CredentialError naming the first broken one.
 */
export async function checkSecuredFormat(header: CredentialHeader, credential: Record<string, unknown>, typ: string, chainId: number): Promise<SecuredFormat> {
  if (header.alg !== "ES256K") throw new CredentialError(`alg is ${String(header.alg)}, expected ES256K`);
  if (header.typ !== typ) throw new CredentialError(`typ is ${String(header.typ)}, expected ${typ}`);
  if (typeof header.kid !== "string") throw new CredentialError("the header has no kid (did:pkh:eip155:<chainId>:<address>#blockchainAccountId)");
  const kid = parseDidPkh(header.kid);
  if (kid.chainId !== chainId) throw new CredentialError(`kid names chain ${kid.chainId}, this consortium's chain is ${chainId}`);
  await checkCredential(credential);
  let statusEntry: ReturnType<typeof statusEntryOf>;
  try {
    statusEntry = statusEntryOf(credential);
  } catch (e) {
    throw new CredentialError(`credentialStatus: ${(e as Error).message}`);
  }
  const issuerId = issuerIdOf(credential);
  if (issuerId !== didPkh(kid.chainId, kid.address)) throw new CredentialError(`the credential's issuer ${issuerId} is not the signing account ${didPkh(kid.chainId, kid.address)}`);
  return { kidAddress: kid.address, statusEntry };
}

/** The signature check of a secured credential: made by the account its kid names. */
export function signatureCheck(decoded: DecodedCredential, kidAddress: string): Check {
  if (signedBy(decoded, kidAddress)) return { ok: true, detail: `signed by ${kidAddress}, the account its kid names` };
  return {
    ok: false,
    detail:
      decoded.signature.length !== 64
        ? `the signature has ${decoded.signature.length} bytes; an ES256K JWS signature is r||s, 64 bytes`
        : `the signature was not made by ${kidAddress} over this header and payload (the credential was altered, signed by another key, or its s is high)`,
  };
}

/**
 * Sets the verdict from the checks `names`: each failed one is a problem (or a warning, when
 * advisory); valid when every required check passed (subject only informs when not applicable).
 */
export function finishVerification<R extends { verdict: "valid" | "invalid"; problems: string[]; warnings: string[]; checks: Record<string, Check> }>(result: R, names: readonly string[]): R {
  for (const name of names) {
    const c = result.checks[name]!;
    if (c.ok !== false) continue;
    (ADVISORY_CHECKS.includes(name as CheckName) ? result.warnings : result.problems).push(`${name}: ${c.detail}`);
  }
  const required = names.filter((n) => !ADVISORY_CHECKS.includes(n as CheckName) && n !== "subject");
  result.verdict = result.problems.length === 0 && required.every((n) => result.checks[n]!.ok === true) ? "valid" : "invalid";
  return result;
}

/**
 * The checks against the chain, the same for a whole credential and a selective disclosure of
 * one: that certificate `id` is recorded in this consortium's Certificates (the one the status
 * entry names), that the signer is an account of its on-chain issuer, its status, the issuer's
 * accreditation at issuance (and now, advisory), its validity window at `nowMs`, and, when the
 * credential names a GS1 subject, that it is the certificate's subject.
 */
export async function checkOnChain(
  result: Pick<Verification, "checks" | "id" | "signer" | "certificate">,
  id: string,
  credential: Record<string, unknown>,
  statusEntry: ReturnType<typeof statusEntryOf>,
  contracts: TracemeshContracts,
  options: { chainId: number; nowMs?: number },
): Promise<void> {
  const { checks } = result;
  result.id = id;
  // onChain: in this consortium's Certificates contract, which the status entry (if any) must name
  if (statusEntry) {
    const here = getAddress(await contracts.certificates.getAddress());
    if (statusEntry.chainId !== options.chainId || statusEntry.certificates !== here) {
      checks.onChain = {
        ok: false,
        detail: `the credential's status is in Certificates ${statusEntry.certificates} on chain ${statusEntry.chainId}, not in this consortium's (${here} on chain ${options.chainId})`,
      };
      return;
    }
  }
  const cert = await certificateOnChain(contracts, id);
  if (!cert) {
    checks.onChain = { ok: false, detail: `no certificate ${id} is recorded in Certificates (hash of the JWS signing input)` };
    return;
  }
  result.certificate = cert;
  checks.onChain = { ok: true, detail: `recorded as certificate ${id}, issued ${cert.issuedAt} by ${cert.issuer.name ?? `organisation ${cert.issuer.id}`}` };

  // signerIsIssuer
  if (result.signer) {
    const [orgId, retired] = await contracts.consortium.accountRecord(result.signer);
    checks.signerIsIssuer =
      Number(orgId) === cert.issuer.id
        ? { ok: true, detail: `${result.signer} is a signing account of ${cert.issuer.name ?? cert.issuer.id}${retired ? " (retired since)" : ""}` }
        : {
            ok: false,
            detail: `${result.signer} is ${Number(orgId) === 0 ? "no organisation's account" : `an account of organisation ${orgId}`}, not of the issuer ${cert.issuer.name ?? cert.issuer.id}`,
          };
  } else {
    checks.signerIsIssuer = { ok: null, detail: "no verified signer" };
  }

  // status
  checks.status =
    cert.state === "valid"
      ? { ok: true, detail: "valid on chain" }
      : {
          ok: false,
          detail:
            cert.state === "revoked"
              ? `revoked on chain (${cert.reason}) at ${cert.revokedAt}`
              : cert.state === "superseded"
                ? `superseded on chain by ${cert.supersededBy}`
                : cert.state === "suspended"
                  ? `suspended on chain (${cert.reason}) since ${cert.suspendedAt}`
                  : `${cert.state} on chain`,
        };
  checks.issuerAccreditedAtIssuance = cert.accreditedAtIssuance
    ? { ok: true, detail: "the issuer was accredited for the certificate's scope when it issued it" }
    : { ok: false, detail: "the issuer was not accredited for the certificate's scope when it issued it" };
  checks.issuerAccreditedNow = cert.accreditedNow
    ? { ok: true, detail: "the issuer is accredited for this scope now" }
    : { ok: false, detail: "the issuer's accreditation for this scope was withdrawn or has lapsed since (or it is no longer an active member)" };

  // notExpired: the chain's window (in status) and the credential's own validFrom/validUntil
  const now = options.nowMs ?? Date.now();
  const vf = parseDateTimeStamp(credential.validFrom);
  const vu = parseDateTimeStamp(credential.validUntil);
  if (cert.state === "expired" || (vu !== undefined && now >= vu)) checks.notExpired = { ok: false, detail: `the validity ended at ${cert.state === "expired" ? cert.validUntil : credential.validUntil}` };
  else if (cert.state === "not-yet-valid" || (vf !== undefined && now < vf)) checks.notExpired = { ok: false, detail: `not valid before ${cert.state === "not-yet-valid" ? cert.validFrom : credential.validFrom}` };
  else checks.notExpired = { ok: true, detail: "within its validity window" };

  // subject: only when the credential names a GS1 item or batch
  const subjectId = (credential.credentialSubject as { id?: unknown }).id;
  if (typeof subjectId === "string" && (subjectId.startsWith("urn:epc:") || /^https?:\/\//.test(subjectId))) {
    let key: string | undefined;
    for (const f of [itemKey, batchKey]) {
      try {
        key = f(subjectId);
        break;
      } catch (e) {
        if (!(e instanceof IdentifierError)) throw e;
      }
    }
    checks.subject =
      key === undefined
        ? { ok: null, detail: `credentialSubject.id ${subjectId} is not a GS1 item or batch` }
        : key === cert.subject
          ? { ok: true, detail: `credentialSubject.id is the certificate's on-chain subject ${key}` }
          : { ok: false, detail: `credentialSubject.id has key ${key}, the certificate on chain is about ${cert.subject}` };
  } else {
    checks.subject = { ok: null, detail: "the credential names no GS1 subject id" };
  }
}
