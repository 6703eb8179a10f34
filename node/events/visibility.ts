/**
 * Who may read a stored event: lib/access.ts `mayReadEvent`, the one rule for documents. Its owner
 * always; a regulator when the consortium's rule covers the kind of record the chain holds for it;
 * another organisation only when it may read the owner's data about EVERY item and lot the event
 * names (an event about several items reveals all of them, so a grant on one is not enough). An
 * event that names no item or lot (nothing a grant could cover) is the owner's alone.
 *
 * The consignee of a shipment reads its shipping document through `shipments` (the chain index).
 *
 * Genealogy grants reach the components through `genealogy`: the chain index (gateway/indexer
 * IndexQueries), which applies them "as the grantor knew it". Without it an ItemWithGenealogy
 * grant covers the granted item only.
 */
import type { Provider } from "ethers";
import { type AccessChecker, type AccessDecision, type GenealogySource, type ItemScope, type ShipmentSource, mayReadEvent } from "../../lib/access.ts";
import { Provenance__factory } from "../../lib/contracts/types/index.js";
import { toEpcisEvent } from "../../lib/epcis/events.ts";
import { subjectsOf } from "../../lib/epcis/subjects.ts";
import type { RecordKind } from "../../lib/registry.ts";
import type { StoredEvent } from "./store.ts";

const ZERO = "0x" + "00".repeat(32);

export interface VisibilityOptions {
  access: AccessChecker;
  provider: Provider;
  provenance: string;
  /**
   * Where genealogy grants are walked (the chain index). A function giving the keys an item went
   * into is still accepted, but it trusts every link, even one the grantee added after the grant.
   */
  genealogy?: GenealogySource | ((key: string) => Promise<readonly string[]>);
  /** Where the shipments a record made are found (the chain index): without it a consignee gets no right to the shipping document. */
  shipments?: ShipmentSource;
}

/** Bounded memo of immutable chain facts; a failed or empty look-up is asked again. */
class Memo<T> {
  private readonly map = new Map<string, Promise<T>>();
  get(key: string, load: () => Promise<T>, keep: (v: T) => boolean): Promise<T> {
    let p = this.map.get(key);
    if (p === undefined) {
      p = load();
      if (this.map.size > 100_000) this.map.clear();
      this.map.set(key, p);
      p.then((v) => keep(v) || this.map.delete(key), () => this.map.delete(key));
    }
    return p;
  }
}

export class EventVisibility {
  private readonly provenance;
  private readonly batches = new Memo<string | undefined>();
  private readonly kinds = new Memo<RecordKind | undefined>();

  constructor(private readonly options: VisibilityOptions) {
    this.provenance = Provenance__factory.connect(options.provenance, options.provider);
  }

  /** The checker this visibility asks (the gateway decides record-only history entries with it too). */
  get access(): AccessChecker {
    return this.options.access;
  }

  /** The batch an item belongs to on chain (fixed at creation, so kept). */
  private batchOf(key: string): Promise<string | undefined> {
    return this.batches.get(key, () => this.provenance.itemState(key).then((s) => (s.exists && s.batch !== ZERO ? s.batch : undefined)), (v) => v !== undefined);
  }

  /** The kind of the record of `recordHash` by its owner `owner`; undefined while unrecorded. */
  private recordKindOf(recordHash: string, owner: number): Promise<RecordKind | undefined> {
    return this.kinds.get(
      `${recordHash.toLowerCase()}:${owner}`,
      async () => {
        const id = await this.provenance.recordOfEventBy(recordHash, owner);
        return id === 0n ? undefined : (Number((await this.provenance.record(id)).kind) as RecordKind);
      },
      (v) => v !== undefined,
    );
  }

  /** The items and lots an event names, as the access rule sees them. */
  async subjectsOf(e: StoredEvent): Promise<ItemScope[]> {
    const s = subjectsOf(toEpcisEvent(e.event));
    const g = this.options.genealogy;
    const scopes: ItemScope[] = [];
    for (const key of s.itemKeys) {
      const batchKey = await this.batchOf(key);
      const genealogy = typeof g === "function" ? { containedIn: await g(key) } : g ? { genealogy: g } : {};
      scopes.push({ key, ...(batchKey ? { batchKey } : {}), ...genealogy });
    }
    for (const key of s.batchKeys) scopes.push({ key, batchKey: key, ...(g && typeof g !== "function" ? { genealogy: g } : {}) });
    return scopes;
  }

  /** Whether organisation `org` may read stored event `e` now. */
  async mayRead(e: StoredEvent, org: number): Promise<AccessDecision> {
    if (org !== 0 && org === e.owner) return { allowed: true, via: "owner" };
    const recordKind = this.options.access.regulatorMayRead ? await this.recordKindOf(e.recordHash, e.owner) : undefined;
    const shipping = this.options.shipments ? { shipping: { recordHash: e.recordHash, shipments: this.options.shipments } } : {};
    return mayReadEvent(this.options.access, org, e.owner, { subjects: await this.subjectsOf(e), ...(recordKind !== undefined ? { recordKind } : {}), ...shipping });
  }
}
