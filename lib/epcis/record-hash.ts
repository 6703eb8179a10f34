/**
 * The record hash: the bytes32 an EPCIS event's record carries on chain (Provenance), and the one
 * value every part of Tracemesh recomputes to find or check that record. It is the CBV 2.0 event
 * hash digest, except for an error declaration, whose CBV hash equals the hash of the event it
 * declares wrong; a declaration is recorded under its declaration hash (declaration.ts).
 *
 * Read the event with its capture document's @context (and declared ignoreFields), as capture did.
 */
import { errorDeclarationHash } from "./declaration.ts";
import { type EventHash, type EventHashOptions, eventHash } from "./event-hash.ts";

/** The CBV 2.0 event hash of an event together with the bytes32 its record carries on chain. */
export interface RecordIdentity extends EventHash {
  /** 0x-prefixed bytes32: `digest`, or the declaration hash of an error declaration. */
  readonly recordHash: string;
}

/** True when the event declares an earlier event wrong (it carries an errorDeclaration member). */
export function isErrorDeclaration(event: unknown): event is Record<string, unknown> {
  return typeof event === "object" && event !== null && !Array.isArray(event) && (event as Record<string, unknown>)["errorDeclaration"] !== undefined;
}

/** The event hash and the record hash of one event (`index`: its position in the document). */
export function recordIdentityOf(event: unknown, options: EventHashOptions = {}, index = 0): RecordIdentity {
  const h = eventHash(event, options, index);
  return { ...h, recordHash: isErrorDeclaration(event) ? errorDeclarationHash(event, options) : h.digest };
}

/** The bytes32 (0x hex) the record of `event` carries on chain. */
export function recordHashOf(event: unknown, options: EventHashOptions = {}, index = 0): string {
  return isErrorDeclaration(event) ? errorDeclarationHash(event, options) : eventHash(event, options, index).digest;
}
