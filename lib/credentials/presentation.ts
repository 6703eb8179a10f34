/**
 * Verifiable Presentations secured with VC-JOSE: a holder (a supplier's on-chain account) presents
 * certificates to a verifier (a customer, an auditor) as a compact JWS, header
 * `{alg: "ES256K", typ: "vp+jwt", cty: "vp", kid: <holder did:pkh>#blockchainAccountId}`, payload a
 * VC 2.0 VerifiablePresentation whose `verifiableCredential` are EnvelopedVerifiableCredentials
 * (the certificates' own JWS, unchanged, so their on-chain ids stay the same), bound to the
 * verifier's challenge by the JWT claims `nonce` (the challenge) and `aud` (the verifier's
 * domain), with `iat`/`exp` bounding its life. A presentation replayed to another verifier, or
 * to the same one for another challenge, fails.
 */
import { type SigningKey, computeAddress } from "ethers";
import {
  type DecodedCredential,
  type Verification,
  CredentialError,
  decodeCredential,
  didPkh,
  envelope,
  jwsOfInput,
  kidOf,
  parseDidPkh,
  signCompactJws,
  signedBy,
  verifyCredential,
} from "../credentials.ts";
import type { TracemeshContracts } from "../deployment.ts";
import { VC_V2_CONTEXT, isUrl } from "./data-model.ts";
import { PRESENTATION_CHECK_NAMES, type PresentationCheckName } from "./check-names.ts";

export const VP_JWT_TYP = "vp+jwt";
export const VP_JWT_MEDIA_TYPE = "application/vp+jwt";
/** How long a presentation is good for, by default: the verifier's challenge is short-lived too. */
export const DEFAULT_PRESENTATION_SECONDS = 600;

export interface PresentationOptions {
  /** The verifier's challenge. */
  nonce: string;
  /** The verifier's domain (the audience). */
  domain: string;
  nowMs?: number;
  seconds?: number;
}

/** The holder `key` on chain `chainId` presents `credentials` (compact JWS) to a verifier. */
export function signPresentation(credentials: readonly string[], key: SigningKey, chainId: number | bigint, options: PresentationOptions): string {
  if (credentials.length === 0) throw new CredentialError("a presentation presents at least one credential");
  if (options.nonce === "" || options.domain === "") throw new CredentialError("a presentation is bound to the verifier's nonce and domain; both are required");
  const address = computeAddress(key.publicKey);
  const iat = Math.floor((options.nowMs ?? Date.now()) / 1000);
  const payload = {
    "@context": [VC_V2_CONTEXT],
    type: ["VerifiablePresentation"],
    holder: didPkh(chainId, address),
    verifiableCredential: credentials.map((jws) => envelope(decodeCredential(jws).jws)),
    nonce: options.nonce,
    aud: options.domain,
    iat,
    exp: iat + (options.seconds ?? DEFAULT_PRESENTATION_SECONDS),
  };
  return signCompactJws({ alg: "ES256K", typ: VP_JWT_TYP, cty: "vp", kid: kidOf(chainId, address) }, payload, key);
}

export { PRESENTATION_CHECK_NAMES, type PresentationCheckName };

export interface PresentationVerification {
  verdict: "valid" | "invalid";
  /** The holder's account, when the signature is its. */
  holder: string | null;
  checks: Record<PresentationCheckName, { ok: boolean | null; detail: string }>;
  problems: string[];
  /** Each presented credential's verification (lib/credentials.ts), in order. */
  credentials: Verification[];
}

/** The compact JWS of a presentation: the text, a data: URL, an EnvelopedVerifiablePresentation or `{ jwt }`. */
function presentationJws(input: unknown): string {
  const prefix = `data:${VP_JWT_MEDIA_TYPE},`;
  if (typeof input === "string") return input.trim().startsWith(prefix) ? input.trim().slice(prefix.length) : input.trim();
  if (typeof input === "object" && input !== null) {
    const o = input as Record<string, unknown>;
    if (typeof o.id === "string" && o.id.startsWith(prefix)) return o.id.slice(prefix.length);
    if (typeof o.jwt === "string") return o.jwt.trim();
  }
  throw new CredentialError(`expected a compact JWS presentation (${VP_JWT_TYP}), an EnvelopedVerifiablePresentation, or { jwt }`);
}

/**
 * Verifies a presentation for the verifier that issued `nonce` at `domain`: its form, the
 * holder's signature, the challenge and audience, its life, and every credential it presents
 * (each fully verified against the chain).
 */
export async function verifyPresentation(
  input: unknown,
  contracts: TracemeshContracts,
  options: { chainId: number; nonce: string; domain: string; nowMs?: number },
): Promise<PresentationVerification> {
  const checks = Object.fromEntries(PRESENTATION_CHECK_NAMES.map((n) => [n, { ok: null, detail: "not checked" }])) as PresentationVerification["checks"];
  const result: PresentationVerification = { verdict: "invalid", holder: null, checks, problems: [], credentials: [] };
  const finish = () => {
    result.problems = PRESENTATION_CHECK_NAMES.filter((n) => checks[n].ok === false).map((n) => `${n}: ${checks[n].detail}`);
    result.verdict = PRESENTATION_CHECK_NAMES.every((n) => checks[n].ok === true) ? "valid" : "invalid";
    return result;
  };

  let decoded: DecodedCredential;
  let holder: string;
  let presented: string[];
  try {
    decoded = decodeCredential(presentationJws(input));
    const { header, credential: vp } = decoded;
    if (header.alg !== "ES256K") throw new CredentialError(`alg is ${String(header.alg)}, expected ES256K`);
    if (header.typ !== VP_JWT_TYP) throw new CredentialError(`typ is ${String(header.typ)}, expected ${VP_JWT_TYP}`);
    if (typeof header.kid !== "string") throw new CredentialError("the header has no kid");
    const kid = parseDidPkh(header.kid);
    if (kid.chainId !== options.chainId) throw new CredentialError(`kid names chain ${kid.chainId}, this consortium's chain is ${options.chainId}`);
    const ctx = vp["@context"];
    if (!Array.isArray(ctx) || ctx[0] !== VC_V2_CONTEXT) throw new CredentialError(`@context must be an array starting with ${VC_V2_CONTEXT} (at /@context)`);
    const type = vp.type;
    if (!(Array.isArray(type) ? type.includes("VerifiablePresentation") : type === "VerifiablePresentation")) throw new CredentialError("type must include VerifiablePresentation (at /type)");
    if (!isUrl(vp.holder) || vp.holder !== didPkh(kid.chainId, kid.address)) throw new CredentialError(`holder must be the signing account ${didPkh(kid.chainId, kid.address)} (at /holder)`);
    const vcs = vp.verifiableCredential;
    if (!Array.isArray(vcs) || vcs.length === 0) throw new CredentialError("verifiableCredential must be a non-empty array (at /verifiableCredential)");
    presented = vcs.map((vc, i) => {
      try {
        return jwsOfInput(vc);
      } catch (e) {
        throw new CredentialError(`${(e as Error).message} (at /verifiableCredential/${i})`);
      }
    });
    holder = kid.address;
    checks.format = { ok: true, detail: `a VC 2.0 presentation secured as ${VP_JWT_TYP} (ES256K) by ${kid.address}, presenting ${presented.length} credential(s)` };
  } catch (e) {
    if (!(e instanceof CredentialError)) throw e;
    checks.format = { ok: false, detail: e.message };
    return finish();
  }
  const vp = decoded.credential;

  if (signedBy(decoded, holder)) {
    result.holder = holder;
    checks.signature = { ok: true, detail: `signed by the holder ${holder}` };
  } else checks.signature = { ok: false, detail: `not signed by ${holder}, the account its kid names` };

  checks.challenge =
    vp.nonce === options.nonce
      ? { ok: true, detail: "bound to this verifier's challenge" }
      : { ok: false, detail: `made for challenge ${JSON.stringify(vp.nonce)}, not this verifier's` };
  checks.domain =
    vp.aud === options.domain
      ? { ok: true, detail: `made for ${options.domain}` }
      : { ok: false, detail: `made for ${JSON.stringify(vp.aud)}, not ${options.domain}` };
  const now = Math.floor((options.nowMs ?? Date.now()) / 1000);
  const iat = vp.iat;
  const exp = vp.exp;
  checks.fresh =
    typeof iat !== "number" || typeof exp !== "number"
      ? { ok: false, detail: "iat and exp (seconds) are required" }
      : now < iat - 60
        ? { ok: false, detail: `issued in the future (${new Date(iat * 1000).toISOString()})` }
        : now >= exp
          ? { ok: false, detail: `expired at ${new Date(exp * 1000).toISOString()}` }
          : { ok: true, detail: `good until ${new Date(exp * 1000).toISOString()}` };

  result.credentials = await Promise.all(presented.map((jws) => verifyCredential(jws, contracts, { chainId: options.chainId, nowMs: options.nowMs })));
  const bad = result.credentials.map((v, i) => [v, i] as const).filter(([v]) => v.verdict !== "valid");
  checks.credentials =
    bad.length === 0
      ? { ok: true, detail: `all ${presented.length} credential(s) verified on chain` }
      : { ok: false, detail: bad.map(([v, i]) => `credential ${i}: ${v.problems.join("; ")}`).join(" | ") };
  return finish();
}
