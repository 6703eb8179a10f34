/**
 * The gateway's bearer tokens: short-lived JWTs (HS256, jose) carrying the caller's account,
 * organisation and roles at sign-in. The secret is random per process unless configured (a member
 * keeps one in its data directory, so its tokens survive a restart). The organisation's standing is re-checked against the chain on use
 * (middleware.ts): a token never outlives a suspension by more than the membership cache.
 */
import { randomBytes } from "node:crypto";
import { SignJWT, errors as joseErrors, jwtVerify } from "jose";
import { TracemeshError } from "../../lib/errors.ts";

export const TOKEN_ISSUER = "tracemesh-gateway";

export interface TokenClaims {
  /** The signing account (checksummed address). */
  account: string;
  orgId: number;
  orgName: string;
  roles: string[];
}

export class TokenService {
  private readonly key: Uint8Array;

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
    return { account: sub, orgId: org, orgName, roles: roles.map(String) };
  }
}

export class TokenError extends TracemeshError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("invalid-token", message, options);
  }
}
