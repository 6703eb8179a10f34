/**
 * RFC 9457 problem details: every error the gateway answers is `application/problem+json`
 * `{type, title, status, detail, ...}`, with a `detail` that names what was wrong.
 */
import { STATUS_CODES } from "node:http";

export const PROBLEM_TYPE_BASE = "https://tracemesh.dev/problems/";

export class HttpProblem extends Error {
  readonly status: number;
  readonly title: string;
  readonly type: string;
  readonly headers: Record<string, string>;
  readonly extra: Record<string, unknown>;

  constructor(
    status: number,
    detail: string,
    options: { type?: string; title?: string; headers?: Record<string, string>; extra?: Record<string, unknown> } = {},
  ) {
    super(detail);
    this.name = "HttpProblem";
    this.status = status;
    this.title = options.title ?? STATUS_CODES[status] ?? "Error";
    this.type = options.type ? PROBLEM_TYPE_BASE + options.type : "about:blank";
    this.headers = options.headers ?? {};
    this.extra = options.extra ?? {};
  }

  get detail(): string {
    return this.message;
  }

  toJSON(): Record<string, unknown> {
    return { type: this.type, title: this.title, status: this.status, detail: this.message, ...this.extra };
  }
}

export const badRequest = (detail: string, extra?: Record<string, unknown>) =>
  new HttpProblem(400, detail, { type: "bad-request", extra });
export const unauthorized = (detail: string) =>
  new HttpProblem(401, detail, { type: "unauthorized", headers: { "WWW-Authenticate": 'Bearer realm="tracemesh"' } });
export const forbidden = (detail: string) => new HttpProblem(403, detail, { type: "forbidden" });
export const notFound = (detail: string) => new HttpProblem(404, detail, { type: "not-found" });

/** A required optional service slot (see services.ts) that this node does not provide. */
export function requireService<T>(service: T | undefined, name: string): T {
  if (service === undefined) {
    throw new HttpProblem(503, `this gateway's node does not provide the ${name} service`, { type: "service-unavailable" });
  }
  return service;
}

/** Error codes of ethers and Node meaning the chain node could not be reached or did not answer. */
const CHAIN_DOWN = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EHOSTUNREACH", "ENOTFOUND", "NETWORK_ERROR", "SERVER_ERROR", "TIMEOUT"]);

/**
 * Turns anything thrown into a problem: HttpProblem as is, Koa/http-errors by their status, an
 * unreachable chain as 503, anything else as 500 (`internal`: to be logged, never shown).
 */
export function toProblem(err: unknown): { problem: HttpProblem; internal: boolean } {
  if (err instanceof HttpProblem) return { problem: err, internal: false };
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === "string" && CHAIN_DOWN.has(code)) {
    return { problem: new HttpProblem(503, `the node's chain did not answer (${code}); try again shortly`, { type: "chain-unavailable", headers: { "Retry-After": "5" } }), internal: false };
  }
  const e = err as { status?: unknown; statusCode?: unknown; expose?: unknown; message?: unknown; headers?: unknown };
  const status = typeof e?.status === "number" ? e.status : typeof e?.statusCode === "number" ? e.statusCode : 500;
  if (status >= 400 && status < 500) {
    const headers = e.headers && typeof e.headers === "object" ? (e.headers as Record<string, string>) : {};
    const message = typeof e.message === "string" && e.expose !== false ? e.message : STATUS_CODES[status] ?? "Client error";
    return { problem: new HttpProblem(status, message, { headers }), internal: false };
  }
  return { problem: new HttpProblem(500, "internal error; the gateway logged it", { type: "internal" }), internal: true };
}
