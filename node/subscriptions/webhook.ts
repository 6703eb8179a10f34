/**
 * Webhook delivery of subscription results: which destinations a subscription may name, and how a
 * result is signed and sent.
 *
 * Destinations (SSRF): a webhook makes this node send requests where a partner says, so only
 * http(s) URLs without credentials whose origin the operator allowed are accepted
 * (`allowedDestinations`: origins such as "https://erp.example.com", or "http://127.0.0.1:*" for
 * any port of a host). No origin is allowed by default. Redirects are not followed (a redirect is
 * a failed delivery), so an allowed host cannot bounce the node elsewhere. The host is checked by
 * name, not by the address it resolves to: allow only names the operator controls.
 *
 * Signature (GS1's `GS1-Signature` header, "HMAC with SHA-256 directly"): when the subscriber gave
 * a `signatureToken`, each delivery carries `GS1-Signature: sha256=<hex HMAC-SHA256(token, body)>`
 * over the exact body bytes, so the receiver checks the body came from this node unaltered.
 */
import { createHmac } from "node:crypto";
import { TracemeshError } from "../../lib/errors.ts";

export class DestinationError extends TracemeshError {
  constructor(message: string) {
    super("bad-request", message);
  }
}

/** Checks a webhook destination against the policy; answers the URL as parsed. */
export function checkDestination(dest: unknown, allowed: readonly string[]): URL {
  if (typeof dest !== "string" || dest.trim() === "") throw new DestinationError("dest must be the callback URL (http or https)");
  let url: URL;
  try {
    url = new URL(dest);
  } catch {
    throw new DestinationError(`dest "${dest}" is not a URL`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new DestinationError(`dest "${dest}": only http and https callbacks are delivered (got ${url.protocol.replace(/:$/, "")})`);
  if (url.username !== "" || url.password !== "") throw new DestinationError(`dest "${dest}": credentials in the URL are refused; use signatureToken to authenticate deliveries`);
  const port = url.port || (url.protocol === "https:" ? "443" : "80");
  const ok = allowed.some((a) => {
    const m = /^(https?):\/\/([^/:]+|\[[^\]]+\])(?::(\d+|\*))?\/?$/.exec(a.trim());
    if (!m) return false;
    const aPort = m[3] ?? (m[1] === "https" ? "443" : "80");
    return `${m[1]}:` === url.protocol && m[2]!.toLowerCase() === url.hostname.toLowerCase() && (aPort === "*" || aPort === port);
  });
  if (!ok)
    throw new DestinationError(
      allowed.length === 0
        ? `dest "${dest}": this node delivers webhooks to no destination (its operator allows none: subscriptions.allowedDestinations); use a WebSocket subscription instead`
        : `dest "${dest}": this node delivers webhooks only to ${allowed.join(", ")} (subscriptions.allowedDestinations)`,
    );
  return url;
}

/** The GS1-Signature header value of a body signed with a subscriber's token. */
export function signatureOf(token: string, body: string): string {
  return `sha256=${createHmac("sha256", token).update(body, "utf8").digest("hex")}`;
}

export interface DeliveryOutcome {
  ok: boolean;
  /** HTTP status the receiver answered, if it answered. */
  status?: number;
  error?: string;
}

/** POSTs one result to a webhook: ok on a 2xx answer, anything else (redirects too) fails. */
export async function postResult(dest: string, body: string, headers: Record<string, string>, timeoutMs: number): Promise<DeliveryOutcome> {
  try {
    const res = await fetch(dest, { method: "POST", body, headers: { "content-type": "application/ld+json", ...headers }, redirect: "manual", signal: AbortSignal.timeout(timeoutMs) });
    await res.body?.cancel();
    if (res.status >= 200 && res.status < 300) return { ok: true, status: res.status };
    return { ok: false, status: res.status, error: res.status >= 300 && res.status < 400 ? `the receiver redirected (${res.status}); redirects are not followed` : `the receiver answered ${res.status}` };
  } catch (e) {
    const cause = (e as { cause?: Error }).cause;
    return { ok: false, error: `${(e as Error).name === "TimeoutError" ? `no answer within ${timeoutMs} ms` : (e as Error).message}${cause ? `: ${cause.message}` : ""}` };
  }
}
