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
 *
 * A genealogy grant covers the product's subtree as the grantor knew it: a genealogy link counts
 * for a grant when the grantor recorded it, or when it was recorded in a block before the grant's
 * (latest) issue. Links the grantee or a third party adds later never widen it (`GenealogySource`).
 *
 * A document (an EPCIS event) is readable only when every item and lot it names is (`mayReadEvent`);
 * that one rule decides a document on every route and on the peer network. By shipping items to an
 * organisation the sender discloses them to it: the consignee the chain records for a shipment
 * reads that shipment's own shipping document (nothing earlier about its items), while the
 * shipment stands (`ShipmentSource`). Organisations with the
 * Regulator role read what the consortium's rule on AccessGrants lets them (`RegulatorScope`).
 */
import { type ContractRunner, keccak256, toUtf8Bytes } from "ethers";
import { AccessGrants__factory, Consortium__factory } from "./contracts/types/index.js";
import { PositiveCache } from "./positive-cache.ts";
import { RecordKind, ScopeKind } from "./registry.ts";
import { Backoff, sleep } from "./retry.ts";

const BYTES32 = /^0x[0-9a-fA-F]{64}$/;
const word = (n: number, what: string): string => {
  if (!Number.isInteger(n) || n < 0 || n > 0xffff_ffff) throw new RangeError(`grantIdOf: ${what} must be an organisation id (uint32), got ${n}`);
  return n.toString(16).padStart(64, "0");
};

/**
 * AccessGrants.grantIdOf: the id of the grant from `owner` to `grantee` on `scopeKey`, i.e.
 * keccak256(abi.encode(uint32, uint32, bytes32)). The three words are laid out by hand: every
 * access decision and log entry computes one, and the ABI encoder costs more than the hash.
 */
export const grantIdOf = (owner: number, grantee: number, scopeKey: string): string => {
  if (!BYTES32.test(scopeKey)) throw new RangeError(`grantIdOf: scopeKey must be 0x and 64 hex digits, got ${JSON.stringify(scopeKey)}`);
  return keccak256(`0x${word(owner, "owner")}${word(grantee, "grantee")}${scopeKey.slice(2)}`);
};

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
  /**
   * AccessGrants.regulatorMayRead: `org` is an active Regulator and the consortium's rule lets
   * regulators read `scope`. A checker without it gives regulators nothing beyond their grants.
   */
  regulatorMayRead?(org: number, scope: RegulatorScope): Promise<boolean>;
  /**
   * Moves whenever answers this checker gave before may have changed (a grant or membership event
   * made it forget what it kept): answers built on its decisions may be reused while it stays.
   * Undefined when the checker cannot tell (it answers from the chain of the moment, or keeps
   * answers without watching for changes): then nothing built on its decisions is reused.
   */
  readonly generation?: number | undefined;
}

/** What the consortium's rule may let regulators read (AccessGrants.RegulatorScope bit flags). */
export enum RegulatorScope {
  RecallEvents = 1,
  InspectionEvents = 2,
  DispositionEvents = 4,
  RecallScopeItems = 8,
}

/** The rule AccessGrants applies until governance sets another: all of the above. */
export const DEFAULT_REGULATOR_RULE = RegulatorScope.RecallEvents | RegulatorScope.InspectionEvents | RegulatorScope.DispositionEvents | RegulatorScope.RecallScopeItems;

/** A genealogy link: item `from` went into `to` (assembly parent or transformation output). */
export interface GenealogyLink {
  from: string;
  to: string;
  /** Block of the record that made the link. */
  block: number;
  /** The organisation that recorded it. */
  recordedBy: number;
}

/** The genealogy the rule walks; the chain index answers it (gateway/indexer IndexQueries). */
export interface GenealogySource {
  /** The links out of each of `keys` (to the items each went into), one list per key. */
  linksUp(keys: readonly string[]): Promise<GenealogyLink[][]>;
  /** Block of the latest issue of the grant `owner` -> `grantee` on `scopeKey`; undefined when not (yet) known. */
  grantIssuedBlock(owner: number, grantee: number, scopeKey: string): Promise<number | undefined>;
  /** Whether the item is in a recall scope: it, its batch, or an item it came from was recalled. */
  inRecallScope?(key: string): Promise<boolean>;
}

/** One item a ship record sent, as the chain index holds it (node/indexer ShipmentDoc). */
export interface ShippedItem {
  item: string;
  /** The consignee organisation. */
  to: number;
  state: "in-transit" | "received" | "cancelled";
}

/** The shipments the chain links to a record; the chain index answers it (IndexQueries). */
export interface ShipmentSource {
  /** The items the record of `eventHash` made by `owner` shipped; empty when it shipped nothing. */
  shippedByRecord(eventHash: string, owner: number): Promise<ShippedItem[]>;
}

/** An item as the access rule sees it. */
export interface ItemScope {
  /** The item key (lib/identifiers.ts itemKey). */
  key: string;
  /** Its batch key, when it belongs to a batch. */
  batchKey?: string;
  /**
   * Keys of the items it went into, transitively, trusted as known to every grantor. Prefer
   * `genealogy`, which applies "as the grantor knew it".
   */
  containedIn?: readonly string[];
  /** Where to walk the items it went into, link by link. */
  genealogy?: GenealogySource;
}

/** Why access was given, for the audit trail and for marking data as granted. */
export type AccessDecision =
  | { allowed: true; via: "owner" }
  | {
      allowed: true;
      via: "grant";
      scopeKey: string;
      kind: ScopeKind;
      /** For coverage through genealogy: item keys from the granted product down to the item read. */
      path?: string[];
    }
  | { allowed: true; via: "rule"; rule: RegulatorScope }
  /** The reader is the consignee of the shipment this shipping document's record made. */
  | { allowed: true; via: "consignee" }
  | { allowed: false };

/** Most items a genealogy walk visits for one question. */
const MAX_GENEALOGY_NODES = 10_000;

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
  if (item.genealogy) {
    const viaGenealogy = await coveredThroughGenealogy(grantee, owner, item.key, item.genealogy, (k) => covered(k, [ScopeKind.ItemWithGenealogy]));
    if (viaGenealogy) return viaGenealogy;
  }
  if (checker.regulatorMayRead && item.genealogy?.inRecallScope && (await item.genealogy.inRecallScope(item.key))) {
    if (await checker.regulatorMayRead(grantee, RegulatorScope.RecallScopeItems)) return { allowed: true, via: "rule", rule: RegulatorScope.RecallScopeItems };
  }
  return DENIED;
}

/**
 * An ItemWithGenealogy grant on an item that `key` went into, over links the grantor knew: for
 * each product upward that the index knows a genealogy grant on, the links that count for that
 * grant (recorded by the grantor, or before the grant's issue block) must lead from `key` to it.
 * The index only proposes candidates; `confirm` asks the chain whether the grant is live.
 */
async function coveredThroughGenealogy(
  grantee: number,
  owner: number,
  key: string,
  source: GenealogySource,
  confirm: (scopeKey: string) => Promise<AccessDecision | undefined>,
): Promise<AccessDecision | undefined> {
  const start = key.toLowerCase();
  // Every link upward, breadth first: the candidates in order of distance.
  const links: GenealogyLink[] = [];
  const seen = new Set([start]);
  const order: string[] = [];
  let frontier = [start];
  while (frontier.length > 0 && seen.size < MAX_GENEALOGY_NODES) {
    const lists = await source.linksUp(frontier);
    const next: string[] = [];
    for (const link of lists.flat()) {
      links.push(link);
      if (seen.has(link.to) || seen.size >= MAX_GENEALOGY_NODES) continue;
      seen.add(link.to);
      order.push(link.to);
      next.push(link.to);
    }
    frontier = next;
  }
  for (const product of order) {
    const issued = await source.grantIssuedBlock(owner, grantee, product);
    if (issued === undefined) continue;
    const known = links.filter((l) => l.recordedBy === owner || l.block < issued);
    const path = pathUp(start, product, known);
    if (!path) continue;
    const decision = await confirm(product);
    if (decision?.allowed && decision.via === "grant") return { ...decision, path };
  }
  return undefined;
}

/** Keys from `to` down to `from` over `links` (upward links from `from`), or undefined. */
function pathUp(from: string, to: string, links: readonly GenealogyLink[]): string[] | undefined {
  const up = new Map<string, GenealogyLink[]>();
  for (const l of links) up.set(l.from, [...(up.get(l.from) ?? []), l]);
  const previous = new Map<string, string>([[from, from]]);
  let frontier = [from];
  while (frontier.length > 0 && !previous.has(to)) {
    const next: string[] = [];
    for (const k of frontier)
      for (const l of up.get(k) ?? []) {
        if (previous.has(l.to)) continue;
        previous.set(l.to, k);
        next.push(l.to);
      }
    frontier = next;
  }
  if (!previous.has(to)) return undefined;
  const path = [to];
  while (path.at(-1) !== from) path.push(previous.get(path.at(-1)!)!);
  return path;
}

/** An EPCIS event as the rule sees it. */
export interface EventScope {
  /** Every item and lot the event names. */
  subjects: readonly ItemScope[];
  /** The kind of the on-chain record that carries the event's hash, when it has one. */
  recordKind?: RecordKind;
  /** The hash the owner's record carries and where to find the shipments it made (the consignee's right). */
  shipping?: { recordHash: string; shipments: ShipmentSource };
}

/**
 * Whether `reader` is the consignee of the shipment the owner's record of this event made, and the
 * event names nothing beyond the items shipped to it that it could not read anyway. A cancelled
 * shipment gives nothing: cancelling withdraws the disclosure (a shipment sent to the wrong
 * organisation must be retractable), and a consignee that never took custody has no claim on it.
 * A received one keeps it: the consignee holds the items and the document that came with them.
 */
async function consigneeOf(checker: AccessChecker, reader: number, owner: number, event: EventScope): Promise<boolean> {
  if (reader === 0 || !event.shipping || event.subjects.length === 0) return false;
  const shipped = await event.shipping.shipments.shippedByRecord(event.shipping.recordHash, owner);
  const toReader = new Set(shipped.filter((s) => s.to === reader && s.state !== "cancelled").map((s) => s.item.toLowerCase()));
  if (toReader.size === 0) return false;
  for (const scope of event.subjects) {
    if (toReader.has(scope.key.toLowerCase())) continue;
    if (!(await mayReadItem(checker, reader, owner, scope)).allowed) return false;
  }
  return true;
}

/** The regulator scope that covers events recorded as `kind`, if any. */
function regulatorEventScope(kind: RecordKind | undefined): RegulatorScope | undefined {
  if (kind === RecordKind.Recall || kind === RecordKind.RecallBatch) return RegulatorScope.RecallEvents;
  if (kind === RecordKind.Inspect) return RegulatorScope.InspectionEvents;
  if (kind === RecordKind.Disposition) return RegulatorScope.DispositionEvents;
  return undefined;
}

/**
 * Whether `reader` may read `owner`'s document of an event: the owner always; a regulator when the
 * consortium's rule covers the event's kind; the consignee of the shipment it records; anyone else only when it may read the owner's data
 * about EVERY item and lot the event names (an event about several items reveals all of them). An
 * event that names nothing a grant could cover is the owner's alone.
 */
export async function mayReadEvent(checker: AccessChecker, reader: number, owner: number, event: EventScope): Promise<AccessDecision> {
  if (reader !== 0 && reader === owner) return { allowed: true, via: "owner" };
  const rule = regulatorEventScope(event.recordKind);
  if (rule !== undefined && checker.regulatorMayRead && (await checker.regulatorMayRead(reader, rule))) return { allowed: true, via: "rule", rule };
  if (event.subjects.length === 0) return DENIED;
  if (await consigneeOf(checker, reader, owner, event)) return { allowed: true, via: "consignee" };
  let first: AccessDecision | undefined;
  for (const scope of event.subjects) {
    const d = await mayReadItem(checker, reader, owner, scope);
    if (!d.allowed) return d;
    first ??= d;
  }
  return first!;
}

/** A decision as words for logs and the CLI: "owner", "grant item-genealogy on 0x..", "rule regulator-recall-events". */
export function describeDecision(d: AccessDecision): string {
  if (!d.allowed) return "denied";
  if (d.via === "owner") return "owner";
  if (d.via === "rule") return `rule ${REGULATOR_SCOPE_NAMES[d.rule]}`;
  if (d.via === "consignee") return "consignee of the shipment";
  return `grant ${SCOPE_KIND_NAMES[d.kind]} on ${d.scopeKey}`;
}

export const REGULATOR_SCOPE_NAMES: Record<RegulatorScope, string> = {
  [RegulatorScope.RecallEvents]: "regulator-recall-events",
  [RegulatorScope.InspectionEvents]: "regulator-inspection-events",
  [RegulatorScope.DispositionEvents]: "regulator-disposition-events",
  [RegulatorScope.RecallScopeItems]: "regulator-recall-scope-items",
};

export const SCOPE_KIND_NAMES: Record<ScopeKind, string> = {
  [ScopeKind.Item]: "item",
  [ScopeKind.ItemWithGenealogy]: "item-genealogy",
  [ScopeKind.Batch]: "batch",
  [ScopeKind.DataStream]: "data-stream",
  [ScopeKind.AnchorWindowRange]: "anchor-window-range",
};

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
  /** How often `watch()` asks the chain for grant and membership events, ms (default 1 s). */
  pollMs?: number;
  /** Called when `watch()` cannot reach the chain (it keeps retrying, backing off). */
  onError?: (err: unknown) => void;
}

/**
 * AccessChecker over the AccessGrants contract, with a short cache of positive answers. `watch()`
 * clears the cache on every grant, revocation, regulator rule change, role revocation and
 * membership change, so a revocation takes effect as soon as the node sees its block, and the TTL
 * bounds staleness if an event is missed; refusals are never cached, so a new grant works at once.
 */
export class ChainAccessChecker implements AccessChecker {
  private readonly grants;
  private readonly consortium;
  // Only a "yes" is kept: a refusal is always the chain's answer of the moment, so a grant
  // issued a moment ago is honoured before its event reaches the watcher.
  private readonly cache: PositiveCache<unknown>;
  private readonly runner: ContractRunner;
  private readonly addresses: { accessGrants: string; consortium: string };
  private readonly pollMs: number;
  private readonly onError: ((err: unknown) => void) | undefined;
  private readonly keepsAnswers: boolean;

  constructor(addresses: { accessGrants: string; consortium: string }, runner: ContractRunner, options: ChainAccessCheckerOptions = {}) {
    this.runner = runner;
    this.addresses = { accessGrants: addresses.accessGrants, consortium: addresses.consortium };
    this.pollMs = options.pollMs ?? 1_000;
    this.onError = options.onError;
    this.grants = AccessGrants__factory.connect(addresses.accessGrants, runner);
    this.consortium = Consortium__factory.connect(addresses.consortium, runner);
    this.keepsAnswers = (options.ttlMs ?? 10_000) > 0;
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

  regulatorMayRead(org: number, scope: RegulatorScope): Promise<boolean> {
    return this.cached(`r:${org}:${scope}`, () => this.grants.regulatorMayRead(org, scope));
  }

  private cleared = 0;
  private watching = 0;

  /**
   * Moves on every `invalidate` (a grant or membership event seen, the chain gone back); defined
   * only while `watch()` runs over kept answers (with `ttlMs` 0 every answer is the chain's of
   * the moment, which no generation can stand for).
   */
  get generation(): number | undefined {
    return this.watching > 0 && this.keepsAnswers ? this.cleared : undefined;
  }

  /** Forgets every cached answer. */
  invalidate(): void {
    this.cache.clear();
    this.cleared++;
  }

  /**
   * Clears the cache on grant and membership events, polling the chain's logs every `pollMs`.
   * Returns the function that stops watching: it resolves once the poll in flight has finished,
   * so nothing talks to the chain afterwards. (Not ethers' `contract.on`: its filter teardown
   * sends eth_uninstallFilter unawaited, which rejects unhandled when the chain has gone.)
   * A chain that cannot be reached is retried with back-off; blocks missed meanwhile are read
   * when it answers again, and the TTL bounds staleness until then.
   */
  async watch(): Promise<() => Promise<void>> {
    const provider = this.runner.provider;
    if (!provider) throw new Error("ChainAccessChecker.watch() needs a runner with a provider, to read the chain's logs");
    const topics = [
      this.grants.interface.getEvent("AccessGranted").topicHash,
      this.grants.interface.getEvent("AccessRevoked").topicHash,
      this.grants.interface.getEvent("RegulatorRuleChanged").topicHash,
      this.consortium.interface.getEvent("OrgStatusChanged").topicHash,
      this.consortium.interface.getEvent("RoleRevoked").topicHash,
    ];
    const address = [this.addresses.accessGrants, this.addresses.consortium];
    let next = (await provider.getBlockNumber()) + 1;
    const stopped = new AbortController();
    const backoff = new Backoff({ initialDelayMs: this.pollMs });
    const loop = async () => {
      let delay = this.pollMs;
      while (await sleep(delay, stopped.signal)) {
        try {
          const head = await provider.getBlockNumber();
          // A chain that went back (reset, deep reorg): what we cached may be gone with it.
          if (head + 1 < next) {
            this.invalidate();
            next = head + 1;
          }
          if (head >= next) {
            const logs = await provider.getLogs({ address, topics: [topics], fromBlock: next, toBlock: head });
            next = head + 1;
            if (logs.length > 0) this.invalidate();
          }
          backoff.reset();
          delay = this.pollMs;
        } catch (e) {
          if (stopped.signal.aborted) return;
          this.onError?.(e);
          delay = backoff.next();
        }
      }
    };
    const running = loop();
    this.watching++;
    return async () => {
      if (stopped.signal.aborted) return running;
      stopped.abort();
      this.watching--;
      this.cleared++;
      await running;
    };
  }

  private cached<T>(key: string, load: () => Promise<T>): Promise<T> {
    return this.cache.get(key, load) as Promise<T>;
  }
}
