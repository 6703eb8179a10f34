/**
 * Bearer-token middleware. `identify` (app-wide, before rate limiting) reads a valid token's
 * claims into `ctx.state.auth` without touching the chain, so limits can be per organisation;
 * `requireOrg(roles?)` (per route) refuses callers without a valid token (401) and those whose
 * organisation is not active now or lacks a role (403), asking the chain through the membership
 * cache.
 */
import type { Middleware } from "koa";
import type { Role } from "../../lib/consortium.ts";
import { forbidden, unauthorized } from "../errors.ts";
import { type MembershipCache, roleName } from "./membership.ts";
import { type TokenClaims, TokenError, type TokenService } from "./tokens.ts";

export interface AuthState {
  /** Claims of a valid token, if the request carried one. */
  auth?: TokenClaims;
  /** Why the token the request carried is not valid. */
  authError?: string;
  /** Set by requireOrg: the caller's organisation and its roles now. */
  caller?: { account: string; orgId: number; orgName: string; roles: Role[] };
}

export function bearerToken(header: string | undefined): string | undefined | null {
  if (!header) return undefined;
  const m = /^Bearer ([A-Za-z0-9_\-.~+/=]+)$/.exec(header.trim());
  return m ? m[1]! : null;
}

export function identify(tokens: TokenService): Middleware<AuthState> {
  return async (ctx, next) => {
    const token = bearerToken(ctx.get("authorization") || undefined);
    if (token === null) ctx.state.authError = "the Authorization header is not `Bearer <token>`";
    else if (token !== undefined) {
      try {
        ctx.state.auth = await tokens.verify(token);
      } catch (e) {
        if (!(e instanceof TokenError)) throw e;
        ctx.state.authError = e.message;
      }
    }
    await next();
  };
}

export function requireOrg(membership: MembershipCache, roles: readonly Role[] = []): Middleware<AuthState> {
  return async (ctx, next) => {
    const claims = ctx.state.auth;
    if (!claims) throw unauthorized(ctx.state.authError ?? "this route needs a token: sign in with /auth/challenge and /auth/token, then send Authorization: Bearer <token>");
    const now = await membership.activeOrgOf(claims.account);
    if (now.orgId === 0) {
      throw forbidden(`account ${claims.account} no longer signs for an active organisation (${claims.orgName} is suspended or removed, or the account was retired)`);
    }
    if (now.orgId !== claims.orgId) throw forbidden(`account ${claims.account} now signs for organisation ${now.orgId}, not ${claims.orgId}; sign in again`);
    if (roles.length > 0 && !roles.some((r) => now.roles.includes(r))) {
      throw forbidden(`${claims.orgName} holds none of the roles this route needs (${roles.map(roleName).join(" or ")})`);
    }
    ctx.state.caller = { account: claims.account, orgId: now.orgId, orgName: claims.orgName, roles: now.roles };
    await next();
  };
}
