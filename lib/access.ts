/**
 * Who may read whose off-chain data: the one rule that member nodes (answering a peer) and the
 * gateway (answering a partner) both apply.
 *
 * AccessGrants on chain holds the grants and answers "is this grant live and are both
 * organisations active" (`isAllowed` / `isAllowedAt`). What it cannot know is which grants cover a
 * given item, because identifiers and the genealogy graph are resolved off chain:
 * - an organisation always reads its own data;
 * - an item is covered by a grant on the item itself (Item or ItemWithGenealogy),
 * - by a Batch grant on its batch,
 * - and by an ItemWithGenealogy grant on any item it went into (a product it was assembled into
 *   or an output it was transformed into): buying a product with its genealogy lets the OEM see
 *   the data of its components, but a plain Item grant on the product does not.
 * - a data stream is covered by a DataStream grant, or for a time range by an AnchorWindowRange
 *   grant whose range holds the whole requested range.
 */
import { type ContractRunner, keccak256, toUtf8Bytes } from "ethers";
import { AccessGrants__factory, Consortium__factory } from "./contracts/types/index.js";
import { PositiveCache } from "./positive-cache.ts";
import { ScopeKind } from "./registry.ts";

/** The scope key AccessGrants uses for a data stream. */
export const streamScopeKey = (stream: string): string => keccak256(toUtf8Bytes(stream));

/** The chain questions the rule needs; `ChainAccessChecker` answers them from AccessGrants. */
export interface AccessChecker {
  /** AccessGrants.isAllowed: a live grant not limited to a time range, both organisations active. */
  isAllowed(grantee: number, owner: number, scopeKey: string): Promise<boolean>;
  /** AccessGrants.isAllowedAt: as isAllowed, and a range grant must hold `dataTime`. */
  isAllowedAt(grantee: number, owner: number, scopeKey: string, dataTime: number): Promise<boolean>;
  /** The kind of the grant from `owner` to `grantee` on `scopeKey`; undefined when never issued. */
  grantKind(owner: number, grantee: number, scopeKey: string): Promise<ScopeKind | undefined>;
}

/** An item as the access rule sees it. */
export interface ItemScope {
  /** The item key (lib/identifiers.ts itemKey). */
  key: string;
  /** Its batch key, when it belongs to a batch. */
  batchKey?: string;
  /** Keys of the items it went into (assembly parents, transformation outputs), transitively. */
  containedIn?: readonly string[];
}

/** Why access was given, for the audit trail and for marking data as granted. */
export type AccessDecision =
  | { allowed: true; via: "owner" }
  | { allowed: true; via: "grant"; scopeKey: string; kind: ScopeKind }
  | { allowed: false };

const DENIED: AccessDecision = { allowed: false };

/** Whether `grantee` may read `owner`'s data about `item` now. */
export async function mayReadItem(checker: AccessChecker, grantee: number, owner: number, item: ItemScope): Promise<AccessDecision> {
  if (grantee !== 0 && grantee === owner) return { allowed: true, via: "owner" };
  const covered = async (scopeKey: string, kinds: readonly ScopeKind[]): Promise<AccessDecision | undefined> => {
    if (!(await checker.isAllowed(grantee, owner, scopeKey))) return undefined;
    const kind = await checker.grantKind(owner, grantee, scopeKey);
    return kind !== undefined && kinds.includes(kind) ? { allowed: true, via: "grant", scopeKey, kind } : undefined;
  };
  const own = await covered(item.key, [ScopeKind.Item, ScopeKind.ItemWithGenealogy]);
  if (own) return own;
  if (item.batchKey) {
    const batch = await covered(item.batchKey, [ScopeKind.Batch]);
    if (batch) return batch;
  }
  for (const parent of item.containedIn ?? []) {
    const viaParent = await covered(parent, [ScopeKind.ItemWithGenealogy]);
    if (viaParent) return viaParent;
  }
  return DENIED;
}

/**
 * Whether `grantee` may read `owner`'s readings of `stream` with source time in [from, to)
 * (the units the readings carry, Unix ms).
 */
export async function mayReadStream(
  checker: AccessChecker,
  grantee: number,
  owner: number,
  stream: string,
  from: number,
  to: number,
): Promise<AccessDecision> {
  if (grantee !== 0 && grantee === owner) return { allowed: true, via: "owner" };
  if (!(to > from)) return DENIED;
  const scopeKey = streamScopeKey(stream);
  if (await checker.isAllowed(grantee, owner, scopeKey)) return { allowed: true, via: "grant", scopeKey, kind: ScopeKind.DataStream };
  // A range grant covers one contiguous range, so holding both ends means holding all of it.
  if ((await checker.isAllowedAt(grantee, owner, scopeKey, from)) && (await checker.isAllowedAt(grantee, owner, scopeKey, to - 1))) {
    return { allowed: true, via: "grant", scopeKey, kind: ScopeKind.AnchorWindowRange };
  }
  return DENIED;
}

export interface ChainAccessCheckerOptions {
  /** How long an answer is reused, ms (default 10 s). Grant and membership events clear it sooner. */
  ttlMs?: number;
  /** Upper bound on cached answers (default 50,000); the oldest go first. */
  maxEntries?: number;
  now?: () => number;
}

/**
 * AccessChecker over the AccessGrants contract, with a short cache of positive answers. `watch()`
 * clears the cache on every AccessGranted / AccessRevoked and every membership change, so a
 * revocation takes effect as soon as the node sees its block, and the TTL bounds staleness if an
 * event is missed; refusals are never cached, so a new grant works at once.
 */
export class ChainAccessChecker implements AccessChecker {
  private readonly grants;
  private readonly consortium;
  // Only a "yes" is kept: a refusal is always the chain's answer of the moment, so a grant
  // issued a moment ago is honoured before its event reaches the watcher.
  private readonly cache: PositiveCache<unknown>;

  constructor(addresses: { accessGrants: string; consortium: string }, runner: ContractRunner, options: ChainAccessCheckerOptions = {}) {
    this.grants = AccessGrants__factory.connect(addresses.accessGrants, runner);
    this.consortium = Consortium__factory.connect(addresses.consortium, runner);
    this.cache = new PositiveCache<unknown>({
      ttlMs: options.ttlMs ?? 10_000,
      maxEntries: options.maxEntries ?? 50_000,
      isPositive: (v) => v !== false && v !== undefined,
      ...(options.now ? { now: options.now } : {}),
    });
  }

  isAllowed(grantee: number, owner: number, scopeKey: string): Promise<boolean> {
    return this.cached(`a:${grantee}:${owner}:${scopeKey}`, () => this.grants.isAllowed(grantee, owner, scopeKey));
  }

  isAllowedAt(grantee: number, owner: number, scopeKey: string, dataTime: number): Promise<boolean> {
    return this.cached(`t:${grantee}:${owner}:${scopeKey}:${dataTime}`, () => this.grants.isAllowedAt(grantee, owner, scopeKey, dataTime));
  }

  grantKind(owner: number, grantee: number, scopeKey: string): Promise<ScopeKind | undefined> {
    return this.cached(`k:${owner}:${grantee}:${scopeKey}`, async () => {
      const g = await this.grants.grant(await this.grants.grantIdOf(owner, grantee, scopeKey));
      return g.owner === 0n ? undefined : (Number(g.kind) as ScopeKind);
    });
  }

  /** Forgets every cached answer. */
  invalidate(): void {
    this.cache.clear();
  }

  /**
   * Clears the cache on grant and membership events (ethers subscriptions; polling on HTTP
   * providers). Returns the function that stops watching.
   */
  async watch(): Promise<() => Promise<void>> {
    const clear = () => this.invalidate();
    const { AccessGranted, AccessRevoked } = this.grants.filters;
    const { OrgStatusChanged } = this.consortium.filters;
    await this.grants.on(AccessGranted, clear);
    await this.grants.on(AccessRevoked, clear);
    await this.consortium.on(OrgStatusChanged, clear);
    return async () => {
      await this.grants.off(AccessGranted, clear);
      await this.grants.off(AccessRevoked, clear);
      await this.consortium.off(OrgStatusChanged, clear);
    };
  }

  private cached<T>(key: string, load: () => Promise<T>): Promise<T> {
    return this.cache.get(key, load) as Promise<T>;
  }
}
