/**
 * The gateway's bearer tokens: short-lived JWTs (HS256, jose) carrying the caller's account,
 * organisation and roles at sign-in. The secret is random per process unless configured (a member
 * keeps one in its data directory, so its tokens survive a restart). The organisation's standing is re-checked against the chain on use
 * (middleware.ts): a token never outlives a suspension by more than the membership cache.
 *
 * A token whose signature has been checked is remembered until it expires: an integration sends
 * the same token with every request, and the signature of the same string under the same secret
 * never changes its answer, so it is checked once (the expiry still on every use).
 */
import { randomBytes } from "node:crypto";
import { SignJWT, errors as joseErrors, jwtVerify } from "jose";
import { LRUCache } from "lru-cache";
import { TracemeshError } from "../../lib/errors.ts";

export const TOKEN_ISSUER = "tracemesh-gateway";

export interface TokenClaims {
  /** The signing account (checksummed address). */
  account: string;
  orgId: number;
  orgName: string;
  roles: string[];
}

/** Tokens remembered as verified, at most (the least recently used are checked again). */
const VERIFIED_TOKENS = 10_000;

export class TokenService {
  private readonly key: Uint8Array;
  /** Verified tokens: their claims and expiry (seconds). */
  private readonly verified = new LRUCache<string, { claims: TokenClaims; exp: number }>({ max: VERIFIED_TOKENS });

  constructor(
    secret: Uint8Array | string | undefined,
    readonly ttlSeconds: number,
    private readonly clock: () => number,
  ) {
    this.key = secret === undefined ? randomBytes(32) : typeof secret === "string" ? new TextEncoder().encode(secret) : secret;
    if (this.key.length < 32) throw new Error("the token secret must have at least 32 bytes");
  }

  async issue(claims: TokenClaims): Promise<{ token: string; expiresAt: Date }> {
    const now = Math.floor(this.clock() / 1000);
    const exp = now + this.ttlSeconds;
    const token = await new SignJWT({ org: claims.orgId, orgName: claims.orgName, roles: claims.roles })
      .setProtectedHeader({ alg: "HS256", typ: "JWT" })
      .setSubject(claims.account)
      .setIssuer(TOKEN_ISSUER)
      .setIssuedAt(now)
      .setExpirationTime(exp)
      .sign(this.key);
    return { token, expiresAt: new Date(exp * 1000) };
  }

  /** The claims of a valid token; throws TokenError saying why it is not. */
  async verify(token: string): Promise<TokenClaims> {
    const known = this.verified.get(token);
    if (known !== undefined) {
      // As jose decides: expired once the clock's whole second reaches exp.
      if (Math.floor(this.clock() / 1000) >= known.exp) {
        this.verified.delete(token);
        throw new TokenError("the token has expired; sign in again");
      }
      return { ...known.claims, roles: [...known.claims.roles] };
    }
    let payload;
    try {
      ({ payload } = await jwtVerify(token, this.key, {
        algorithms: ["HS256"],
        issuer: TOKEN_ISSUER,
        currentDate: new Date(this.clock()),
        clockTolerance: 0,
      }));
    } catch (e) {
      if (e instanceof joseErrors.JWTExpired) throw new TokenError("the token has expired; sign in again");
      if (e instanceof joseErrors.JWSSignatureVerificationFailed) throw new TokenError("the token's signature is not this gateway's");
      if (e instanceof joseErrors.JWTClaimValidationFailed) throw new TokenError(`the token's ${e.claim} claim is not valid`);
      throw new TokenError("the token is malformed");
    }
    const { sub, org, orgName, roles } = payload as { sub?: unknown; org?: unknown; orgName?: unknown; roles?: unknown };
    if (typeof sub !== "string" || typeof org !== "number" || typeof orgName !== "string" || !Array.isArray(roles)) {
      throw new TokenError("the token lacks the account or organisation claims");
    }
    const claims = { account: sub, orgId: org, orgName, roles: roles.map(String) };
    if (typeof payload.exp === "number") this.verified.set(token, { claims: { ...claims, roles: [...claims.roles] }, exp: payload.exp });
    return claims;
  }
}

export class TokenError extends TracemeshError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("invalid-token", message, options);
  }
}
