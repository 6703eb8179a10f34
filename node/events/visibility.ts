/**
 * Who may read a stored event: its owner always; another organisation only when lib/access.ts
 * (`mayReadItem`) lets it read the owner's data about EVERY item and lot the event names (an event
 * about several items reveals all of them, so a grant on one is not enough). An event that names
 * no item or lot (nothing a grant could cover) is the owner's alone.
 *
 * Genealogy: `containedIn` (the items an item went into) comes from the chain indexer; until one
 * is wired in (`genealogy` option) it is empty, so ItemWithGenealogy grants cover the granted item
 * itself but not yet its components.
 */
import type { Provider } from "ethers";
import { type AccessChecker, type AccessDecision, type ItemScope, mayReadItem } from "../../lib/access.ts";
import { Provenance__factory } from "../../lib/contracts/types/index.js";
import { toEpcisEvent } from "../../lib/epcis/events.ts";
import { subjectsOf } from "../../lib/epcis/subjects.ts";
import type { StoredEvent } from "./store.ts";

const ZERO = "0x" + "00".repeat(32);

export interface VisibilityOptions {
  access: AccessChecker;
  provider: Provider;
  provenance: string;
  /** Keys of the items `key` went into (assembly parents, transformation outputs), transitively. */
  genealogy?: (key: string) => Promise<readonly string[]>;
}

export class EventVisibility {
  private readonly provenance;
  private readonly batches = new Map<string, Promise<string | undefined>>();

  constructor(private readonly options: VisibilityOptions) {
    this.provenance = Provenance__factory.connect(options.provenance, options.provider);
  }

  /** The batch an item belongs to on chain (fixed at creation, so cached). */
  private batchOf(key: string): Promise<string | undefined> {
    let p = this.batches.get(key);
    if (p === undefined) {
      p = this.provenance.itemState(key).then((s) => (s.exists && s.batch !== ZERO ? s.batch : undefined));
      p.catch(() => this.batches.delete(key));
      if (this.batches.size > 100_000) this.batches.clear();
      this.batches.set(key, p);
    }
    return p;
  }

  /** Whether organisation `org` may read stored event `e` now. */
  async mayRead(e: StoredEvent, org: number): Promise<AccessDecision> {
    if (org !== 0 && org === e.owner) return { allowed: true, via: "owner" };
    const s = subjectsOf(toEpcisEvent(e.event));
    const scopes: ItemScope[] = [];
    for (const key of s.itemKeys) {
      const batchKey = await this.batchOf(key);
      const containedIn = this.options.genealogy ? await this.options.genealogy(key) : [];
      scopes.push({ key, ...(batchKey ? { batchKey } : {}), containedIn });
    }
    for (const key of s.batchKeys) scopes.push({ key, batchKey: key });
    if (scopes.length === 0) return { allowed: false };
    let first: AccessDecision | undefined;
    for (const scope of scopes) {
      const d = await mayReadItem(this.options.access, org, e.owner, scope);
      if (!d.allowed) return d;
      first ??= d;
    }
    return first!;
  }
}
