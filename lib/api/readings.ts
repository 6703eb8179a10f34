/**
 * GET /events/{eventID}/readings (gateway/routes/epcis.ts): the plant-floor readings an event
 * names, each with its Merkle proof and where its window was anchored, to verify in the client
 * with lib/verify-reading.ts against DataAnchors.
 */
import type { AccessLogEntry } from "./access-log.ts";
import type { Reading } from "../reading.ts";
import type { ReadingProof } from "../verify-reading.ts";

export interface BoundReadingAnswer {
  reading: Reading;
  proof: ReadingProof;
  /** DataAnchors node and window sequence; root and leaf count as the chain holds them (display only). */
  anchor: { node: string; sequence: number; tx?: string; block?: number; anchoredAt?: number; root?: string; leafCount?: number };
}

export interface BoundStreamAnswer {
  stream: string;
  /** The anchoring node account. */
  node: string;
  /** The bound range, ISO 8601 (from inclusive, to exclusive). */
  from: string;
  to: string;
  readings: BoundReadingAnswer[];
}

export interface EventReadingsAnswer {
  eventID: string;
  hashId: string;
  recordHash: string;
  /** The organisation that captured the event. */
  owner: number;
  /** To the owner, when its node keeps an access log: every partner's read of this event's document and readings. */
  readers?: AccessLogEntry[];
  /** The event's record on chain, once known. */
  chain: { recordId: string; kind: string; tx?: string; block?: number } | null;
  streams: BoundStreamAnswer[];
}
