/**
 * The per-event badge, computed in the page: hash the EPCIS event the gateway handed over with
 * the shared CBV 2.0 event hash (lib/epcis/event-hash.ts), then ask the chain (Provenance, over
 * /chain/rpc) whether a record carries that hash. The gateway's own claims (its eventHash field)
 * are never trusted for the verdict.
 */
import { EventHashError, type EventHashOptions } from "../../lib/epcis/event-hash.ts";
import { recordHashOf } from "../../lib/epcis/record-hash.ts";
import type { HistoryEntryAnswer } from "../../lib/api/trace.ts";

export type Badge =
  | { state: "verified"; computed: string; recordId: bigint }
  | { state: "altered"; computed: string; onChain: string; recordId: bigint }
  | { state: "pending"; computed: string }
  | { state: "withheld"; onChain?: string }
  | { state: "error"; message: string };

/** What the page needs from Provenance (a typechain Provenance fits). */
export interface ProvenanceReader {
  recordOfEvent(eventHash: string): Promise<bigint>;
  /** The record organisation `orgId` made of the hash (records are kept per organisation). */
  recordOfEventBy(eventHash: string, orgId: number): Promise<bigint>;
  record(recordId: bigint): Promise<{ eventHash: string; kind: bigint }>;
}

/**
 * The event's hash as this page computes it: the CBV 2.0 event hash, or for an error declaration
 * its declaration hash (lib/epcis/declaration.ts), read with the capture document's @context.
 */
export function computeEventDigest(document: Record<string, unknown>, options: EventHashOptions = {}): string {
  const context = options.context ?? document["@context"];
  const opts = context === undefined ? options : { ...options, context };
  return recordHashOf(document, opts);
}

/** True when the event names members or values by prefix (e.g. "tm:readings"): its hash needs the document's @context. */
export function needsContext(document: Record<string, unknown>): boolean {
  if (document["@context"] !== undefined) return false;
  const seen = (v: unknown): boolean => {
    if (Array.isArray(v)) return v.some(seen);
    if (v !== null && typeof v === "object") return Object.entries(v).some(([k, x]) => (k.includes(":") && !k.startsWith("@")) || seen(x));
    return false;
  };
  return seen(document);
}

/**
 * What the badge reads of a history entry (GET /items/{id}/history): the document and the record
 * it is said to belong to. `context` is the capture document's @context when the caller knows it.
 */
export type EntryToVerify = Partial<Pick<HistoryEntryAnswer, "kind" | "eventHash" | "eventId" | "document" | "org">> & {
  recordId?: number | string | null;
  context?: unknown;
};

/** Where the page finds the @context (and ignoreFields) an event was captured with. */
export type ContextSource = (eventId: string) => Promise<EventHashOptions>;

const recordIdOf = (v: EntryToVerify["recordId"]): bigint | undefined => {
  if (v === null || v === undefined || v === "") return undefined;
  try {
    const id = BigInt(v);
    return id > 0n ? id : undefined;
  } catch {
    return undefined;
  }
};

export async function verifyEntry(entry: EntryToVerify, provenance: ProvenanceReader, contextOf?: ContextSource): Promise<Badge> {
  try {
    const claimedRecord = recordIdOf(entry.recordId);
    if (entry.document === null || entry.document === undefined) {
      if (claimedRecord === undefined) return { state: "withheld" };
      const rec = await provenance.record(claimedRecord);
      return { state: "withheld", onChain: rec.eventHash };
    }
    let computed: string;
    const doc = entry.document;
    const options: EventHashOptions =
      entry.context !== undefined ? { context: entry.context } : contextOf !== undefined && entry.eventId && needsContext(doc) ? await contextOf(entry.eventId) : {};
    try {
      computed = computeEventDigest(doc, options);
    } catch (e) {
      if (e instanceof EventHashError) return { state: "error", message: e.message };
      throw e;
    }
    // The record of the organisation the entry is said to be by: another organisation may have
    // recorded the same hash first (through a change on its own goods), which proves nothing of it.
    const by = entry.org?.id;
    const recordId = by !== undefined ? await provenance.recordOfEventBy(computed, by) : await provenance.recordOfEvent(computed);
    if (recordId !== 0n) return { state: "verified", computed, recordId };
    // No record carries this document's hash. If the record it is said to belong to exists on
    // chain with another hash, the document was changed after it was recorded.
    if (claimedRecord !== undefined) {
      const rec = await provenance.record(claimedRecord);
      if (rec.kind !== 0n) return { state: "altered", computed, onChain: rec.eventHash, recordId: claimedRecord };
    }
    return { state: "pending", computed };
  } catch (e) {
    return { state: "error", message: e instanceof Error ? e.message : String(e) };
  }
}
