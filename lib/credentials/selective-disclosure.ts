/**
 * Selective disclosure of certificates: SD-JWT (RFC 9901) securing a VC 2.0 credential as
 * VC-JOSE-COSE's `application/vc+sd-jwt`, the same data model and did:pkh/ES256K keys as our
 * `vc+jwt` certificates (SD-JWT VC's `dc+sd-jwt` would replace the VC 2.0 model with flat JWT
 * claims and a `vct`, so the data model checks, the status entry and the explorer could not be
 * shared). The SD-JWT mechanics (salted disclosures, digests, presentation frames) are
 * @sd-jwt/core's; the rules it leaves to the verifier (RFC 9901 section 7.1: every disclosure
 * referenced once, no claim overwritten, key binding) are checked here, each refusal naming its fault.
 *
 * Issuer-signed JWT: header `{typ: "vc+sd-jwt", cty: "vc", kid, alg: "ES256K"}`, payload the
 * credential with the chosen credentialSubject claims replaced by `_sd` digests, `_sd_alg:
 * "sha-256"`, and `cnf: {kid: <holder did:pkh>#blockchainAccountId}` (RFC 7800), the account that
 * must sign the key binding. Only claims under credentialSubject (not its id) can be made
 * disclosable: context, type, issuer, validity and status stay visible, since every verifier needs
 * them to check the certificate on chain.
 *
 * THE certificate id is keccak256 of the issuer-signed JWT's signing input (as for vc+jwt,
 * lib/credentials.ts): the disclosures and the key binding are outside it, so every presentation
 * of one certificate, whatever it discloses, has the same on-chain id, and its on-chain checks
 * are lib/credentials.ts `checkOnChain`, the same as for a whole credential.
 *
 * A presentation is `<issuer JWT>~<chosen disclosures>~<KB-JWT>`; the KB-JWT (`typ: kb+jwt`,
 * ES256K, signed by the holder account) carries the verifier's `nonce` and `aud` (its domain),
 * `iat`, and `sd_hash` over everything before it, so a presentation replayed for another
 * challenge, or with a disclosure added, removed or altered, fails.
 */
import { SDJwt, SDJwtInstance } from "@sd-jwt/core";
import { type SigningKey, computeAddress, getBytes, sha256, toUtf8Bytes } from "ethers";
import {
  type Check,
  type CheckName,
  CredentialError,
  type DecodedCredential,
  type Verification,
  checkCredential,
  checkOnChain,
  checkSecuredFormat,
  credentialHash,
  decodeCredential,
  finishVerification,
  kidOf,
  parseDidPkh,
  payloadOf,
  signatureCheck,
  signedBy,
} from "../credentials.ts";
import type { TracemeshContracts } from "../deployment.ts";
import { DISCLOSURE_CHECK_NAMES, type DisclosureCheckName, SELECTIVE_CHECK_NAMES } from "./check-names.ts";

export const VC_SD_JWT_TYP = "vc+sd-jwt";
export const VC_SD_JWT_MEDIA_TYPE = "application/vc+sd-jwt";
export const KB_JWT_TYP = "kb+jwt";
const SD_ALG = "sha-256";
/** How old a key binding may be: the verifier's challenge is short-lived. */
export const KEY_BINDING_MAX_AGE_SECONDS = 600;

// ------------------------------------------------------------------------------ SD-JWT plumbing

const b64u = (bytes: Uint8Array) => Buffer.from(bytes).toString("base64url");

/** SHA-256, the only `_sd_alg` we issue and accept (ethers: the same in Node and the browser). */
function hasher(data: string | ArrayBuffer, alg: string): Uint8Array {
  if (alg !== SD_ALG) throw new CredentialError(`_sd_alg is ${alg}, expected ${SD_ALG}`);
  return getBytes(sha256(typeof data === "string" ? toUtf8Bytes(data) : new Uint8Array(data)));
}

/** An ES256K JOSE signature (r || s, low s) of `data` by `key`, as lib/credentials.ts signs. */
function es256kSigner(key: SigningKey): (data: string) => string {
  return (data) => {
    const sig = key.sign(sha256(toUtf8Bytes(data)));
    return b64u(Buffer.concat([getBytes(sig.r), getBytes(sig.s)]));
  };
}

function saltGenerator(length: number): string {
  return b64u(crypto.getRandomValues(new Uint8Array(length)));
}

const sdjwt = (key?: SigningKey) =>
  new SDJwtInstance({
    hasher,
    hashAlg: SD_ALG,
    saltGenerator,
    ...(key ? { signer: es256kSigner(key), signAlg: "ES256K", kbSigner: es256kSigner(key), kbSignAlg: "ES256K" } : {}),
  });

/** A dotted claim path ("credentialSubject.chemistry.C") as its segments, refused when malformed. */
function segmentsOf(path: string): string[] {
  const segments = path.split(".");
  if (segments.length < 2 || segments[0] !== "credentialSubject" || segments.some((s) => s === "")) {
    throw new CredentialError(`"${path}" is not a claim path under credentialSubject (like credentialSubject.grade)`);
  }
  return segments;
}

/** The @sd-jwt/core frame (`{credentialSubject: {_sd: [..], chemistry: {_sd: [..]}}}`) of `paths`. */
function disclosureFrame(payload: Record<string, unknown>, paths: readonly string[]): Record<string, unknown> {
  const frame: Record<string, unknown> = {};
  for (const path of paths) {
    const segments = segmentsOf(path);
    const name = segments.at(-1)!;
    if (segments.length === 2 && name === "id") throw new CredentialError("credentialSubject.id stays visible: the on-chain subject is checked against it");
    if (name.startsWith("@") || name === "_sd" || name === "...") throw new CredentialError(`"${path}": ${name} cannot be made disclosable`);
    let value: unknown = payload;
    let node = frame;
    for (const [i, s] of segments.entries()) {
      if (typeof value !== "object" || value === null || Array.isArray(value) || !(s in value)) throw new CredentialError(`"${path}": the credential has no claim ${segments.slice(0, i + 1).join(".")}`);
      value = (value as Record<string, unknown>)[s];
      if (i < segments.length - 1) node = (node[s] ??= {}) as Record<string, unknown>;
    }
    const sd = ((node._sd as string[] | undefined) ??= []);
    if (!sd.includes(name)) sd.push(name);
  }
  return frame;
}

/** The @sd-jwt/core presentation frame (`{credentialSubject: {grade: true}}`) of `paths`. */
function presentationFrame(paths: readonly string[]): Record<string, unknown> {
  const frame: Record<string, unknown> = {};
  for (const path of paths) {
    const segments = segmentsOf(path);
    let node = frame;
    for (const s of segments.slice(0, -1)) node = (node[s] = typeof node[s] === "object" ? node[s] : {}) as Record<string, unknown>;
    node[segments.at(-1)!] = true;
  }
  return frame;
}

// ------------------------------------------------------------------------------------- issue

export interface SelectiveIssueOptions {
  /** The Certificates contract the certificate will be recorded in (the status entry). */
  certificates: string;
  /** The holder's account: only it can present the credential (key binding). */
  holder: string;
  /** Claim paths under credentialSubject that the holder may disclose or withhold. */
  disclosable: readonly string[];
}

/**
 * Issues `credential` as an SD-JWT (`vc+sd-jwt`) signed by the issuer's account `key`: every data
 * model rule is checked on the whole credential first, then the `disclosable` claims are replaced
 * by digests. Returns `<issuer JWT>~<every disclosure>~`, which the issuer hands to the holder;
 * its certificate id is `selectiveCredentialId` of it.
 */
export async function issueSelectiveCredential(credential: Record<string, unknown>, key: SigningKey, chainId: number | bigint, options: SelectiveIssueOptions): Promise<string> {
  if (options.disclosable.length === 0) throw new CredentialError("name at least one disclosable claim; a credential without any is a vc+jwt");
  const issuer = computeAddress(key.publicKey);
  const payload = payloadOf(credential, issuer, chainId, { certificates: options.certificates });
  await checkCredential(payload);
  const frame = disclosureFrame(payload, options.disclosable);
  return sdjwt(key).issue({ ...payload, cnf: { kid: kidOf(chainId, options.holder) } }, frame, {
    header: { typ: VC_SD_JWT_TYP, cty: "vc", kid: kidOf(chainId, issuer) },
  });
}

/** The certificate id of an SD-JWT credential or presentation: the same for every disclosure. */
export function selectiveCredentialId(sdJwt: string): string {
  return credentialHash(decodeCredential(sdJwt.trim().split("~")[0]!));
}

// ----------------------------------------------------------------------------------- present

export interface SelectivePresentOptions {
  /** Claim paths to disclose (credentialSubject.grade, ...); every other disclosable claim stays hidden. */
  disclose: readonly string[];
  /** The verifier's challenge. */
  nonce: string;
  /** The verifier's domain (the KB-JWT's aud). */
  domain: string;
  nowMs?: number;
}

/** The holder `key` presents the chosen claims of an SD-JWT credential, bound to the verifier's nonce and domain. */
export async function presentSelectiveCredential(sdJwt: string, key: SigningKey, options: SelectivePresentOptions): Promise<string> {
  if (options.nonce === "" || options.domain === "") throw new CredentialError("a presentation is bound to the verifier's nonce and domain; both are required");
  const text = sdJwt.trim();
  const decoded = await SDJwt.fromEncode(text, hasher);
  const cnf = (decoded.jwt?.payload?.cnf as { kid?: unknown } | undefined)?.kid;
  if (typeof cnf !== "string") throw new CredentialError("this credential names no holder (cnf.kid) and cannot be presented with key binding");
  const holder = parseDidPkh(cnf).address;
  const me = computeAddress(key.publicKey);
  if (me !== holder) throw new CredentialError(`this credential is bound to the holder ${holder}; you sign as ${me}`);
  const presentable = await decoded.presentableKeys(hasher);
  const unknown = options.disclose.filter((p) => !presentable.includes(p));
  if (unknown.length > 0) throw new CredentialError(`not disclosable in this credential: ${unknown.join(", ")} (disclosable: ${presentable.join(", ")})`);
  return sdjwt(key).present(text, presentationFrame(options.disclose) as Parameters<SDJwtInstance<Record<string, unknown>>["present"]>[1], {
    kb: { payload: { iat: Math.floor((options.nowMs ?? Date.now()) / 1000), aud: options.domain, nonce: options.nonce } },
  });
}

// ------------------------------------------------------------------------------------ verify

export { DISCLOSURE_CHECK_NAMES, type DisclosureCheckName, SELECTIVE_CHECK_NAMES };

export interface DisclosedClaim {
  /** Dotted path, e.g. credentialSubject.grade. */
  path: string;
  value: unknown;
}

export interface SelectiveVerification extends Omit<Verification, "checks"> {
  kind: "selective-disclosure";
  checks: Record<CheckName | DisclosureCheckName, Check>;
  /** The holder account the credential is bound to (cnf), when the format is right. */
  holder: string | null;
  /** The claims the holder chose to show, as the issuer signed them. */
  disclosed: DisclosedClaim[];
  /** Where claims stay hidden, and how many (their names are hidden too). */
  hidden: { path: string; count: number }[];
}

/** The SD-JWT text of `input` (the text, a data: URL, an EnvelopedVerifiableCredential or `{ credential | jwt }`), or undefined when it is not one. */
export function sdJwtOfInput(input: unknown): string | undefined {
  const prefix = `data:${VC_SD_JWT_MEDIA_TYPE},`;
  let text: unknown = input;
  if (typeof input === "object" && input !== null && !Array.isArray(input)) {
    const o = input as Record<string, unknown>;
    text = [o.id, o.credential, o.jwt, o.presentation].find((v) => typeof v === "string");
  }
  if (typeof text !== "string") return undefined;
  const t = text.trim().startsWith(prefix) ? text.trim().slice(prefix.length) : text.trim();
  return t.includes("~") ? t : undefined;
}

interface Walk {
  used: Set<string>;
  disclosed: DisclosedClaim[];
  hidden: Map<string, number>;
  problems: string[];
}

type Disclosure = NonNullable<SDJwt["disclosures"]>[number];

/**
 * RFC 9901 section 7.1 over the issuer-signed payload: each digest in `_sd` (or `...` in arrays)
 * whose disclosure was presented is replaced by it (once: a digest twice is refused), a disclosed
 * name must not already be in its object, and the digests left count as hidden claims.
 */
function walk(value: unknown, path: string, byDigest: Map<string, Disclosure>, w: Walk): void {
  if (Array.isArray(value)) {
    value.forEach((item, i) => {
      const digest = typeof item === "object" && item !== null && !Array.isArray(item) && Object.keys(item).length === 1 ? (item as Record<string, unknown>)["..."] : undefined;
      if (typeof digest !== "string") return walk(item, `${path}.${i}`, byDigest, w);
      const d = byDigest.get(digest);
      if (!d) return void w.hidden.set(path, (w.hidden.get(path) ?? 0) + 1);
      if (w.used.has(digest)) return void w.problems.push(`digest ${digest} is referenced twice`);
      w.used.add(digest);
      if (d.key !== undefined) return void w.problems.push(`disclosure of "${d.key}" is an object property's, but digest ${digest} is an array element's (at ${path}.${i})`);
      w.disclosed.push({ path: `${path}.${i}`, value: d.value });
      walk(d.value, `${path}.${i}`, byDigest, w);
    });
    return;
  }
  if (typeof value !== "object" || value === null) return;
  const o = value as Record<string, unknown>;
  for (const [k, v] of Object.entries(o)) if (k !== "_sd") walk(v, path ? `${path}.${k}` : k, byDigest, w);
  if (o._sd === undefined) return;
  if (!Array.isArray(o._sd) || o._sd.some((d) => typeof d !== "string")) return void w.problems.push(`_sd at ${path || "/"} is not an array of digests`);
  for (const digest of o._sd as string[]) {
    const d = byDigest.get(digest);
    if (!d) {
      w.hidden.set(path, (w.hidden.get(path) ?? 0) + 1);
      continue;
    }
    if (w.used.has(digest)) {
      w.problems.push(`digest ${digest} is referenced twice`);
      continue;
    }
    w.used.add(digest);
    const at = path ? `${path}.${d.key}` : String(d.key);
    if (d.key === undefined) w.problems.push(`disclosure ${digest} is an array element's, but it is referenced as an object property (at ${path})`);
    else if (d.key === "_sd" || d.key === "...") w.problems.push(`disclosure ${digest} names the reserved claim ${d.key}`);
    else if (d.key in o) w.problems.push(`disclosure ${digest} would overwrite the claim ${at}, which the issuer signed in clear`);
    else {
      w.disclosed.push({ path: at, value: d.value });
      walk(d.value, at, byDigest, w);
    }
  }
}

/**
 * Verifies a selective disclosure for the verifier that issued `nonce` at `domain`: the
 * issuer-signed JWT's form (every data model rule on what it discloses) and signature, that every
 * disclosure is one of this credential's (a tampered or foreign disclosure has an unknown digest),
 * the holder's key binding (signature by the cnf account, nonce, audience, age, sd_hash), and then
 * the same on-chain checks as a whole credential (lib/credentials.ts checkOnChain).
 */
export async function verifySelectiveDisclosure(
  input: unknown,
  contracts: TracemeshContracts,
  options: { chainId: number; nonce: string; domain: string; nowMs?: number },
): Promise<SelectiveVerification> {
  const checks = Object.fromEntries(SELECTIVE_CHECK_NAMES.map((n) => [n, { ok: null, detail: "not checked" }])) as SelectiveVerification["checks"];
  const result: SelectiveVerification = {
    kind: "selective-disclosure",
    verdict: "invalid",
    id: null,
    signer: null,
    holder: null,
    checks,
    problems: [],
    warnings: [],
    certificate: null,
    credential: null,
    header: null,
    disclosed: [],
    hidden: [],
  };
  const finish = () => finishVerification(result, SELECTIVE_CHECK_NAMES);

  // format: the issuer-signed JWT, and what it discloses, as a VC 2.0 credential
  const text = sdJwtOfInput(input);
  let issuerJwt: DecodedCredential;
  let parsed: SDJwt;
  let format: Awaited<ReturnType<typeof checkSecuredFormat>>;
  try {
    if (text === undefined) throw new CredentialError(`expected an SD-JWT presentation (${VC_SD_JWT_TYP}): <issuer JWT>~<disclosures>~<key binding JWT>`);
    const parts = text.split("~");
    issuerJwt = decodeCredential(parts[0]!);
    result.header = issuerJwt.header;
    if (issuerJwt.credential._sd_alg !== SD_ALG) throw new CredentialError(`_sd_alg is ${JSON.stringify(issuerJwt.credential._sd_alg)}, expected ${SD_ALG}`);
    parts.slice(1, -1).forEach((d, i) => {
      let ok = false;
      try {
        const arr = JSON.parse(Buffer.from(d, "base64url").toString("utf8")) as unknown;
        ok = /^[A-Za-z0-9_-]+$/.test(d) && Array.isArray(arr) && (arr.length === 2 || arr.length === 3) && typeof arr[0] === "string" && (arr.length === 2 || typeof arr[1] === "string");
      } catch {
        ok = false;
      }
      if (!ok) throw new CredentialError(`disclosure ${i + 1} is not a base64url JSON array [salt, name, value] or [salt, value]`);
    });
    parsed = await SDJwt.fromEncode(text, hasher);
    const claims = (await parsed.getClaims(hasher)) as Record<string, unknown>;
    const { cnf, ...credential } = claims;
    result.credential = credential;
    const kid = (cnf as { kid?: unknown } | undefined)?.kid;
    if (typeof kid !== "string") throw new CredentialError("cnf.kid (the holder's did:pkh) is required: a selective disclosure is bound to its holder");
    result.holder = parseDidPkh(kid).address;
    format = await checkSecuredFormat(issuerJwt.header, credential, VC_SD_JWT_TYP, options.chainId);
    checks.format = { ok: true, detail: `a VC 2.0 credential secured as ${VC_SD_JWT_TYP} (ES256K), bound to holder ${result.holder}` };
  } catch (e) {
    if (!(e instanceof CredentialError)) throw e;
    checks.format = { ok: false, detail: e.message };
    return finish();
  }

  checks.signature = signatureCheck(issuerJwt, format.kidAddress);
  if (checks.signature.ok) result.signer = format.kidAddress;

  // disclosures: each presented one referenced by exactly one digest the issuer signed
  const byDigest = new Map<string, Disclosure>();
  const w: Walk = { used: new Set(), disclosed: [], hidden: new Map(), problems: [] };
  for (const [i, d] of (parsed.disclosures ?? []).entries()) {
    const digest = d.digestSync({ hasher, alg: SD_ALG });
    if (byDigest.has(digest)) w.problems.push(`disclosure ${i + 1} is presented twice`);
    byDigest.set(digest, d);
  }
  const { _sd_alg: _alg, ...signedPayload } = issuerJwt.credential;
  walk(signedPayload, "", byDigest, w);
  for (const [digest, d] of byDigest) {
    if (!w.used.has(digest)) {
      w.problems.push(`unknown digest: the disclosure of ${d.key === undefined ? "an array element" : `"${d.key}"`} (digest ${digest}) is not one of this credential's (tampered, or from another credential)`);
    }
  }
  // Sorted: the issuer shuffles digests so that their order reveals nothing; show claims by name.
  result.disclosed = w.disclosed.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  result.hidden = [...w.hidden].map(([path, count]) => ({ path, count }));
  checks.disclosures =
    w.problems.length === 0
      ? { ok: true, detail: `${w.disclosed.length} claim(s) disclosed, ${[...w.hidden.values()].reduce((a, b) => a + b, 0)} hidden` }
      : { ok: false, detail: w.problems.join("; ") };

  checks.keyBinding = keyBindingCheck(text!, result.holder!, options);

  await checkOnChain(result, credentialHash(issuerJwt), result.credential!, format.statusEntry, contracts, options);
  return finish();
}

/** The KB-JWT: signed by the holder account, for this nonce and audience, recent, over exactly what was presented. */
function keyBindingCheck(text: string, holder: string, options: { nonce: string; domain: string; nowMs?: number }): Check {
  const cut = text.lastIndexOf("~");
  const kbText = text.slice(cut + 1);
  if (kbText === "") return { ok: false, detail: "no key binding JWT: a selective disclosure must be signed by its holder for this verifier's nonce and domain" };
  let kb: DecodedCredential;
  try {
    kb = decodeCredential(kbText);
  } catch (e) {
    if (!(e instanceof CredentialError)) throw e;
    return { ok: false, detail: `the key binding JWT is malformed: ${e.message}` };
  }
  if (kb.header.typ !== KB_JWT_TYP || kb.header.alg !== "ES256K") return { ok: false, detail: `the key binding JWT's header must be typ ${KB_JWT_TYP}, alg ES256K` };
  if (!signedBy(kb, holder)) return { ok: false, detail: `the key binding JWT is not signed by the holder ${holder} (cnf)` };
  const { nonce, aud, iat, sd_hash: sdHash } = kb.credential;
  if (nonce !== options.nonce) return { ok: false, detail: `wrong nonce: made for challenge ${JSON.stringify(nonce)}, not this verifier's` };
  if (aud !== options.domain) return { ok: false, detail: `wrong audience: made for ${JSON.stringify(aud)}, not ${options.domain}` };
  const now = Math.floor((options.nowMs ?? Date.now()) / 1000);
  if (typeof iat !== "number") return { ok: false, detail: "the key binding JWT has no iat" };
  if (iat > now + 60) return { ok: false, detail: `the key binding JWT is issued in the future (${new Date(iat * 1000).toISOString()})` };
  if (now - iat > KEY_BINDING_MAX_AGE_SECONDS) return { ok: false, detail: `the key binding JWT is stale: made ${now - iat} s ago, at most ${KEY_BINDING_MAX_AGE_SECONDS} s accepted` };
  const expected = b64u(hasher(text.slice(0, cut + 1), SD_ALG));
  if (sdHash !== expected) return { ok: false, detail: "sd_hash does not match: disclosures were added, removed or altered after the holder signed" };
  return { ok: true, detail: `signed by the holder ${holder} for this challenge and ${options.domain}` };
}

