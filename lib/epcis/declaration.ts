/**
 * The identity of an error declaration on chain.
 *
 * An EPCIS error declaration is the erroneous event captured again with an `errorDeclaration`
 * added. The CBV 2.0 event hash leaves `errorDeclaration` out, so the declaration has the same
 * hash as the event it declares wrong: that hash finds the record to correct, but cannot be the
 * correction record's own hash (Provenance accepts a hash once). Nor can a corrective event's
 * hash: the corrective events are recorded as ordinary records of their own.
 *
 * Tracemesh therefore identifies a declaration by its *declaration hash*: SHA-256 over the UTF-8
 * bytes of
 *
 *   <CBV 2.0 pre-hash string of the event>
 *   + "errorDeclaration"
 *   + "declarationTime=" + declarationTime (UTC, milliseconds, as the CBV hash writes times)
 *   + "reason=" + reason as a CBV Web URI                       (when given)
 *   + "correctiveEventID=" + id, one per corrective event ID, the strings sorted by code point
 *
 * so anyone holding the declaring event (with the document's @context) recomputes it, and two
 * declarations of the same event (e.g. with a different time or reason) differ. Extension members
 * of the errorDeclaration are left out, as the CBV hash leaves out extension members it cannot
 * order. The declaration hash is the `eventHash` of the Provenance.correct (or, when the declared
 * event was never recorded on chain, Provenance.observe) record.
 */
import { cbvUri } from "./cbv.ts";
import { type EventHashOptions, EventHashError, canonicalTimestamp, compareCodePoints, eventPreHash, preHashDigest } from "./event-hash.ts";

/** Suffix of the declaration part of the pre-image, for tests and audits. */
export function declarationPreHash(event: Record<string, unknown>, options: EventHashOptions = {}): string {
  const ed = event["errorDeclaration"];
  if (ed === null || typeof ed !== "object" || Array.isArray(ed)) throw new EventHashError("the event has no errorDeclaration");
  const d = ed as Record<string, unknown>;
  const time = typeof d["declarationTime"] === "string" ? canonicalTimestamp(d["declarationTime"].trim()) : undefined;
  if (time === undefined) throw new EventHashError("errorDeclaration.declarationTime must be a date and time with a UTC offset");
  let s = eventPreHash(event, options) + "errorDeclaration" + "declarationTime=" + time;
  if (typeof d["reason"] === "string" && d["reason"].trim() !== "") s += "reason=" + cbvUri("errorReason", d["reason"]);
  const ids = Array.isArray(d["correctiveEventIDs"]) ? d["correctiveEventIDs"].filter((x): x is string => typeof x === "string").map((x) => x.trim()) : [];
  for (const id of ids.sort(compareCodePoints)) s += "correctiveEventID=" + id;
  return s;
}

/** The declaration hash (0x bytes32) of an event carrying an errorDeclaration. */
export function errorDeclarationHash(event: Record<string, unknown>, options: EventHashOptions = {}): string {
  return preHashDigest(declarationPreHash(event, options));
}
