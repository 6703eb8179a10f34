/**
 * Which Host a request may name (issue 12, finding 5). The gateway names its own host in sign-in
 * messages (the domain a wallet shows) and in links and redirects; taken from an unchecked Host
 * header, a phishing site proxying to the gateway got challenges for its own domain, and the
 * Digital Link resolver redirected to any host. A request's Host must be one of the configured
 * public hosts, or, on a gateway bound to loopback only, a loopback host; anything else is 400.
 */
import type { Middleware } from "koa";
import { TracemeshError } from "../lib/errors.ts";
import { badRequest } from "./errors.ts";

/** A host with an optional port, as a Host header or a configured public address names it. */
export interface HostName {
  hostname: string;
  port?: number;
}

const HOST_PATTERN = /^(\[[0-9a-f:.]+\]|[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*\.?)(?::(\d{1,5}))?$/;

/** `host[:port]` parsed, lower-cased; undefined when it is not one (spaces, userinfo, paths...). */
export function parseHost(text: string): HostName | undefined {
  const m = HOST_PATTERN.exec(text.trim().toLowerCase());
  if (!m) return undefined;
  const port = m[2] === undefined ? undefined : Number(m[2]);
  if (port !== undefined && (port === 0 || port > 65_535)) return undefined;
  return { hostname: m[1]!.replace(/\.$/, ""), ...(port === undefined ? {} : { port }) };
}

const LOOPBACK_NAMES = new Set(["localhost", "[::1]", "::1", "::ffff:127.0.0.1"]);

/** 127.0.0.0/8, ::1 and localhost: names that only this machine can reach. */
export function isLoopback(hostname: string): boolean {
  const h = hostname.toLowerCase();
  return LOOPBACK_NAMES.has(h) || /^127(?:\.\d{1,3}){3}$/.test(h);
}

/** The configured public address (`host[:port]` or an origin with scheme) as a HostName. */
export function publicHostName(publicHost: string): HostName {
  let host = publicHost;
  if (publicHost.includes("://")) {
    try {
      const url = new URL(publicHost);
      // An origin only: a path, query or credentials would be dropped silently.
      host = url.origin === publicHost.replace(/\/$/, "").toLowerCase() ? url.host : "";
    } catch {
      host = "";
    }
  }
  const parsed = parseHost(host);
  if (!parsed) throw new TracemeshError("invalid-config", `publicHost "${publicHost}" is not a host[:port] or an origin`);
  return parsed;
}

const sameHost = (a: HostName, b: HostName) => a.hostname === b.hostname && (a.port ?? 0) === (b.port ?? 0);

/**
 * Refuses requests whose Host is neither a configured public host nor, while `loopbackOnly()`
 * says the gateway listens on loopback only, a loopback host.
 */
export function hostGuard(publicHosts: readonly HostName[], loopbackOnly: () => boolean): Middleware {
  const named = publicHosts.map((h) => (h.port === undefined ? h.hostname : `${h.hostname}:${h.port}`));
  return async (ctx, next) => {
    const header = ctx.get("host");
    const host = header === "" ? undefined : parseHost(header);
    if (host === undefined) {
      throw badRequest(header === "" ? "the request has no Host header" : `the Host header "${header.slice(0, 100)}" is not a host[:port]`);
    }
    const allowed = publicHosts.some((h) => sameHost(h, host)) || (loopbackOnly() && isLoopback(host.hostname));
    if (!allowed) {
      throw badRequest(
        `this gateway does not answer for host "${header.slice(0, 100)}"; it answers for ${[...named, ...(loopbackOnly() ? ["loopback hosts"] : [])].join(", ") || "no host"} (configure publicHost)`,
      );
    }
    await next();
  };
}
