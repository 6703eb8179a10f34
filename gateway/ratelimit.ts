/**
 * Rate limits (koa-ratelimit, memory driver): per organisation for callers with a valid token,
 * per address for anonymous ones (behind trusted proxies, the forwarded one); 429 answered as problem+json with Retry-After.
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

/** koa-ratelimit (memory driver) answering 429 as problem+json with Retry-After. */
export function rateLimiter(limit: { max: number; durationMs: number }, what: string) {
  // onLimited exists in koa-ratelimit 6 but not in its DefinitelyTyped declarations.
  const config = {
    driver: "memory" as const,
    db: new Map(),
    duration: limit.durationMs,
    max: limit.max,
    id: clientId,
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
