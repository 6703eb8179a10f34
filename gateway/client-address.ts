/**
 * The address a request comes from, for rate limits and sign-in caps (issue 12: per-IP buckets
 * were shared by everyone behind a proxy). The socket's peer, unless that peer is one of the
 * configured `trustedProxies`: then X-Forwarded-For is read from the right, past the trusted
 * proxies, to the first address they were handed. X-Forwarded-For from anyone else is ignored,
 * so a client cannot choose its own bucket.
 */
import { isIP } from "node:net";
import type { Context, Middleware } from "koa";
import { TracemeshError } from "../lib/errors.ts";

/** `::ffff:10.0.0.1` and `10.0.0.1` are one client. */
export function normaliseIp(ip: string): string {
  const lower = ip.trim().toLowerCase();
  return lower.startsWith("::ffff:") && isIP(lower.slice(7)) === 4 ? lower.slice(7) : lower;
}

/** The configured proxies, checked: each must be an IP address. */
export function trustedProxySet(proxies: readonly string[] = []): ReadonlySet<string> {
  for (const p of proxies) {
    if (isIP(p.trim()) === 0) throw new TracemeshError("invalid-config", `trustedProxies: "${p}" is not an IP address`);
  }
  return new Set(proxies.map(normaliseIp));
}

/** The client's address as the trusted proxies tell it, else the socket's peer. */
export function clientAddressOf(ctx: Pick<Context, "get" | "req">, trusted: ReadonlySet<string>): string {
  let client = normaliseIp(ctx.req.socket.remoteAddress ?? "unknown");
  if (!trusted.has(client)) return client;
  const hops = ctx
    .get("x-forwarded-for")
    .split(",")
    .map((h) => normaliseIp(h))
    .filter((h) => h !== "");
  for (let i = hops.length - 1; i >= 0; i--) {
    // A hop that is not an address is where the chain stops being trustworthy.
    if (isIP(hops[i]!) === 0) break;
    client = hops[i]!;
    if (!trusted.has(client)) break;
  }
  return client;
}

/** Sets `ctx.state.clientAddress` for everything after it. */
export function identifyClient(trusted: ReadonlySet<string>): Middleware<{ clientAddress?: string }> {
  return async (ctx, next) => {
    ctx.state.clientAddress = clientAddressOf(ctx, trusted);
    await next();
  };
}
