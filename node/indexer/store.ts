/**
 * The index's LevelDB store: string keys in namespaces (see `K`), JSON values.
 *
 * Every block's changes go through a `BlockWriter`, an overlay that remembers the value each key
 * had before the block, and are committed as one LevelDB batch together with the block's undo
 * record (those previous values), its hash and the checkpoint. So a block is applied entirely or
 * not at all, and a block can be undone exactly (reorgs) as long as its undo record is kept.
 */
import { mkdirSync } from "node:fs";
import { Level } from "level";

/** Fixed-width decimal, so keys sort numerically. */
export const pad = (n: number | bigint, width = 12): string => n.toString().padStart(width, "0");

/**
 * The version of the key layout below. Raise it when a change adds keys that earlier blocks should
 * have (e.g. shipments by organisation, certificates by issuer): an index built with an older
 * layout is then rebuilt from the chain at open, since everything in it derives from the chain.
 * 2: shipments by organisation (`so:`) and certificates by issuer (`ci:`).
 */
export const INDEX_LAYOUT = 2;

/** Key builders: one place for the key layout. Hex keys are lower case 0x-prefixed. */
export const K = {
  checkpoint: "meta:checkpoint",
  config: "meta:config",
  /** The key layout version the index was built with (INDEX_LAYOUT). */
  layout: "meta:layout",
  governance: "meta:governance",
  blockHash: (n: number) => `bh:${pad(n)}`,
  undo: (n: number) => `undo:${pad(n)}`,
  item: (key: string) => `item:${key}`,
  batch: (key: string) => `batch:${key}`,
  batchItem: (batch: string, item: string) => `bi:${batch}:${item}`,
  record: (id: number) => `rec:${pad(id)}`,
  /** The first record of an event hash (Provenance.recordOfEvent). */
  eventHash: (hash: string) => `evh:${hash}`,
  /** The record of an event hash by one organisation (Provenance.recordOfEventBy). */
  eventHashBy: (hash: string, org: number) => `evo:${hash}:${org}`,
  itemRecord: (key: string, recordId: number) => `ir:${key}:${pad(recordId)}`,
  /**
   * Genealogy edges of an item as one list per direction, so a graph walk reads a whole frontier
   * with one getMany: forward (to outputs and parents) and backward (to inputs and children).
   */
  forward: (key: string) => `gf:${key}`,
  backward: (key: string) => `gb:${key}`,
  shipment: (item: string, recordId: number) => `sh:${item}:${pad(recordId)}`,
  /** An organisation's shipments by direction, one key per item shipped (value: the `shipment` key). */
  shipmentOfOrg: (org: number, direction: "in" | "out", recordId: number, item: string) => `so:${pad(org, 10)}:${direction}:${pad(recordId)}:${item}`,
  /** An organisation's quantity of a lot: one key per (org, lot), so its inventory is one prefix scan. */
  lotHolding: (org: number, batch: string) => `lh:${pad(org, 10)}:${batch}`,
  /** A lot in transit, under each end (`out` at the sender, `in` at the consignee; `other`: the other end). */
  lotTransit: (org: number, direction: "in" | "out", batch: string, other: number) => `lt:${pad(org, 10)}:${direction}:${batch}:${pad(other, 10)}`,
  certificate: (id: string) => `cert:${id}`,
  certificateOfSubject: (subject: string, block: number, logIndex: number) => `cs:${subject}:${pad(block)}:${pad(logIndex, 6)}`,
  certificateOfIssuer: (issuer: number, block: number, logIndex: number) => `ci:${pad(issuer, 10)}:${pad(block)}:${pad(logIndex, 6)}`,
  accreditation: (certifier: number, scope: string, index: number) => `ac:${pad(certifier, 10)}:${scope}:${pad(index, 6)}`,
  grant: (id: string) => `gr:${id}`,
  grantByOwner: (owner: number, id: string) => `gro:${pad(owner, 10)}:${id}`,
  grantToGrantee: (grantee: number, id: string) => `grg:${pad(grantee, 10)}:${id}`,
  anchor: (node: string, sequence: number) => `an:${node}:${pad(sequence)}`,
  org: (id: number) => `org:${pad(id, 10)}`,
  account: (address: string) => `acct:${address}`,
  node: (id: number) => `node:${pad(id, 10)}`,
  proposal: (id: number) => `prop:${pad(id)}`,
  openProposal: (id: number) => `popen:${pad(id)}`,
};

/** All keys starting with `prefix`, as iterator bounds. */
export const prefixRange = (prefix: string) => ({ gte: prefix, lt: prefix + "\xff" });

export interface Checkpoint {
  /** Last block whose changes are all in the index. */
  number: number;
  /** Its hash; null for the start (the block before the deployment), which is never checked. */
  hash: string | null;
  /** Its timestamp, Unix s (0 at the start): the index's "now" for time-dependent answers. */
  time: number;
  /** Contract events applied so far. */
  events: number;
}

type Raw = string | undefined;
const DELETE = Symbol("delete");
/** A value restored from an undo record: already serialised. */
class RawValue {
  constructor(readonly raw: string) {}
}

export class IndexStore {
  private constructor(readonly db: Level<string, string>, readonly location: string) {}

  /** Opens (creating) the index in `dir`. LevelDB's lock keeps a second process out. */
  static async open(dir: string): Promise<IndexStore> {
    mkdirSync(dir, { recursive: true });
    const db = new Level<string, string>(dir, { keyEncoding: "utf8", valueEncoding: "utf8" });
    try {
      await db.open();
    } catch (e) {
      const detail = (e as { cause?: Error }).cause?.message ?? (e as Error).message;
      throw new Error(`cannot open the chain index ${dir}: ${detail}${/lock/i.test(detail) ? " (is another process using it?)" : ""}`, { cause: e });
    }
    return new IndexStore(db, dir);
  }

  async close(): Promise<void> {
    await this.db.close();
  }

  /**
   * Point reads are synchronous LevelDB reads (the index is small and its blocks cached): a
   * gateway answer makes a dozen of them, and each asynchronous read costs a thread-pool round
   * trip and a promise, several times the read itself. A block is committed as one batch, so a
   * read sees a block wholly or not at all, as before.
   */
  async get<T>(key: string): Promise<T | undefined> {
    const raw = this.db.getSync(key);
    return raw === undefined ? undefined : (JSON.parse(raw) as T);
  }

  async getMany<T>(keys: string[]): Promise<(T | undefined)[]> {
    return keys.map((k) => {
      const raw = this.db.getSync(k);
      return raw === undefined ? undefined : (JSON.parse(raw) as T);
    });
  }

  /** Keys (without values) under `prefix`, in order; at most `limit`. */
  async keys(prefix: string, options: { limit?: number; reverse?: boolean } = {}): Promise<string[]> {
    return this.db.keys({ ...prefixRange(prefix), limit: options.limit ?? -1, reverse: options.reverse ?? false }).all();
  }

  /** Entries under `prefix`, in order; at most `limit`. */
  async entries<T>(prefix: string, limit = -1): Promise<[string, T][]> {
    const out = await this.db.iterator({ ...prefixRange(prefix), limit }).all();
    return out.map(([k, v]) => [k, JSON.parse(v) as T]);
  }

  async checkpoint(): Promise<Checkpoint | undefined> {
    return this.get<Checkpoint>(K.checkpoint);
  }

  writer(): BlockWriter {
    return new BlockWriter(this);
  }

  /** Every index entry except bookkeeping (checkpoint, block hashes, undo records): for comparing indexes. */
  async dump(): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    for await (const [k, v] of this.db.iterator()) {
      if (k.startsWith("meta:checkpoint") || k.startsWith("bh:") || k.startsWith("undo:")) continue;
      out.set(k, v);
    }
    return out;
  }
}

/**
 * One block's (or one rewind's) changes: reads see the writes made so far, and the value each key
 * had before is remembered for the undo record. Values are kept as objects and serialised once,
 * at commit, so a record touched by hundreds of events costs one JSON encoding.
 */
export class BlockWriter {
  private readonly changes = new Map<string, unknown>();
  private readonly before = new Map<string, string | null>();

  constructor(private readonly store: IndexStore) {}

  async get<T>(key: string): Promise<T | undefined> {
    if (this.changes.has(key)) {
      const v = this.changes.get(key);
      if (v === DELETE) return undefined;
      return v instanceof RawValue ? (JSON.parse(v.raw) as T) : (v as T);
    }
    const raw = await this.original(key);
    return raw === null ? undefined : (JSON.parse(raw) as T);
  }

  async put(key: string, value: unknown): Promise<void> {
    await this.original(key);
    this.changes.set(key, value);
  }

  /**
   * Puts a key that cannot exist yet (its name holds a never-reused id: a record id, an event
   * hash, a new item key), without reading it first; its undo entry is "absent".
   */
  putNew(key: string, value: unknown): void {
    if (!this.before.has(key)) this.before.set(key, null);
    this.changes.set(key, value);
  }

  async del(key: string): Promise<void> {
    await this.original(key);
    this.changes.set(key, DELETE);
  }

  /** Sets `key` to a raw serialised value or deletes it (null): undo records replay through this. */
  async restore(key: string, raw: string | null): Promise<void> {
    await this.original(key);
    this.changes.set(key, raw === null ? DELETE : new RawValue(raw));
  }

  get size(): number {
    return this.changes.size;
  }

  /** [key, previous raw value or null] for every key this writer changed. */
  undoRecord(): [string, string | null][] {
    return [...this.before.entries()];
  }

  /** Commits the changes plus `extra` raw puts/deletes in one atomic LevelDB batch. */
  async commit(extra: { put?: [string, string][]; del?: string[] } = {}): Promise<void> {
    const batch = this.store.db.batch();
    for (const [k, v] of this.changes) {
      if (v === DELETE) batch.del(k);
      else if (v instanceof RawValue) batch.put(k, v.raw);
      else batch.put(k, JSON.stringify(v));
    }
    for (const [k, v] of extra.put ?? []) batch.put(k, v);
    for (const k of extra.del ?? []) batch.del(k);
    await batch.write();
  }

  private async original(key: string): Promise<string | null> {
    if (this.before.has(key)) return this.before.get(key)!;
    const raw: Raw = await this.store.db.get(key);
    this.before.set(key, raw ?? null);
    return raw ?? null;
  }
}
