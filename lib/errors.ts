/**
 * The one error model of Tracemesh: every error a component raises on purpose is a TracemeshError
 * with a stable code from ERROR_CATALOGUE. The catalogue is the single table from a code to what
 * each boundary says about it: the HTTP status and problem type the gateway answers
 * (gateway/errors.ts), and the refusal a peer sends over the p2p fetch protocol (node/p2p).
 *
 * Codes are part of the public interface (problem `type` URIs, p2p refusals, the CLI's messages):
 * add new ones, never rename or reuse one.
 */

/** What one code means at each boundary. */
export interface ErrorSpec {
  /** HTTP status the gateway answers with. */
  status: number;
  /** Short human title of the problem type (RFC 9457 `title`). */
  title: string;
  /** The p2p refusal a peer answers with when this error stops a fetch. */
  refusal: RefusalCode;
}

/** Refusals of the p2p fetch protocol: a subset of the codes, stable on the wire. */
export type RefusalCode = "not-member" | "not-granted" | "not-found" | "bad-request" | "too-large" | "unsupported" | "unavailable";

const spec = (status: number, title: string, refusal: RefusalCode): ErrorSpec => ({ status, title, refusal });

export const ERROR_CATALOGUE = {
  // Input that is wrong in itself: the caller must change it.
  "bad-request": spec(400, "Bad request", "bad-request"),
  "invalid-identifier": spec(400, "Invalid identifier", "bad-request"),
  "invalid-epcis": spec(400, "Invalid EPCIS document", "bad-request"),
  "invalid-event-hash": spec(400, "Event cannot be hashed", "bad-request"),
  "invalid-reading-binding": spec(400, "Invalid reading binding", "bad-request"),
  "invalid-reading": spec(400, "Invalid reading", "bad-request"),
  "invalid-query": spec(400, "Invalid query", "bad-request"),
  "invalid-page-token": spec(400, "Invalid page token", "bad-request"),
  "invalid-credential": spec(400, "Invalid credential", "bad-request"),
  "invalid-config": spec(400, "Invalid configuration", "bad-request"),
  usage: spec(400, "Wrong usage", "bad-request"),
  "method-not-allowed": spec(405, "Method not allowed", "unsupported"),
  "not-acceptable": spec(406, "Not acceptable", "unsupported"),
  /** This node does not serve that kind of data (a p2p refusal). */
  unsupported: spec(501, "Not supported by this node", "unsupported"),
  "unsupported-media-type": spec(415, "Unsupported media type", "bad-request"),
  // Who is asking.
  unauthorized: spec(401, "Unauthorized", "not-member"),
  "invalid-token": spec(401, "Invalid token", "not-member"),
  forbidden: spec(403, "Forbidden", "not-granted"),
  "not-member": spec(403, "Not a member", "not-member"),
  "not-granted": spec(403, "No grant", "not-granted"),
  "capture-forbidden": spec(403, "Capture forbidden", "not-granted"),
  "not-found": spec(404, "Not found", "not-found"),
  // The request conflicts with what the chain or the store already holds.
  conflict: spec(409, "Conflict", "bad-request"),
  /** The chain or a local check said no to what a member asked (the member tool's refusals). */
  refused: spec(409, "Refused", "not-granted"),
  "capture-refused": spec(409, "Refused by the chain", "bad-request"),
  /** The data is held by another organisation's node: ask that one. */
  elsewhere: spec(409, "Held elsewhere", "not-found"),
  "anchor-conflict": spec(409, "Anchor conflict", "unavailable"),
  "anchor-rejected": spec(409, "Anchor rejected", "unavailable"),
  // Too much.
  "too-large": spec(413, "Payload too large", "too-large"),
  "too-many-readings": spec(413, "Too many readings", "too-large"),
  /** A query matching more events than it may answer (maxEventCount, or an order the indexes do not keep). */
  "query-too-large": spec(413, "Query too large", "too-large"),
  "capture-limit-exceeded": spec(413, "Capture limit exceeded", "too-large"),
  "rate-limited": spec(429, "Too many requests", "unavailable"),
  // Someone else did not answer as they should.
  "peer-misbehaved": spec(502, "Peer sent unverifiable data", "unavailable"),
  "peer-refused": spec(502, "Peer refused", "unavailable"),
  "gateway-error": spec(502, "Gateway answered with an error", "unavailable"),
  // Not now: try again later.
  unavailable: spec(503, "Unavailable", "unavailable"),
  busy: spec(503, "Busy", "unavailable"),
  "service-unavailable": spec(503, "Service unavailable", "unsupported"),
  "chain-unavailable": spec(503, "Chain unavailable", "unavailable"),
  "chain-ahead": spec(503, "Chain ahead of this node", "unavailable"),
  "reorg-too-deep": spec(503, "Reorganisation too deep", "unavailable"),
  "index-stale": spec(503, "Chain index stopped or behind", "unavailable"),
  "schema-unavailable": spec(503, "Schema unavailable", "unavailable"),
  closed: spec(503, "Shutting down", "unavailable"),
  internal: spec(500, "Internal error", "unavailable"),
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;

/** Base of every error Tracemesh raises on purpose: a stable code and a message that names the fault. */
export class TracemeshError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    // Subclasses keep their own class name in stack traces and logs.
    this.name = new.target.name;
  }

  get spec(): ErrorSpec {
    return ERROR_CATALOGUE[this.code];
  }
}

/** The generic code of an HTTP status, for problems raised without a more specific one. */
export function codeOfStatus(status: number): ErrorCode {
  const generic: Record<number, ErrorCode> = {
    400: "bad-request", 401: "unauthorized", 403: "forbidden", 404: "not-found", 405: "method-not-allowed", 406: "not-acceptable",
    409: "conflict", 413: "too-large", 415: "unsupported-media-type", 429: "rate-limited", 503: "unavailable",
  };
  return generic[status] ?? (status >= 500 ? "internal" : "bad-request");
}

/** A command line was used wrongly (both CLIs: node/cli.ts and scripts/cli). */
export class UsageError extends TracemeshError {
  constructor(message: string) {
    super("usage", message);
  }
}

export const isErrorCode = (value: unknown): value is ErrorCode => typeof value === "string" && Object.hasOwn(ERROR_CATALOGUE, value);

/** The catalogue entry of anything thrown: its own for a TracemeshError, `internal` otherwise. */
export function specOf(err: unknown): ErrorSpec & { code: ErrorCode } {
  const code = err instanceof TracemeshError ? err.code : "internal";
  return { code, ...ERROR_CATALOGUE[code] };
}
