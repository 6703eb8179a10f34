/**
 * The member node's EPCIS events on LevelDB (its own directory, e.g. <dataDir>/events).
 *
 * Every event is stored once per (origin, record hash): the record hash is the bytes32 the chain
 * holds for it (the CBV 2.0 event hash, or for an error declaration its declaration hash,
 * lib/epcis/declaration.ts). Own events (captured here) and events received from partners are
 * kept apart by their storage id ("o" or "r" + record hash); both are found by the same indexes.
 *
 * Keys (UTF-8, parts joined by NUL):
 *   m  <name>                                   store metadata (format, page-token secret, cbv21 aliases indexed)
 *   ev <sid>                                    the stored event (JSON)
 *   x  <field> <value> <eventTime> <sid>        secondary index entry (empty value)
 *   u  <sid>                                    own event marked unrecorded (empty value; counted for the node status)
 *   j  <captureId>                              capture job (JSON), see capture.ts
 *   jdoc <captureId>, jq <captureId>            an unfinished job's document, and the queue of unfinished jobs
 *   jd <owner> <documentDigest>                 capture job of a document, for idempotency
 *   md <vocabulary> <id>                        master data: a vocabulary element (lib/epcis/master-data.ts) with its owner
 *   kn <key> <sid>                              an item or batch key (the chain's name for it) an event names; value:
 *                                               the identifier naming it there (how a page names a part: gateway
 *                                               visible-identifiers.ts), so naming a part needs no document parsed
 *
 * Index entries carry the event time (ms, zero-padded) after the value, so every index range is
 * ordered by time and a GE_/LT_eventTime bound narrows it. A query walks the range of its most
 * selective parameter (or the union of ranges for a list of values or MATCH_anyEPC), in (time,
 * storage id) order, checks the other parameters on each candidate, and stops after one page: its
 * cost follows the matches of that parameter, never the size of the store. Page tokens are
 * opaque, bound to the query they continue and authenticated with an HMAC.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { mkdirSync } from "node:fs";
import { Level } from "level";
import { canonicalTimestamp, cbv21HashIdOf } from "../../lib/epcis/event-hash.ts";
import { contentDigestOf } from "../../lib/epcis/content-digest.ts";
import { type EpcisEvent, toEpcisEvent } from "../../lib/epcis/events.ts";
import { cbvUri } from "../../lib/epcis/cbv.ts";
import { PAGE_TOKEN_LIFETIME_MS } from "../../lib/epcis/query-terms.ts";
import type { VocabularyElement, VocabularyName } from "../../lib/epcis/master-data.ts";
import { canonicalEpcValue, isEpcPattern, subjectsOf } from "../../lib/epcis/subjects.ts";
import { TracemeshError } from "../../lib/errors.ts";
import { LRUCache } from "lru-cache";
import { batchKey, itemKey, parseIdentifier } from "../../lib/identifiers/canonical.ts";
import { IdentifierError } from "../../lib/identifiers/gs1-keys.ts";

export const EVENT_STORE_FORMAT = 1;

/** Where an event came from. */
export type EventOrigin =
  | {
      kind: "own";
      /** The capture job that recorded it ("" for a restored event: the job was lost with the store). */
      captureId: string;
      /**
       * Handed back by a partner after this store lost it (`repair --from-partners`,
       * node/events/refetch.ts), verified against the organisation's record on chain.
       */
      restored?: { peerId: string; org: number; at: string };
    }
  | {
      kind: "received";
      /** The libp2p peer that sent it. */
      peerId: string;
      /** The organisation that peer belongs to. */
      org: number;
      /** The grant under which it was shared. */
      grant: { scopeKey: string; id?: string };
      /** ISO 8601. */
      receivedAt: string;
    };

/** A stored event naming a key, and the identifier naming it there. */
export interface KeyName {
  sid: string;
  identifier: string;
}

/** The on-chain record of an event, as far as the node knows it. */
export interface ChainRef {
  recordId: string;
  /** Provenance.RecordKind name (Commission, Observation, Correction, ...). */
  kind: string;
  tx?: string;
  block?: number;
}

export interface StoredEvent {
  /** Storage id: "o" (own) or "r" (received) + the record hash (64 hex digits). */
  sid: string;
  /** CBV 2.0 hash ID (ni:///sha-256;...?ver=CBV2.0). */
  hashId: string;
  /** bytes32 the chain holds for this event (0x hex). */
  recordHash: string;
  /** The eventID the event declared, if any. */
  eventID?: string;
  /** The capturing document's @context (needed to recompute the hash). */
  context: unknown;
  /** Fields the capturing document declared left out of the hash ("ignoreFields"; needed to recompute it). */
  ignoreFields?: string[];
  /** Organisation that owns (recorded) the event. */
  owner: number;
  origin: EventOrigin;
  chain?: ChainRef;
  /**
   * An own event whose Provenance record the chain no longer holds (a reorg deeper than the
   * confirmation depth dropped it): not served to partners, who would find it unrecorded.
   */
  unrecorded?: { since: string; previous?: ChainRef };
  /** The event as captured. */
  event: Record<string, unknown>;
  /** ISO 8601. */
  storedAt: string;
  /**
   * `contentDigestOf` (lib/epcis/content-digest.ts) the event when the store accepted it, its record hash just computed from it
   * (capture) or verified (receipt): a reader checks the document is unchanged with one SHA-256
   * instead of recomputing the CBV hash. Absent on events stored before it was kept.
   */
  contentDigest?: string;
}

export type NewEvent = Omit<StoredEvent, "sid" | "storedAt" | "contentDigest">;

/** A master data element as kept: defined by `owner`, the holder of its identifier's prefix. */
export interface StoredVocabularyElement extends VocabularyElement {
  owner: number;
  /** ISO 8601: when it was last defined. */
  updatedAt: string;
}

/** The GS1 query parameters the store answers (values already split on "|"). */
export interface EventQuery {
  eventType?: readonly string[];
  /** Unix ms or ISO 8601. */
  geEventTime?: number | string;
  ltEventTime?: number | string;
  bizStep?: readonly string[];
  disposition?: readonly string[];
  epc?: readonly string[];
  anyEpc?: readonly string[];
  parentID?: readonly string[];
  inputEPC?: readonly string[];
  outputEPC?: readonly string[];
  epcClass?: readonly string[];
  /** MATCH_inputEPCClass / MATCH_outputEPCClass: classes in inputQuantityList / outputQuantityList. */
  inputEpcClass?: readonly string[];
  outputEpcClass?: readonly string[];
  anyEpcClass?: readonly string[];
  bizLocation?: readonly string[];
  readPoint?: readonly string[];
  /** Items and classes of a product class (a GTIN): EPCs of that class in any role, or the class in any quantity list. */
  anyEpcOfClass?: readonly string[];
  /** EXISTS_errorDeclaration: true keeps only error declarations. */
  errorDeclaration?: boolean;
  eventID?: readonly string[];
}

export interface QueryOptions {
  /** Events per page (default 30, at most 1000). */
  perPage?: number;
  nextPageToken?: string;
  /** Keeps only the events this returns true for (visibility); counted against `maxScan`. */
  filter?: (e: StoredEvent) => boolean | Promise<boolean>;
  /** Binds the page token to this caller too (a token is useless to anyone else). */
  audience?: string;
  /** Candidates examined per page at most (default 5000): a page may come back short, with a token. */
  maxScan?: number;
  /** How long a page token stays usable (default one hour; GS1-Next-Page-Token-Expires). */
  tokenLifetimeMs?: number;
  /** The time now (tests). */
  now?: () => number;
}

export interface QueryPage {
  events: StoredEvent[];
  nextPageToken?: string;
  /** ISO 8601: when nextPageToken stops being accepted. */
  nextPageTokenExpires?: string;
}

export class PageTokenError extends TracemeshError {
  constructor(message: string) {
    super("invalid-page-token", message);
  }
}

export class EventQueryError extends TracemeshError {
  constructor(message: string) {
    super("invalid-query", message);
  }
}

const SEP = "\u0000";
const k = (...parts: string[]) => parts.join(SEP);
const TIME_DIGITS = 15;
const MAX_TIME = "9".repeat(TIME_DIGITS);

function timeKey(ms: number): string {
  return String(Math.max(0, Math.min(Number(MAX_TIME), Math.floor(ms)))).padStart(TIME_DIGITS, "0");
}

/** Milliseconds of an ISO 8601 time (or a number), for index keys and bounds. */
export function eventTimeMs(t: number | string): number {
  if (typeof t === "number") return t;
  const c = canonicalTimestamp(t.trim());
  const ms = c === undefined ? NaN : Date.parse(c);
  if (!Number.isFinite(ms)) throw new EventQueryError(`"${t}" is not a date and time with a UTC offset (e.g. 2024-05-01T12:00:00.000+02:00)`);
  return ms;
}

const noNul = (v: string) => v.split(SEP).join("");

/** Index fields: what the query parameters are answered from. */
type Field =
  | "all" | "ty" | "bs" | "di" | "bl" | "rp" | "ed" | "id" | "h" | "rh"
  | "e" | "p" | "i" | "o" // EPCs by role
  | "E" | "P" | "I" | "O" // classes of those EPCs (for EPC patterns)
  | "c" | "ci" | "co"; // quantity classes

const placeValue = (v: unknown): string | undefined => {
  const id = typeof v === "string" ? v : v !== null && typeof v === "object" ? (v as Record<string, unknown>)["id"] : undefined;
  return typeof id === "string" && id.trim() !== "" ? canonicalEpcValue(id) : undefined;
};

/** Every (field, value) an event is indexed under. */
function indexEntries(stored: Omit<StoredEvent, "storedAt">, typed: EpcisEvent): [Field, string][] {
  const out: [Field, string][] = [["all", ""], ["ty", typed.type], ["h", stored.hashId], ["rh", stored.recordHash]];
  const alias = cbv21AliasOf(stored);
  if (alias !== undefined) out.push(["h", alias]);
  if (stored.eventID !== undefined) out.push(["id", stored.eventID]);
  if (typed.bizStep !== undefined) out.push(["bs", typed.bizStep]);
  if (typed.disposition !== undefined) out.push(["di", typed.disposition]);
  const bl = placeValue(typed.raw["bizLocation"]);
  if (bl !== undefined) out.push(["bl", bl]);
  const rp = placeValue(typed.raw["readPoint"]);
  if (rp !== undefined) out.push(["rp", rp]);
  if (typed.errorDeclaration !== undefined || stored.event["errorDeclaration"] !== undefined) out.push(["ed", ""]);
  const s = subjectsOf(typed);
  const roles = [["epc", "e", "E"], ["parent", "p", "P"], ["input", "i", "I"], ["output", "o", "O"]] as const;
  for (const [role, exact, cls] of roles) {
    for (const v of s.epcs[role]) out.push([exact, v]);
    for (const v of s.epcClasses[role]) out.push([cls, v]);
  }
  for (const v of s.classes.class) out.push(["c", v]);
  for (const v of s.classes.inputClass) out.push(["ci", v]);
  for (const v of s.classes.outputClass) out.push(["co", v]);
  const seen = new Set<string>();
  return out.filter(([f, v]) => {
    const key = f + SEP + v;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/**
 * The CBV 2.1 hash ID a partner may have computed for the event, indexed beside its CBV 2.0 one
 * so that look-ups by either find it (lib/epcis/event-hash.ts, `cbv21HashIdOf`).
 */
function cbv21AliasOf(stored: Pick<StoredEvent, "event" | "context" | "ignoreFields">): string | undefined {
  return cbv21HashIdOf(stored.event, { context: stored.context, ...(stored.ignoreFields ? { ignoreFields: stored.ignoreFields } : {}) });
}

/** The index fields whose values are items or lots a serial or lot number can name. */
const NUMBERED_FIELDS: ReadonlySet<Field> = new Set<Field>(["e", "p", "i", "o", "c", "ci", "co"]);

/**
 * The serial (AI 21) and lot (AI 10) numbers inside an indexed identifier, so that a plain
 * number ("P0001", a heat "H0001") finds it (`identifiersNumbered`); none for anything else.
 */
function numbersOf(value: string): string[] {
  let id;
  try {
    id = parseIdentifier(value);
  } catch (e) {
    if (e instanceof IdentifierError) return [];
    throw e;
  }
  return id.qualifiers.filter((q) => q.ai === "21" || q.ai === "10").map((q) => q.value);
}

/** The number-index keys ("n", number, identifier) of an event's index entries. */
function numberKeys(entries: readonly [Field, string][]): string[] {
  const keys = new Set<string>();
  for (const [f, v] of entries) if (NUMBERED_FIELDS.has(f)) for (const n of numbersOf(v)) keys.add(k("n", noNul(n), noNul(v)));
  return [...keys];
}

/** The item and batch keys (lower case) an event names, each with the identifier (EPC or class) naming it, first one wins. */
export function keyNamesOf(typed: EpcisEvent): Map<string, string> {
  const s = subjectsOf(typed);
  const out = new Map<string, string>();
  for (const v of [...Object.values(s.epcs).flat(), ...Object.values(s.classes).flat()]) {
    for (const keyOf of [itemKey, batchKey]) {
      try {
        const key = keyOf(v).toLowerCase();
        if (!out.has(key)) out.set(key, v);
      } catch {
        // not an identifier of this kind
      }
    }
  }
  return out;
}

/** The (field, value) pairs one list-valued EPC parameter matches, by role. */
function epcTerms(values: readonly string[], roles: readonly (readonly ["e" | "p" | "i" | "o", "E" | "P" | "I" | "O"])[]): [Field, string][] {
  const out: [Field, string][] = [];
  for (const v of values) {
    const c = canonicalEpcValue(v);
    for (const [exact, cls] of roles) out.push(isEpcPattern(v) ? [cls, c] : [exact, c]);
  }
  return out;
}

/** The identifier kinds listed as top-level resources, and the index fields holding them. */
export type IndexedKind = "epc" | "bizStep" | "disposition" | "bizLocation" | "readPoint";
const INDEXED_KINDS: Record<IndexedKind, readonly Field[]> = { epc: ["e", "p", "i", "o"], bizStep: ["bs"], disposition: ["di"], bizLocation: ["bl"], readPoint: ["rp"] };

const EPC_ROLE = { epc: ["e", "E"], parent: ["p", "P"], input: ["i", "I"], output: ["o", "O"] } as const;

/**
 * The query as a conjunction of disjunctions over index terms: an event matches when, for every
 * group, it has at least one of the group's (field, value) entries; times are checked apart.
 */
function termGroups(q: EventQuery): [Field, string][][] {
  const groups: [Field, string][][] = [];
  const add = (vals: readonly string[] | undefined, make: (vs: readonly string[]) => [Field, string][]) => {
    if (vals === undefined) return;
    if (vals.length === 0) throw new EventQueryError("a query parameter was given without a value");
    groups.push(make(vals));
  };
  add(q.eventID, (vs) => vs.flatMap((v): [Field, string][] => [["id", v], ["h", v]]));
  add(q.epc, (vs) => epcTerms(vs, [EPC_ROLE.epc]));
  add(q.parentID, (vs) => epcTerms(vs, [EPC_ROLE.parent]));
  add(q.inputEPC, (vs) => epcTerms(vs, [EPC_ROLE.input]));
  add(q.outputEPC, (vs) => epcTerms(vs, [EPC_ROLE.output]));
  add(q.anyEpc, (vs) => epcTerms(vs, [EPC_ROLE.epc, EPC_ROLE.parent, EPC_ROLE.input, EPC_ROLE.output]));
  add(q.epcClass, (vs) => vs.map((v): [Field, string] => ["c", canonicalEpcValue(v)]));
  add(q.inputEpcClass, (vs) => vs.map((v): [Field, string] => ["ci", canonicalEpcValue(v)]));
  add(q.outputEpcClass, (vs) => vs.map((v): [Field, string] => ["co", canonicalEpcValue(v)]));
  add(q.anyEpcOfClass, (vs) => vs.flatMap((v): [Field, string][] => (["E", "P", "I", "O", "c", "ci", "co"] as const).map((f) => [f, canonicalEpcValue(v)])));
  add(q.anyEpcClass, (vs) => vs.flatMap((v): [Field, string][] => (["c", "ci", "co"] as const).map((f) => [f, canonicalEpcValue(v)])));
  add(q.bizLocation, (vs) => vs.map((v): [Field, string] => ["bl", canonicalEpcValue(v)]));
  add(q.readPoint, (vs) => vs.map((v): [Field, string] => ["rp", canonicalEpcValue(v)]));
  if (q.errorDeclaration === true) groups.push([["ed", ""]]);
  add(q.bizStep, (vs) => vs.map((v): [Field, string] => ["bs", cbvUri("bizStep", v)]));
  add(q.disposition, (vs) => vs.map((v): [Field, string] => ["di", cbvUri("disposition", v)]));
  add(q.eventType, (vs) => vs.map((v): [Field, string] => ["ty", v]));
  return groups;
}

interface Cursor {
  /** Position "<time><NUL><sid>" of the last event returned. */
  after?: string;
}

/** Time order; an event before the declarations of it (which repeat its eventTime). */
const declared = (e: StoredEvent) => (e.event["errorDeclaration"] === undefined ? 0 : 1);
const byTime = (a: StoredEvent, b: StoredEvent) =>
  eventTimeMs(String(a.event["eventTime"])) - eventTimeMs(String(b.event["eventTime"])) || declared(a) - declared(b) || (a.sid < b.sid ? -1 : 1);

/** A pull iterator over one index range, in key order. */
class Range {
  private it;
  head: string | undefined;
  done = false;
  constructor(db: Level<string, unknown>, readonly prefix: string, from: string, inclusive: boolean, to: string) {
    this.it = db.keys(inclusive ? { gte: prefix + from, lt: prefix + to } : { gt: prefix + from, lt: prefix + to });
  }
  async advance(): Promise<void> {
    const key = await this.it.next();
    if (key === undefined) {
      this.done = true;
      this.head = undefined;
      await this.it.close();
    } else this.head = key.slice(this.prefix.length);
  }
  async close(): Promise<void> {
    if (!this.done) await this.it.close();
  }
}

export class EventStore {
  /** Own events marked unrecorded (kept under `u` keys too, so a status needs no scan). */
  private readonly unrecorded = new Set<string>();
  /**
   * `namesOf` answers per key, none too (most parts of a genealogy have no document here): dropped
   * for every key an event stored since names, in the same turn as the store's generation moves.
   */
  private readonly keyNames = new LRUCache<string, readonly KeyName[]>({ max: 200_000 });

  private constructor(
    readonly db: Level<string, unknown>,
    readonly location: string,
    private readonly secret: Buffer,
  ) {}

  /** Who hears of newly stored events (streaming subscriptions, node/subscriptions). */
  private readonly storedListeners = new Set<(events: readonly StoredEvent[]) => void>();

  /** Calls `listener` with the events each later put stores (after they are durable); returns the unsubscribe. */
  onStored(listener: (events: readonly StoredEvent[]) => void): () => void {
    this.storedListeners.add(listener);
    return () => this.storedListeners.delete(listener);
  }

  private told(stored: readonly StoredEvent[]): void {
    if (stored.length > 0) for (const l of this.storedListeners) l(stored);
  }

  /** How many own events are marked unrecorded now (their record gone from the chain): node status. */
  get unrecordedCount(): number {
    return this.unrecorded.size;
  }

  private changes = 0;

  /** Moves on every change to the stored events (answers built from them are stale once it moves). */
  get generation(): number {
    return this.changes;
  }

  /** Opens (creating) the store in `dir`. */
  static async open(dir: string): Promise<EventStore> {
    mkdirSync(dir, { recursive: true });
    const db = new Level<string, unknown>(dir, { keyEncoding: "utf8", valueEncoding: "json" });
    try {
      await db.open();
    } catch (e) {
      const detail = (e as { cause?: Error }).cause?.message ?? (e as Error).message;
      throw new Error(`cannot open the event store ${dir}: ${detail}${/lock/i.test(detail) ? " (is another node process using this data directory?)" : ""}`, { cause: e });
    }
    const format = (await db.get(k("m", "format"))) as { version: number } | undefined;
    if (format !== undefined && format.version !== EVENT_STORE_FORMAT) {
      await db.close();
      throw new Error(`the event store ${dir} has format ${format.version}; this node reads format ${EVENT_STORE_FORMAT}`);
    }
    let secret = (await db.get(k("m", "secret"))) as string | undefined;
    if (secret === undefined) {
      secret = randomBytes(32).toString("hex");
      const ops: { type: "put"; key: string; value: unknown }[] = [
        { type: "put", key: k("m", "format"), value: { version: EVENT_STORE_FORMAT } },
        { type: "put", key: k("m", "secret"), value: secret },
      ];
      await db.batch(ops, { sync: true });
    }
    const store = new EventStore(db, dir, Buffer.from(secret, "hex"));
    const prefix = k("u", "");
    for await (const key of db.keys({ gt: prefix, lt: prefix + "\uffff" })) store.unrecorded.add(key.slice(prefix.length));
    await store.indexCbv21Aliases();
    await store.indexNumbers();
    await store.indexKeyNames();
    return store;
  }

  /** Once per store: indexes the keys named by events stored before key names were indexed. */
  private async indexKeyNames(): Promise<void> {
    if ((await this.db.get(k("m", "keynames"))) !== undefined) return;
    const ops: { type: "put"; key: string; value: unknown }[] = [];
    for await (const value of this.db.values({ gt: k("ev", ""), lt: k("ev", "\uffff") })) {
      const e = value as StoredEvent;
      for (const [key, identifier] of keyNamesOf(toEpcisEvent(e.event))) ops.push({ type: "put", key: k("kn", key, e.sid), value: identifier });
    }
    ops.push({ type: "put", key: k("m", "keynames"), value: true });
    await this.db.batch(ops, { sync: true });
  }

  /**
   * The stored events naming an item or batch key (the chain's hash of an identifier), each with
   * the identifier naming it there, in storage-id order. Whether a caller may see one is decided
   * by whoever asks (node/events visibility). Kept in memory until an event naming the key is stored.
   */
  async namesOf(key: string): Promise<readonly KeyName[]> {
    const lower = key.toLowerCase();
    const kept = this.keyNames.get(lower);
    if (kept !== undefined) return kept;
    const generation = this.changes;
    const prefix = k("kn", noNul(lower), "");
    const out: KeyName[] = [];
    for await (const [name, identifier] of this.db.iterator({ gt: prefix, lt: prefix + "\uffff" })) out.push({ sid: name.slice(prefix.length), identifier: identifier as string });
    // Not kept when an event was stored meanwhile: the read may predate it.
    if (generation === this.changes) this.keyNames.set(lower, out);
    return out;
  }

  /** The store moved: answers built from it are stale, and the keys `stored` name are named anew. */
  private moved(stored: readonly StoredEvent[]): void {
    this.changes++;
    for (const e of stored) for (const key of keyNamesOf(toEpcisEvent(e.event)).keys()) this.keyNames.delete(key);
  }

  /** Once per store: indexes the CBV 2.1 hash ID of events stored before aliases were indexed. */
  private async indexCbv21Aliases(): Promise<void> {
    if ((await this.db.get(k("m", "cbv21"))) !== undefined) return;
    const ops: { type: "put"; key: string; value: unknown }[] = [];
    for await (const value of this.db.values({ gt: k("ev", ""), lt: k("ev", "\uffff") })) {
      const e = value as StoredEvent;
      const alias = cbv21AliasOf(e);
      if (alias !== undefined) ops.push({ type: "put", key: k("x", "h", noNul(alias), timeKey(eventTimeMs(String(e.event["eventTime"]))), e.sid), value: "" });
    }
    ops.push({ type: "put", key: k("m", "cbv21"), value: true });
    await this.db.batch(ops, { sync: true });
  }

  /** Once per store: indexes the serial and lot numbers of events stored before numbers were indexed. */
  private async indexNumbers(): Promise<void> {
    if ((await this.db.get(k("m", "numbers"))) !== undefined) return;
    const ops: { type: "put"; key: string; value: unknown }[] = [];
    for await (const value of this.db.values({ gt: k("ev", ""), lt: k("ev", "\uffff") })) {
      const e = value as StoredEvent;
      for (const key of numberKeys(indexEntries(e, toEpcisEvent(e.event)))) ops.push({ type: "put", key, value: "" });
    }
    ops.push({ type: "put", key: k("m", "numbers"), value: true });
    await this.db.batch(ops, { sync: true });
  }

  async close(): Promise<void> {
    if (this.db.status === "open" || this.db.status === "opening") await this.db.close();
  }

  /** The batch operations that store `events` with all their index entries (none already stored). */
  async operationsFor(events: readonly NewEvent[]): Promise<{ ops: ({ type: "put"; key: string; value: unknown } | { type: "del"; key: string })[]; stored: StoredEvent[]; recordedAgain: string[] }> {
    const ops: ({ type: "put"; key: string; value: unknown } | { type: "del"; key: string })[] = [];
    const recordedAgain: string[] = [];
    const stored: StoredEvent[] = [];
    const storedAt = new Date().toISOString();
    const seen = new Map<string, StoredEvent>();
    for (const e of events) {
      const hex = e.recordHash.replace(/^0x/, "").toLowerCase();
      if (!/^[0-9a-f]{64}$/.test(hex)) throw new RangeError(`record hash ${e.recordHash} is not 32 bytes of hex`);
      const sid = (e.origin.kind === "own" ? "o" : "r") + hex;
      // A value left unreadable by damage is no event held: the new one is written over it.
      const held = seen.get(sid) ?? (await this.bySid(sid).catch(() => undefined));
      if (held !== undefined) {
        // The same event again (e.g. under another eventID): one stored copy, found by every name.
        if (e.eventID !== undefined && e.eventID !== held.eventID) {
          const time = timeKey(eventTimeMs(String(held.event["eventTime"])));
          ops.push({ type: "put", key: k("x", "id", noNul(e.eventID), time, sid), value: "" });
        }
        // An own event a reorg had left unrecorded, recorded again (captured anew): recorded once more.
        if (held.unrecorded !== undefined && e.chain !== undefined) {
          const again = this.recordedAgain(held, e.chain);
          ops.push({ type: "put", key: k("ev", sid), value: again }, { type: "del", key: k("u", sid) });
          recordedAgain.push(sid);
          seen.set(sid, again);
        }
        continue;
      }
      const typed = toEpcisEvent(e.event);
      const s: StoredEvent = { ...e, recordHash: "0x" + hex, sid, storedAt, contentDigest: contentDigestOf(e) };
      const time = timeKey(eventTimeMs(typed.eventTime));
      ops.push({ type: "put", key: k("ev", sid), value: s });
      const entries = indexEntries(s, typed);
      for (const [field, value] of entries) ops.push({ type: "put", key: k("x", field, noNul(value), time, sid), value: "" });
      for (const key of numberKeys(entries)) ops.push({ type: "put", key, value: "" });
      for (const [key, identifier] of keyNamesOf(typed)) ops.push({ type: "put", key: k("kn", key, sid), value: identifier });
      stored.push(s);
      seen.set(sid, s);
    }
    return { ops, stored, recordedAgain };
  }

  /**
   * Stores the node's own events (one document) in one atomic batch; events already stored are
   * skipped. `extra` operations (the capture job's final state) join the same batch.
   */
  async putOwn(events: readonly NewEvent[], extra: { type: "put"; key: string; value: unknown }[] = []): Promise<StoredEvent[]> {
    for (const e of events) if (e.origin.kind !== "own") throw new RangeError("putOwn takes own events only; use putReceived");
    const { ops, stored, recordedAgain } = await this.operationsFor(events);
    await this.db.batch([...ops, ...extra], { sync: true });
    this.moved(stored);
    for (const sid of recordedAgain) this.unrecorded.delete(sid);
    this.told(stored);
    return stored;
  }

  /**
   * Stores an event received from a partner, after the caller verified it (its hash recomputed
   * and found on chain, recorded by `owner`). Idempotent: an event already held, received or
   * own, is not stored again. Returns the stored event, or the one already held.
   */
  async putReceived(event: NewEvent & { origin: Extract<EventOrigin, { kind: "received" }> }): Promise<StoredEvent> {
    const hex = event.recordHash.replace(/^0x/, "").toLowerCase();
    const held = (await this.bySid("o" + hex)) ?? (await this.bySid("r" + hex));
    if (held) return held;
    const { ops, stored } = await this.operationsFor([event]);
    await this.db.batch(ops, { sync: true });
    this.moved(stored);
    this.told(stored);
    return stored[0]!;
  }

  /** Every own event, in storage order. */
  async *ownEvents(): AsyncGenerator<StoredEvent> {
    const prefix = k("ev", "o");
    for await (const value of this.db.values({ gt: prefix, lt: prefix + "\uffff" })) yield value as StoredEvent;
  }

  /**
   * Marks own event `sid` unrecorded: its chain reference moves to `unrecorded.previous`. The
   * indexes name the event by sid, so they stay. Answers the updated event (undefined: not held).
   */
  async markUnrecorded(sid: string, since: Date = new Date()): Promise<StoredEvent | undefined> {
    const held = await this.bySid(sid);
    if (held === undefined || held.origin.kind !== "own") return undefined;
    if (held.unrecorded) return held;
    const { chain, ...rest } = held;
    const updated: StoredEvent = { ...rest, unrecorded: { since: since.toISOString(), ...(chain ? { previous: chain } : {}) } };
    await this.db.batch<string, unknown>([{ type: "put", key: k("ev", sid), value: updated }, { type: "put", key: k("u", sid), value: "" }], { sync: true });
    this.unrecorded.add(sid);
    this.changes++;
    return updated;
  }

  /** Own event `sid`, marked unrecorded, found recorded again as `chain` (e.g. its transaction re-included). */
  async markRecorded(sid: string, chain: ChainRef): Promise<StoredEvent | undefined> {
    const held = await this.bySid(sid);
    if (held?.unrecorded === undefined) return held;
    const again = this.recordedAgain(held, chain);
    await this.db.batch([{ type: "put", key: k("ev", sid), value: again }, { type: "del", key: k("u", sid) }], { sync: true });
    this.unrecorded.delete(sid);
    this.changes++;
    return again;
  }

  private recordedAgain(held: StoredEvent, chain: ChainRef): StoredEvent {
    const again: StoredEvent = { ...held, chain };
    delete again.unrecorded;
    return again;
  }

  /** A synchronous point read (see IndexStore.get: a thread-pool round trip costs more than the read). */
  async bySid(sid: string): Promise<StoredEvent | undefined> {
    return this.db.getSync(k("ev", sid)) as StoredEvent | undefined;
  }

  /**
   * The events an eventID, a CBV hash ID or a record hash (0x bytes32) names: the event and the
   * error declarations that share its identity, in time order.
   */
  async get(idOrHash: string): Promise<StoredEvent[]> {
    const id = idOrHash.trim();
    const fields: [Field, string][] = [["id", id], ["h", id]];
    if (/^0x[0-9a-fA-F]{64}$/.test(id)) fields.push(["rh", id.toLowerCase()]);
    return this.named(fields);
  }

  /**
   * The events filed under a record hash (0x bytes32, the hash a chain record carries), in the
   * order of `get`: one index scan, where `get` also looks the value up as an eventID and hash ID
   * (a history reads this for every record it shows).
   */
  async recordedAs(recordHash: string): Promise<StoredEvent[]> {
    if (!/^0x[0-9a-fA-F]{64}$/.test(recordHash)) throw new TypeError(`a record hash is 0x and 64 hex digits, got ${JSON.stringify(recordHash)}`);
    // An event is stored under its record hash (own and received copies: "o"/"r" + hash), and the
    // `rh` index lists exactly those: two point reads, no index scan.
    const hex = recordHash.slice(2).toLowerCase();
    const out: StoredEvent[] = [];
    for (const sid of ["o" + hex, "r" + hex]) {
      const e = await this.bySid(sid);
      if (e) out.push(e);
    }
    return out.sort(byTime);
  }

  /** The events any of `fields` (index, value) lists, each once, in time order. */
  private async named(fields: [Field, string][]): Promise<StoredEvent[]> {
    const sids = new Set<string>();
    for (const [f, v] of fields) {
      const prefix = k("x", f, noNul(v), "");
      for await (const key of this.db.keys({ gte: prefix, lt: prefix + "\uffff" })) sids.add(key.slice(key.lastIndexOf(SEP) + 1));
    }
    const out: StoredEvent[] = [];
    for (const sid of sids) {
      const e = await this.bySid(sid);
      if (e) out.push(e);
    }
    return out.sort(byTime);
  }

  /** Defines (or redefines) master data elements, in one atomic batch. */
  async putMasterData(elements: readonly StoredVocabularyElement[]): Promise<void> {
    await this.db.batch(elements.map((e) => ({ type: "put" as const, key: k("md", e.vocabulary, noNul(e.id)), value: e })), { sync: true });
  }

  /** Master data elements of a vocabulary: the ones named, or all in id order after `after`, at most `limit`. */
  async masterData(vocabulary: VocabularyName, options: { ids?: readonly string[]; after?: string; limit?: number } = {}): Promise<StoredVocabularyElement[]> {
    if (options.ids !== undefined) {
      const found = await Promise.all(options.ids.map(async (id) => (await this.db.get(k("md", vocabulary, noNul(id)))) as StoredVocabularyElement | undefined));
      return found.filter((e): e is StoredVocabularyElement => e !== undefined);
    }
    const prefix = k("md", vocabulary, "");
    const from = options.after === undefined ? prefix : k("md", vocabulary, noNul(options.after));
    const out: StoredVocabularyElement[] = [];
    for await (const value of this.db.values({ gt: from, lt: prefix + "\uffff", limit: options.limit ?? 1000 })) out.push(value as StoredVocabularyElement);
    return out;
  }

  /**
   * Distinct values of an identifier kind (the top-level EPCIS resources /epcs, /bizSteps, ...)
   * in the indexes, in code point order, after `after`, at most `limit`. Values only: the caller
   * filters them by what may be read (a value named only by unreadable events must not leak).
   */
  async indexValues(kind: IndexedKind, options: { after?: string; limit: number }): Promise<string[]> {
    const out = new Set<string>();
    for (const field of INDEXED_KINDS[kind]) {
      const prefix = k("x", field, "");
      let from = options.after === undefined ? prefix : k("x", field, noNul(options.after), "\uffff");
      for (let i = 0; i < options.limit; i++) {
        const [key] = await this.db.keys({ gt: from, lt: prefix + "\uffff", limit: 1 }).all();
        if (key === undefined) break;
        const value = key.slice(prefix.length, key.indexOf(SEP, prefix.length));
        out.add(value);
        from = k("x", field, value, "\uffff");
      }
    }
    return [...out].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)).slice(0, options.limit);
  }

  /**
   * Items and lots (canonical identifiers) whose serial (AI 21) or lot (AI 10) number is exactly
   * `number`, in code point order, at most `limit`. Values only: the caller keeps those named by
   * events it may read (a number named only by unreadable events must not leak).
   */
  async identifiersNumbered(number: string, limit: number): Promise<string[]> {
    const prefix = k("n", noNul(number), "");
    const out: string[] = [];
    for await (const key of this.db.keys({ gte: prefix, lt: prefix + "\uffff", limit })) out.push(key.slice(prefix.length));
    return out;
  }

  /** One page of the events matching `q`, in (eventTime, storage id) order. */
  async query(q: EventQuery, options: QueryOptions = {}): Promise<QueryPage> {
    const perPage = options.perPage ?? 30;
    if (!Number.isInteger(perPage) || perPage < 1 || perPage > 1000) throw new EventQueryError(`perPage must be an integer from 1 to 1000 (got ${perPage})`);
    const maxScan = options.maxScan ?? 5000;
    const groups = termGroups(q);
    const from = q.geEventTime === undefined ? timeKey(0) : timeKey(eventTimeMs(q.geEventTime));
    const to = q.ltEventTime === undefined ? MAX_TIME : timeKey(eventTimeMs(q.ltEventTime));
    const digest = this.queryDigest(q, perPage, options.audience);
    const now = (options.now ?? Date.now)();
    const cursor = options.nextPageToken === undefined ? {} : this.readToken(options.nextPageToken, digest, now);

    // The first group is the most selective one (termGroups orders them so); the rest filter.
    const [driving, ...rest] = groups.length > 0 ? groups : [[["all", ""]] as [Field, string][]];
    const ranges = driving!.map(([f, v]) => {
      const prefix = k("x", f, noNul(v), "");
      return cursor.after !== undefined && cursor.after >= from ? new Range(this.db, prefix, cursor.after, false, to) : new Range(this.db, prefix, from, true, to);
    });
    const restSets = rest.map((g) => new Set(g.map(([f, v]) => f + SEP + noNul(v))));
    const events: StoredEvent[] = [];
    let last: string | undefined;
    let scanned = 0;
    let exhausted = false;
    try {
      await Promise.all(ranges.map((r) => r.advance()));
      for (;;) {
        // The smallest head across the ranges; equal heads (one event under several values) merge.
        let min: string | undefined;
        for (const r of ranges) if (r.head !== undefined && (min === undefined || r.head < min)) min = r.head;
        if (min === undefined) {
          exhausted = true;
          break;
        }
        await Promise.all(ranges.filter((r) => r.head === min).map((r) => r.advance()));
        last = min;
        scanned++;
        const sid = min.slice(min.indexOf(SEP) + 1);
        const e = await this.bySid(sid);
        if (e && this.matchesRest(e, restSets) && (options.filter === undefined || (await options.filter(e)))) events.push(e);
        if (events.length >= perPage || scanned >= maxScan) break;
      }
      if (!exhausted) {
        // Only hand out a token when something may follow.
        exhausted = ranges.every((r) => r.head === undefined);
      }
    } finally {
      await Promise.all(ranges.map((r) => r.close()));
    }
    if (exhausted || last === undefined) return { events };
    const expires = now + (options.tokenLifetimeMs ?? PAGE_TOKEN_LIFETIME_MS);
    return { events, nextPageToken: this.makeToken(digest, last, expires), nextPageTokenExpires: new Date(expires).toISOString() };
  }

  private matchesRest(e: StoredEvent, groups: Set<string>[]): boolean {
    if (groups.length === 0) return true;
    const typed = toEpcisEvent(e.event);
    const have = new Set(indexEntries(e, typed).map(([f, v]) => f + SEP + noNul(v)));
    return groups.every((g) => [...g].some((t) => have.has(t)));
  }

  // ------------------------------------------------------------------ page tokens

  private queryDigest(q: EventQuery, perPage: number, audience: string | undefined): string {
    const norm = Object.fromEntries(
      Object.entries(q)
        .filter(([, v]) => v !== undefined)
        .sort(([a], [b]) => (a < b ? -1 : 1)),
    );
    return createHash("sha256").update(JSON.stringify({ q: norm, perPage, audience: audience ?? "" })).digest("base64url").slice(0, 22);
  }

  private makeToken(digest: string, after: string, expires: number): string {
    const body = Buffer.from(JSON.stringify({ v: 1, q: digest, a: after, x: expires })).toString("base64url");
    return `${body}.${this.mac(body)}`;
  }

  private mac(body: string): string {
    return createHmac("sha256", this.secret).update(body).digest("base64url").slice(0, 32);
  }

  private readToken(token: string, digest: string, now: number): Cursor {
    const [body, mac, extra] = token.split(".");
    if (body === undefined || mac === undefined || extra !== undefined) throw new PageTokenError("nextPageToken is malformed");
    const want = Buffer.from(this.mac(body));
    const got = Buffer.from(mac);
    if (want.length !== got.length || !timingSafeEqual(want, got)) throw new PageTokenError("nextPageToken was not issued by this node or was altered");
    let parsed: { v?: unknown; q?: unknown; a?: unknown; x?: unknown };
    try {
      parsed = JSON.parse(Buffer.from(body, "base64url").toString("utf8")) as typeof parsed;
    } catch {
      throw new PageTokenError("nextPageToken is malformed");
    }
    if (parsed.v !== 1 || typeof parsed.a !== "string") throw new PageTokenError("nextPageToken is malformed");
    // Tokens issued before expiry was added carry no "x" and stay usable.
    if (typeof parsed.x === "number" && now >= parsed.x) throw new PageTokenError(`nextPageToken expired at ${new Date(parsed.x).toISOString()}; run the query again`);
    if (parsed.q !== digest) throw new PageTokenError("nextPageToken belongs to a different query (the parameters, perPage and caller must stay the same)");
    return { after: parsed.a };
  }
}
