/**
 * The errors node/events answers its callers with, each carrying a stable `code`. The gateway maps
 * codes to HTTP problems (gateway/routes/epcis.ts) without importing node/ runtime code: it reaches
 * the node only through gateway/services.ts, so it tests `code`, never `instanceof`.
 */

export type EventsErrorCode =
  /** The caller is not the organisation this node captures for. */
  | "capture-forbidden"
  /** More events than one capture may hold (one transaction each document). `detail.limit`. */
  | "capture-too-many-events"
  /** The document fails the EPCIS 2.0 JSON Schema. `detail.errors`. */
  | "capture-invalid"
  /** Its JSON-LD context cannot be resolved offline. `detail.errors`. */
  | "capture-context"
  /** Valid, but it cannot be hashed or its reading bindings are malformed. */
  | "capture-unrecordable"
  /** An event query's terms are malformed. */
  | "event-query-invalid"
  /** A page token is malformed, tampered with, or another query's or caller's. */
  | "page-token-invalid"
  /** An event names more readings than one answer carries. */
  | "too-many-readings";

export class EventsError extends Error {
  constructor(
    readonly code: EventsErrorCode,
    message: string,
    /** Machine-readable details (schema errors, limits) for the caller. */
    readonly detail: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = "EventsError";
  }
}
