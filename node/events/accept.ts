/**
 * Capture acceptance: whether a document the node is asked to capture can be recorded, checked
 * before anything is persisted, so a refused document leaves no job, no transaction and no stored
 * event. In order: at most `maxEvents` events (one transaction each document must fit a block),
 * the EPCIS 2.0 JSON Schema, JSON-LD contexts resolvable offline, every event hashable (CBV 2.0
 * hash, error-declaration hash), and every reading binding well formed. The record hashes
 * computed here are the document's identity for the capture job (capture.ts): hashed once.
 */
import type { OfflineContexts } from "../../lib/epcis/contexts.ts";
import { EventHashError } from "../../lib/epcis/event-hash.ts";
import { EpcisEventError, eventsOf } from "../../lib/epcis/events.ts";
import { ReadingBindingError, readingBindingsOf } from "../../lib/epcis/readings.ts";
import type { EpcisValidator } from "../../lib/epcis/validate.ts";
import { documentRecordHashes } from "./capture.ts";
import { type ErrorCode, TracemeshError } from "../../lib/errors.ts";

/** A document refused before anything was recorded; `errors` lists schema or context problems. */
export class CaptureRejectedError extends TracemeshError {
  constructor(
    code: Extract<ErrorCode, "capture-limit-exceeded" | "invalid-epcis" | "invalid-event-hash" | "invalid-reading-binding">,
    message: string,
    readonly details: { errors?: readonly unknown[]; limit?: number } = {},
  ) {
    super(code, message);
  }

  /** For the gateway's problem body (gateway/errors.ts `problemOf`). */
  get errors(): readonly unknown[] | undefined {
    return this.details.errors;
  }
}

export interface AcceptanceRules {
  validator: EpcisValidator;
  contexts: OfflineContexts;
  /** Most events one document may hold. */
  maxEvents: number;
}

export interface AcceptedDocument {
  document: Record<string, unknown>;
  /** The bytes32 each event is recorded under, in document order. */
  recordHashes: string[];
}

/** Checks a document for capture; throws CaptureRejectedError naming what is wrong. */
export async function acceptDocument(doc: unknown, rules: AcceptanceRules): Promise<AcceptedDocument> {
  const v = rules.validator.validate(doc);
  if (v.eventCount > rules.maxEvents)
    throw new CaptureRejectedError(
      "capture-limit-exceeded",
      `the document has ${v.eventCount} events; this node records at most ${rules.maxEvents} per capture (one transaction each): split it`,
      { limit: rules.maxEvents },
    );
  if (!v.valid)
    throw new CaptureRejectedError(
      "invalid-epcis",
      `the EPCIS document is not valid (${v.errors.length} problem${v.errors.length === 1 ? "" : "s"}; nothing was recorded): ${v.errors
        .slice(0, 3)
        .map((e) => `${e.path || "/"} ${e.message}`)
        .join("; ")}`,
      { errors: v.errors },
    );
  const contextIssues = await rules.contexts.check(doc);
  if (contextIssues.length > 0) throw new CaptureRejectedError("invalid-epcis", `the EPCIS document's JSON-LD context cannot be used: ${contextIssues[0]!.message}`, { errors: contextIssues });
  const document = doc as Record<string, unknown>;
  try {
    const recordHashes = documentRecordHashes(document);
    for (const e of eventsOf(document)) readingBindingsOf(e.raw, document["@context"]);
    return { document, recordHashes };
  } catch (e) {
    if (e instanceof EpcisEventError || e instanceof EventHashError || e instanceof ReadingBindingError)
      throw new CaptureRejectedError(e.code as "invalid-epcis" | "invalid-event-hash" | "invalid-reading-binding", `the EPCIS document cannot be recorded: ${e.message}`);
    throw e;
  }
}
