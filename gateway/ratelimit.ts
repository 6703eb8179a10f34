/**
 * Rate limits (koa-ratelimit, memory driver): per organisation for callers with a valid token,
 * per address for anonymous ones (behind trusted proxies, the forwarded one); 429 answered as problem+json with Retry-After.
 *
 * The two have their own limits. A member organisation is known and answerable, and one
 * integration (an ERP syncing item histories, a line scanning every part) sends a steady stream:
 * by default 12,000 requests a minute (200 a second) per organisation. Anonymous callers are
 * unknown: 600 a minute per address.
 */
import type { Context } from "koa";
import ratelimit from "koa-ratelimit";
import type { GatewayState } from "./context.ts";
import { HttpProblem } from "./errors.ts";

/** The client a rate limit counts against: the token's organisation, else the caller's address (client-address.ts). */
export function clientId(ctx: Context): string {
  const state = ctx.state as GatewayState;
  return state.auth ? `org:${state.auth.orgId}` : `ip:${state.clientAddress ?? ctx.ip}`;
}

export interface RateLimit {
  max: number;
  durationMs: number;
}

/** Separate limits for callers with a token (per organisation) and anonymous callers (per address). */
export interface RateLimits {
  organisation: RateLimit;
  anonymous: RateLimit;
}

export const DEFAULT_RATE_LIMITS: RateLimits = {
  organisation: { max: 12_000, durationMs: 60_000 },
  anonymous: { max: 600, durationMs: 60_000 },
};

/** The limits as configured: one limit for both kinds of caller, or each its own (defaults for what is left out). */
export function rateLimitsOf(config: RateLimit | Partial<RateLimits>): RateLimits {
  const limits = "max" in config ? { organisation: config, anonymous: config } : { ...DEFAULT_RATE_LIMITS, ...config };
  for (const [who, l] of Object.entries(limits)) {
    if (!Number.isInteger(l.max) || l.max < 1) throw new RangeError(`rate limit for ${who} callers: max must be a whole number of requests, 1 or more, got ${l.max}`);
    if (!Number.isInteger(l.durationMs) || l.durationMs < 1000) throw new RangeError(`rate limit for ${who} callers: durationMs must be whole milliseconds, 1000 or more, got ${l.durationMs}`);
  }
  return limits;
}

/** The organisation limit for callers with a token, and the address limit for the others. */
export function rateLimiters(limits: RateLimits, what: string) {
  const organisations = rateLimiter(limits.organisation, what, (ctx) => (ctx.state as GatewayState).auth !== undefined);
  const anonymous = rateLimiter(limits.anonymous, what, (ctx) => (ctx.state as GatewayState).auth === undefined);
  return [organisations, anonymous];
}

/**
 * koa-ratelimit (memory driver) answering 429 as problem+json with Retry-After; with `applies`,
 * only the callers it picks are counted.
 */
export function rateLimiter(limit: RateLimit, what: string, applies: (ctx: Context) => boolean = () => true) {
  // onLimited exists in koa-ratelimit 6 but not in its DefinitelyTyped declarations.
  const config = {
    driver: "memory" as const,
    db: new Map(),
    duration: limit.durationMs,
    max: limit.max,
    id: (ctx: Context) => (applies(ctx) ? clientId(ctx) : false),
    onLimited: (ctx: Context) => {
      const after = Math.max(1, Number(ctx.response.get("Retry-After")) || 1);
      ctx.set("Retry-After", String(after));
      const p = new HttpProblem(429, `rate limit of ${limit.max} ${what} per ${limit.durationMs / 1000} s exceeded for ${clientId(ctx)}; retry in ${after} s`, {
        type: "rate-limited",
      });
      ctx.type = "application/problem+json";
      ctx.body = p.toJSON();
    },
  };
  return ratelimit(config);
}
