/**
 * EPCIS event documents over the peer network: the serving side over the node's own events
 * (node/events EventStore and EventVisibility), the receiving side's check against the chain,
 * and where received events go (EventStore.putReceived, apart from own events).
 *
 * A document travels as `{ event, context, ignoreFields? }`: the event object as captured, its
 * document's JSON-LD @context, which the CBV 2.0 hash needs to expand bare vocabulary terms, and
 * the fields the capturing document declared left out of the hash (`ignoreFields`). The receiver
 * recomputes the hash ID (lib/epcis/event-hash.ts) and the record hash the chain holds (the
 * digest, or for an error declaration its declaration hash, lib/epcis/declaration.ts), and
 * requires Provenance.recordOfEventBy(recordHash, serving peer's organisation) to name a record
 * (another organisation's record of the same hash proves nothing).
 *
 * Events that concern a partner are announced to it and listed in an outbox (`o` keys of the p2p
 * store), which the partner reads after being offline (`list events since`).
 *
 * Received copies go back to the organisation that made them when its own store lost them
 * (`receivedDocuments`, served over return-fetch.ts; node/events/refetch.ts on the asking side).
 */
import type { Provider } from "ethers";
import type { AccessDecision } from "../../lib/access.ts";
import { readingBindingsOf } from "../../lib/epcis/readings.ts";
import { Provenance__factory } from "../../lib/contracts/types/index.js";
import { recordIdentityOf } from "../../lib/epcis/record-hash.ts";
import { RecordKind } from "../../lib/registry.ts";
import type { EventStore, StoredEvent } from "../events/store.ts";
import type { EventVisibility } from "../events/visibility.ts";
import type { EventVerifier, VerifiedEvent } from "./fetch-client.ts";
import type { DocumentSource, ServedDocument } from "./fetch-server.ts";
import type { EventSummary } from "./protocol.ts";
import type { ReceivedStore } from "./received-store.ts";
import type { HeldDocuments } from "./return-fetch.ts";

/** An event as it travels: the event object, its document's @context and declared ignoreFields. */
export interface EventDocument {
  event: Record<string, unknown>;
  context: unknown;
  ignoreFields?: string[];
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** The identities of an event document: CBV 2.0 hash ID and the bytes32 its record carries on chain. */
export function identitiesOf(doc: unknown): { hashId: string; recordHash: string } {
  if (!isObject(doc) || !isObject(doc.event)) throw new TypeError("a document is { event, context } with an event object");
  const ignoreFields = doc.ignoreFields ?? [];
  if (!Array.isArray(ignoreFields) || !ignoreFields.every((f) => typeof f === "string")) throw new TypeError("a document's ignoreFields is a list of field names");
  const options = { ...(doc.context === undefined ? {} : { context: doc.context }), ...(ignoreFields.length > 0 ? { ignoreFields } : {}) };
  const { hashId, recordHash } = recordIdentityOf(doc.event, options);
  return { hashId, recordHash };
}

/** The serving side: own events, their visibility, and the outbox of announcements. */
export class EventDocuments implements DocumentSource {
  constructor(
    private readonly store: EventStore,
    /** Who may read an own event: the member's full rule (genealogy from its index, regulators' rule). */
    private readonly visibility: Pick<EventVisibility, "mayRead">,
    private readonly outbox: ReceivedStore,
  ) {}

  /** The own event a hash ID or record hash names (an error declaration only by its record hash). */
  private async own(hash: string): Promise<StoredEvent | undefined> {
    // An own event whose record a reorg dropped is not served: partners would find it unrecorded.
    const found = (await this.store.get(hash)).filter((e) => e.origin.kind === "own" && e.unrecorded === undefined);
    if (hash.startsWith("0x")) return found.find((e) => e.recordHash === hash.toLowerCase());
    return found.find((e) => e.hashId === hash && e.event["errorDeclaration"] === undefined);
  }

  async get(hash: string): Promise<ServedDocument | undefined> {
    const e = await this.own(hash);
    if (e === undefined) return undefined;
    return {
      document: { event: e.event, context: e.context, ...(e.ignoreFields?.length ? { ignoreFields: e.ignoreFields } : {}) } satisfies EventDocument,
      recordHash: e.recordHash,
      ...(typeof e.eventID === "string" ? { eventID: e.eventID } : {}),
      mayRead: (grantee: number): Promise<AccessDecision> => this.visibility.mayRead(e, grantee),
      bindings: () => readingBindingsOf(e.event, e.context),
    };
  }

  concerning(grantee: number, since: number, limit: number): Promise<EventSummary[]> {
    return this.outbox.outbox(grantee, since, limit);
  }
}

/** Most extension fields tried in `ignoredFieldsExplaining` (2^n hashes). */
const MAX_EXPLAINING_FIELDS = 8;

/**
 * The extension fields of a document's event that, left out of the hash, make it hash to
 * `requested`: the signature of a sender whose copy lost the ignoreFields its capturing document
 * declared (an honest node before documents carried them), not of altered data, since every
 * standard field still hashes as recorded. Undefined when no such set exists.
 */
export function ignoredFieldsExplaining(doc: unknown, requested: string): string[] | undefined {
  if (!isObject(doc) || !isObject(doc.event)) return undefined;
  const declared = Array.isArray(doc.ignoreFields) ? doc.ignoreFields.filter((f): f is string => typeof f === "string") : [];
  const candidates = Object.keys(doc.event).filter((k) => k.includes(":") && !k.startsWith("@") && !declared.includes(k));
  if (candidates.length === 0 || candidates.length > MAX_EXPLAINING_FIELDS) return undefined;
  for (let mask = 1; mask < 1 << candidates.length; mask++) {
    const left = candidates.filter((_, i) => (mask & (1 << i)) !== 0);
    try {
      const ids = identitiesOf({ ...doc, ignoreFields: [...declared, ...left] });
      if (ids.hashId === requested || ids.recordHash === requested) return left;
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/** The receiving side's check of a document against lib/epcis and Provenance. */
export function chainEventVerifier(provider: Provider, provenance: string): EventVerifier {
  const p = Provenance__factory.connect(provenance, provider);
  return {
    identitiesOf,
    ignoredFieldsExplaining,
    async recordOf(recordHash, orgId) {
      const recordId = await p.recordOfEventBy(recordHash, orgId);
      if (recordId === 0n) return undefined;
      const r = await p.record(recordId);
      return { recordId, orgId: Number(r.orgId), kind: RecordKind[Number(r.kind)] ?? String(r.kind) };
    },
  };
}

/** Stores a verified event apart from own events, with where it came from and under which grant. */
export async function storeReceivedEvent(store: EventStore, e: VerifiedEvent): Promise<void> {
  const doc = e.document as EventDocument;
  const eventID = typeof doc.event["eventID"] === "string" ? doc.event["eventID"] : undefined;
  await store.putReceived({
    hashId: e.hashId,
    recordHash: e.recordHash,
    ...(eventID ? { eventID } : {}),
    context: doc.context,
    ...(doc.ignoreFields?.length ? { ignoreFields: doc.ignoreFields } : {}),
    owner: e.ownerOrg,
    origin: {
      kind: "received",
      peerId: e.peer,
      org: e.ownerOrg,
      grant: e.grant ? { scopeKey: e.grant.scopeKey, id: e.grant.id } : { scopeKey: "" },
      receivedAt: new Date().toISOString(),
    },
    chain: { recordId: e.recordId.toString(), kind: e.recordKind },
    event: doc.event,
  });
}

/**
 * What this node holds of another organisation's documents, for handing them back to it: only
 * copies received from that organisation (an own event with the same hash is this node's, and a
 * copy received from anybody else is not the asker's to have), and only when Provenance records
 * the hash as made by it.
 */
export function receivedDocuments(store: EventStore, provider: Provider, provenance: string): HeldDocuments {
  const p = Provenance__factory.connect(provenance, provider);
  return {
    async receivedFrom(recordHash, owner) {
      const e = (await store.recordedAs(recordHash)).find((x) => x.origin.kind === "received" && x.owner === owner);
      if (e === undefined) return undefined;
      return { event: e.event, context: e.context, ...(e.ignoreFields?.length ? { ignoreFields: e.ignoreFields } : {}) };
    },
    async recordedBy(recordHash, org) {
      return (await p.recordOfEventBy(recordHash, org)) !== 0n;
    },
  };
}
