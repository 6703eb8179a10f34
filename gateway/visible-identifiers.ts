/**
 * The GS1 identifier (Digital Link) of an on-chain key, as far as one caller may see it. The chain
 * holds only keys (hashes); identifiers live in EPCIS documents off chain. A key is named only
 * where this node holds a document recorded about it that the caller may read (the one access
 * rule, node/events visibility), so a page never learns a serial or lot through a side door.
 *
 * The event store keeps, per key, which of its documents name it and with which identifier
 * (EventStore.namesOf, written when a document is stored): naming a part reads that short list,
 * then for each document the chain's record of it (made by its owner, naming the key) and the
 * caller's right to read it, both decided now. A part no document names costs a lookup in memory,
 * whatever block the index is at, so a genealogy built afresh after a new block does not parse
 * and hash its parts' documents again.
 *
 * A part whose documents sit on another organisation's node (a supplier's billet in the OEM's
 * pump) is named once its document has come over: `fetchMissing` asks the owners' nodes (the
 * gateway's `remote` service, node/p2p/remote.ts: verified against the chain, stored as received)
 * for one record per unnamed key that the caller may read by the record's own subjects. Only for
 * the node's own organisation: a node asks with its own rights, never on another caller's behalf.
 * The owner's node decides again on its side, and the received document is decided again here.
 */
import { type AccessDecision, type ItemScope, mayReadEvent } from "../lib/access.ts";
import type { RecordKind } from "../lib/registry.ts";
import type { HistoryEntry, IndexQueries } from "../node/indexer/queries.ts";
import type { GatewayServices } from "./services.ts";

/** Records of one key looked at, at most, for documents to fetch from their owners (its commissioning comes first). */
const RECORDS_PER_KEY = 20;

/**
 * Whether `caller` may read the document of an indexed record, decided on the items and lots the
 * record names (the one rule, lib/access.ts `mayReadEvent`): for a document this node does not hold.
 */
export async function recordDecision(services: GatewayServices, q: IndexQueries, caller: number, e: HistoryEntry): Promise<AccessDecision> {
  const access = services.events?.visibility?.access ?? services.index?.access;
  if (!access) return { allowed: false };
  const subjects: ItemScope[] = [];
  for (const k of e.keys) {
    const isBatch = (await q.batch(k)) !== undefined;
    const batch = isBatch ? k : ((await q.item(k))?.batch ?? undefined);
    subjects.push({ key: k, ...(batch ? { batchKey: batch } : {}), genealogy: q });
  }
  return mayReadEvent(access, caller, e.org, { subjects, recordKind: e.kind as RecordKind, shipping: { recordHash: e.eventHash, shipments: q } });
}

/** A lookup for one caller (memoised per key for one response): the identifier, or undefined. */
export interface IdentifierLookup {
  (key: string): Promise<string | undefined>;
  /**
   * Brings over, from their owners' nodes, documents naming those of `keys` this node cannot name
   * yet and the caller may read (the node's own organisation only; bounded in time by the remote
   * service). `complete` is false when some did not arrive (an answer built now is not kept).
   */
  fetchMissing(keys: readonly string[]): Promise<{ complete: boolean }>;
}

export function visibleIdentifiers(services: GatewayServices, q: IndexQueries, caller: number): IdentifierLookup {
  const memo = new Map<string, Promise<string | undefined>>();
  const lookup = async (key: string): Promise<string | undefined> => {
    const store = services.events?.store;
    const visibility = services.events?.visibility;
    if (!store || !visibility) return undefined;
    for (const { sid, identifier } of await store.namesOf(key)) {
      const stored = await store.bySid(sid);
      if (!stored) continue;
      // Recorded about the key: its owner's record of it on chain names the key (or the key's batch).
      const record = await q.recordOfEventBy(stored.recordHash, stored.owner);
      if (!record || !(record.keys.some((k) => k.toLowerCase() === key) || (await recordOfBatch(record.keys, key)))) continue;
      if (!(await visibility.mayRead(stored, caller)).allowed) continue;
      return identifier;
    }
    return undefined;
  };
  /** Whether a record naming `keys` covers item `key` through its batch (a batch-wide record: a lot's recall). */
  const recordOfBatch = async (keys: readonly string[], key: string) => {
    const batch = (await q.item(key))?.batch?.toLowerCase();
    return batch !== undefined && keys.some((k) => k.toLowerCase() === batch);
  };
  const named = (key: string) => {
    const k = key.toLowerCase();
    if (!memo.has(k)) memo.set(k, lookup(k));
    return memo.get(k)!;
  };

  const fetchMissing = async (keys: readonly string[]): Promise<{ complete: boolean }> => {
    const store = services.events?.store;
    const remote = services.remote;
    if (!store || !remote || caller !== services.organisation.id) return { complete: true };
    const decided = new Map<string, Promise<boolean>>();
    let complete = true;
    // A second round for keys the first one's documents did not name (a heat's melt document names
    // its billets but not always the lot: its recall does).
    let left = keys.map((k) => k.toLowerCase());
    for (let round = 0; round < 2 && left.length > 0; round++) {
      const wanted = await wantedFor(left, decided);
      if (wanted.size === 0) break;
      const missing = await remote.fetchDocuments([...wanted.values()].map(({ owner, recordHash }) => ({ owner, recordHash })));
      if (missing.size > 0) complete = false;
      // Looked up again: the documents that arrived are in the store now.
      const asked = [...wanted.values()].flatMap((w) => w.keys);
      for (const k of asked) memo.delete(k);
      left = [];
      for (const k of asked) if ((await named(k)) === undefined) left.push(k);
    }
    return { complete };
  };

  /** Per record hash: one record of each unnamed key that this node does not hold and the caller may read. */
  const wantedFor = async (keys: readonly string[], decided: Map<string, Promise<boolean>>) => {
    const store = services.events!.store;
    const wanted = new Map<string, { owner: number; recordHash: string; keys: string[] }>();
    for (const raw of keys) {
      const key = raw.toLowerCase();
      if ((await named(key)) !== undefined) continue;
      for (const record of await q.history(key, { limit: RECORDS_PER_KEY })) {
        if (record.org === caller) continue;
        const hash = record.eventHash.toLowerCase();
        const pending = wanted.get(hash);
        if (pending) {
          pending.keys.push(key);
          break;
        }
        if ((await store.get(hash)).some((d) => d.recordHash.toLowerCase() === hash && d.owner === record.org)) continue;
        if (!decided.has(hash)) decided.set(hash, recordDecision(services, q, caller, record).then((d) => d.allowed));
        if (!(await decided.get(hash))) continue;
        wanted.set(hash, { owner: record.org, recordHash: hash, keys: [key] });
        break;
      }
    }
    return wanted;
  };
  return Object.assign(named, { fetchMissing });
}
