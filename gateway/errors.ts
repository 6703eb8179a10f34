/**
 * RFC 9457 problem details: every error the gateway answers is `application/problem+json`
 * `{type, title, status, detail, ...}`, with a `detail` that names what was wrong. Statuses and
 * problem types come from the one error catalogue (lib/errors.ts): a TracemeshError thrown
 * anywhere below a route answers with its code's status, so routes need no `instanceof` chains.
 */
import { STATUS_CODES } from "node:http";
import { ERROR_CATALOGUE, type ErrorCode, TracemeshError, codeOfStatus } from "../lib/errors.ts";

export const PROBLEM_TYPE_BASE = "https://tracemesh.dev/problems/";

/** How long a client should wait before retrying a 503 (the chain or index catching up). */
const RETRY_AFTER_SECONDS = "5";

/** An error already shaped for HTTP: its status may differ from its code's (e.g. 415 for a media type). */
export class HttpProblem extends TracemeshError {
  readonly status: number;
  readonly title: string;
  readonly type: string;
  readonly headers: Record<string, string>;
  readonly extra: Record<string, unknown>;

  constructor(
    status: number,
    detail: string,
    options: { type?: ErrorCode; title?: string; headers?: Record<string, string>; extra?: Record<string, unknown> } = {},
  ) {
    const code = options.type ?? codeOfStatus(status);
    super(code, detail);
    this.status = status;
    this.title = options.title ?? (options.type ? ERROR_CATALOGUE[code].title : (STATUS_CODES[status] ?? "Error"));
    this.type = PROBLEM_TYPE_BASE + code;
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

/** The problem a TracemeshError answers with, by the catalogue. */
export function problemOf(err: TracemeshError): HttpProblem {
  if (err instanceof HttpProblem) return err;
  const { status } = err.spec;
  const headers: Record<string, string> = status === 503 ? { "Retry-After": RETRY_AFTER_SECONDS } : {};
  const extra = "errors" in err && Array.isArray(err.errors) ? { errors: err.errors } : undefined;
  return new HttpProblem(status, err.message, { type: err.code, headers, ...(extra ? { extra } : {}) });
}

/**
 * Turns anything thrown into a problem: a TracemeshError by its code (lib/errors.ts), Koa/http-errors
 * by their status, an unreachable chain as 503, anything else as 500 (`internal`: to be logged,
 * never shown).
 */
export function toProblem(err: unknown): { problem: HttpProblem; internal: boolean } {
  if (err instanceof TracemeshError && err.code !== "internal") return { problem: problemOf(err), internal: false };
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === "string" && CHAIN_DOWN.has(code)) {
    return { problem: new HttpProblem(503, `the node's chain did not answer (${code}); try again shortly`, { type: "chain-unavailable", headers: { "Retry-After": RETRY_AFTER_SECONDS } }), internal: false };
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
