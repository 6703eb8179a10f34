/**
 * The owner's access log (node/access-log; GET /access-log and /access-log/head): every read of
 * an organisation's documents and readings by a partner. Types only (see common.ts).
 *
 * One entry per answer served: one reader, one owner, one channel, one time, and every document,
 * set of readings or stream range the answer handed out (`reads`), each with what allowed it.
 * Entries written before this shape (format 1) named one read each; the log keeps and verifies
 * them as written and shows them in the same shape, with `v: 1` and a single read.
 */

/** What was read. */
export type AccessSubject =
  | { kind: "document"; eventHash: string; eventID?: string }
  | { kind: "readings"; eventHash: string; eventID?: string; streams: string[] }
  | { kind: "stream"; stream: string; fromMs: number; toMs: number };

/** The grant that allowed a read. */
export interface AccessGrantRef {
  id?: string;
  scopeKey: string;
  kind: string;
  path?: string[];
}

/** One thing an answer handed out, and what allowed it. */
export interface AccessRead {
  subject: AccessSubject;
  /** What allowed it: "grant item-genealogy on 0x..", "rule regulator-recall-events" (lib/access.ts describeDecision). */
  allowedBy: string;
  /** The grant that allowed it, when one did. */
  grant?: AccessGrantRef;
  /** The grant's purpose code (bytes32), or the rule's purpose; null when unknown. */
  purpose: string | null;
}

/** One answer's reads, as the serving side logs them. */
export interface AccessAnswerReads {
  /** The organisation that read. */
  reader: number;
  /** The organisation whose data it was. */
  owner: number;
  channel: "gateway" | "p2p";
  /** Everything the answer handed out, in the order it was served (at least one). */
  reads: AccessRead[];
}

export interface AccessLogEntry extends AccessAnswerReads {
  /** Entry format: 2 (one entry per answer), 1 (written before it: one read per entry). */
  v: 1 | 2;
  seq: number;
  /** ISO 8601, when the answer was served. */
  time: string;
  /** Hash of the entry before (64 zero hex digits for the first). */
  prev: string;
  /** SHA-256 over this entry's fields and `prev`, in the canonical form of its format (node/access-log/store.ts). */
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
