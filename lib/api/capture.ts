/**
 * EPCIS capture job answers (gateway/routes/epcis.ts, GS1 EPCIS 2.0 capture interface): POST
 * /capture accepts a document as a job; GET /capture/{captureID} follows it until every event is
 * recorded on chain, or the document is refused whole.
 */

export type CaptureState = "pending" | "running" | "succeeded" | "failed";

/** How an event was recorded on Provenance. */
export type RecordedHow = "state-change" | "observation" | "correction" | "already-recorded" | "duplicate";

/** One recorded event of a succeeded job. */
export interface CapturedEvent {
  index: number;
  /** The eventID the event declared. */
  eventID?: string;
  /** CBV 2.0 hash ID. */
  hashId: string;
  /** bytes32 on chain (lib/epcis/record-hash.ts). */
  recordHash: string;
  how: RecordedHow;
  /** The Provenance function that recorded it (commission, ship, observe, correct, ...). */
  call?: string;
  /** Provenance.RecordKind name. */
  kind?: string;
  recordId?: string;
  /** The record this correction corrects. */
  corrects?: string;
  tx?: string;
  block?: number;
  /** Why the event was observed rather than changing state, or what it duplicates. */
  note?: string;
}

/** Why an event (or, at index -1, the document) was refused. */
export interface RefusedEvent {
  index: number;
  eventID?: string;
  hashId?: string;
  message: string;
}

/** A capture job: GET /capture/{captureID}, an entry of GET /capture, and POST /capture's 202 body. */
export interface CaptureJobAnswer {
  captureID: string;
  createdAt: string;
  finishedAt?: string;
  state: CaptureState;
  running: boolean;
  success: boolean;
  captureErrorBehaviour: "rollback";
  eventCount: number;
  attempts: number;
  /** Per event, once succeeded. */
  results?: CapturedEvent[];
  /** Per event, when refused. */
  errors: RefusedEvent[];
  /** The last transient failure while retrying. */
  lastError?: string;
  /** POST /capture only: the same document was captured before; this is its job. */
  replay?: boolean;
}

/** GET /capture: the caller's jobs, newest first, as a list (GS1's shape; a Link header points to the next page). */
export type CaptureJobsAnswer = CaptureJobAnswer[];
