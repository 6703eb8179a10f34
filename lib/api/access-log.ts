/**
 * The owner's access log (node/access-log; GET /access-log and /access-log/head): every read of
 * an organisation's documents and readings by a partner. Types only (see common.ts).
 */

/** What was read. */
export type AccessSubject =
  | { kind: "document"; eventHash: string; eventID?: string }
  | { kind: "readings"; eventHash: string; eventID?: string; streams: string[] }
  | { kind: "stream"; stream: string; fromMs: number; toMs: number };

/** A read to log, as the serving side knows it. */
export interface AccessRead {
  /** The organisation that read. */
  reader: number;
  /** The organisation whose data it was. */
  owner: number;
  channel: "gateway" | "p2p";
  subject: AccessSubject;
  /** What allowed it: "grant item-genealogy on 0x..", "rule regulator-recall-events" (lib/access.ts describeDecision). */
  allowedBy: string;
  /** The grant that allowed it, when one did. */
  grant?: { id?: string; scopeKey: string; kind: string; path?: string[] };
  /** The grant's purpose code (bytes32), or the rule's purpose; null when unknown. */
  purpose: string | null;
}

export interface AccessLogEntry extends AccessRead {
  seq: number;
  /** ISO 8601, when the read was served. */
  time: string;
  /** Hash of the entry before (64 zero hex digits for the first). */
  prev: string;
  /** SHA-256 over this entry's fields and `prev`. */
  hash: string;
}

export interface AccessLogHead {
  seq: number;
  hash: string;
}

export type AccessLogCheck = { ok: true; head: AccessLogHead; entries: number } | { ok: false; seq: number; problem: string };

/** GET /access-log. */
export interface AccessLogAnswer {
  head: AccessLogHead;
  entries: AccessLogEntry[];
  /** Pass as `after` for the next page. */
  nextAfter?: number;
}

/** GET /access-log/head. */
export interface AccessLogHeadAnswer {
  head: AccessLogHead;
  check: AccessLogCheck;
}
