/**
 * Admission to the peer network follows the one membership decision taken on chain (DESIGN.md,
 * principle 5): a peer may connect only while its peer id is registered to an active member
 * organisation in Consortium (`isMemberPeer`).
 *
 * - The gater asks the chain (through a short-TTL cache, so a burst of dials costs one call) at
 *   dial time and again once the remote peer id is proven by the Noise handshake. The cache is
 *   bounded and keeps only admissions (lib/positive-cache.ts): unknown peer ids, however many,
 *   take no room in it, and a peer admitted a moment ago is let in at once.
 * - The watcher follows Consortium's OrgStatusChanged / NodeAdded / NodeRemoved events; on any of
 *   them it drops the cache and re-checks every connected peer, closing connections to those no
 *   longer admitted. It also re-checks on every TTL tick, so a missed event costs at most a TTL.
 * A chain that cannot be reached denies new connections (admission fails closed) but does not
 * cut existing ones.
 * - Unknown peers are rate-limited: a peer id never admitted before costs chain calls, so such
 *   lookups share a budget (`unknownPeerLookups`); past it they are denied without asking the
 *   chain. Peer ids the chain once answered as members are never held back by it.
 */
import type { ConnectionGater, PeerId } from "@libp2p/interface";
import type { Consortium } from "../../lib/contracts/types/index.js";
import { PositiveCache } from "../../lib/positive-cache.ts";

export interface MembershipOptions {
  /** How long an admission answered by the chain is trusted, ms. */
  ttlMs?: number;
  /** Most admissions cached (default 10,000); the least recently used go first. */
  maxEntries?: number;
  /** How often the watcher polls for membership events, ms. */
  pollMs?: number;
  /** Called when the watcher closes connections to a peer (for logs and tests). */
  onEvict?: (peerId: string) => void;
  /** Called when a chain query fails (the peer is then denied). */
  onError?: (err: unknown) => void;
  /** Chain lookups of peer ids never admitted before: at most `max` per `perMs` (default 20 per second). */
  unknownPeerLookups?: { max: number; perMs: number };
}

/** Peer ids remembered as once admitted (the oldest are forgotten first). */
const MAX_KNOWN_PEERS = 4096;

/** A fixed-window counter: `take()` is true while fewer than `max` were taken in the current `perMs`. */
class LookupBudget {
  private windowStart = 0;
  private used = 0;
  /** Lookups refused since start. */
  refused = 0;

  constructor(private readonly limit: { max: number; perMs: number }) {}

  take(now = Date.now()): boolean {
    if (now - this.windowStart >= this.limit.perMs) {
      this.windowStart = now;
      this.used = 0;
    }
    if (this.used >= this.limit.max) {
      this.refused++;
      return false;
    }
    this.used++;
    return true;
  }
}

/** What the watcher needs of a libp2p node. */
export interface ConnectedHost {
  getConnections(): { remotePeer: PeerId }[];
  hangUp(peer: PeerId): Promise<void>;
}

export class MembershipGate {
  /** peer id -> the active organisation it is registered to (never 0: refusals are not kept). */
  private readonly cache: PositiveCache<number>;
  /** Peers this node refuses on its own account (e.g. caught sending altered data), until a time. */
  private readonly banned = new Map<string, number>();
  private readonly ttlMs: number;
  private readonly pollMs: number;
  /** Peer ids the chain answered as members at some time: their lookups bypass the unknown-peer budget. */
  private readonly known = new Set<string>();
  private readonly unknownLookups: LookupBudget;
  private timer: NodeJS.Timeout | undefined;
  private lastTtlCheck = 0;
  private nextBlock: number | undefined;
  /** The poll in flight, if any: `stop()` waits for it, so nothing talks to the chain after. */
  private polling: Promise<void> | undefined;

  constructor(
    private readonly consortium: Consortium,
    private readonly options: MembershipOptions = {},
  ) {
    this.ttlMs = options.ttlMs ?? 5_000;
    this.pollMs = options.pollMs ?? 1_000;
    this.cache = new PositiveCache({ ttlMs: this.ttlMs, maxEntries: options.maxEntries ?? 10_000, isPositive: (org) => org !== 0 });
    this.unknownLookups = new LookupBudget(options.unknownPeerLookups ?? { max: 20, perMs: 1_000 });
  }

  /** Admission checks of unknown peers refused for want of lookup budget (for status). */
  get throttledLookups(): number {
    return this.unknownLookups.refused;
  }

  /** Admissions cached now (bounded by `maxEntries`). */
  get cachedAdmissions(): number {
    return this.cache.size;
  }

  /** Whether `peerId` is registered to an active member now (cached for the TTL). Never throws. */
  async isMember(peerId: string): Promise<boolean> {
    if (this.isBanned(peerId)) return false;
    if (!this.known.has(peerId) && !this.unknownLookups.take()) return false;
    try {
      return await this.query(peerId);
    } catch (e) {
      this.options.onError?.(e);
      return false;
    }
  }

  /**
   * The active organisation `peerId` is registered to, or 0 (not registered, organisation not
   * active, or banned here). An admission is cached for the TTL; throws when the chain cannot be
   * asked.
   */
  async orgOf(peerId: string): Promise<number> {
    if (this.isBanned(peerId)) return 0;
    const org = await this.cache.get(peerId, async () => {
      const c = this.consortium;
      const [registered, member] = await Promise.all([c.orgOfPeer(peerId), c.isMemberPeer(peerId)]);
      return member ? Number(registered) : 0;
    });
    if (org !== 0 && !this.known.has(peerId)) {
      if (this.known.size >= MAX_KNOWN_PEERS) this.known.delete(this.known.values().next().value!);
      this.known.add(peerId);
    }
    return org;
  }

  private async query(peerId: string): Promise<boolean> {
    return (await this.orgOf(peerId)) !== 0;
  }

  /**
   * Refuses `peerId` for `ms` whatever the chain says, and closes its connections now when a host
   * is given: for a member's node caught misbehaving (the consortium decides about the member).
   */
  async ban(peerId: string, ms: number, host?: ConnectedHost): Promise<void> {
    this.banned.set(peerId, Date.now() + ms);
    for (const conn of host?.getConnections() ?? []) {
      if (conn.remotePeer.toString() === peerId) {
        await host!.hangUp(conn.remotePeer).catch((e: unknown) => this.options.onError?.(e));
        break;
      }
    }
  }

  isBanned(peerId: string): boolean {
    const until = this.banned.get(peerId);
    if (until === undefined) return false;
    if (until > Date.now()) return true;
    this.banned.delete(peerId);
    return false;
  }

  /** Forgets every cached answer (after a membership event). */
  invalidate(): void {
    this.cache.clear();
  }

  /** The libp2p connection gater: deny dials to, and connections from, peers that are not members. */
  gater(): ConnectionGater {
    const deny = async (peer: PeerId) => !(await this.isMember(peer.toString()));
    return {
      denyDialPeer: deny,
      denyInboundEncryptedConnection: deny,
      denyOutboundEncryptedConnection: deny,
    };
  }

  /**
   * Starts following membership events and closing connections of peers no longer admitted.
   * Returns a stop function.
   */
  async watch(host: ConnectedHost): Promise<() => Promise<void>> {
    this.nextBlock = (await this.consortium.runner!.provider!.getBlockNumber()) + 1;
    this.lastTtlCheck = Date.now();
    this.timer = setInterval(() => {
      // A slow chain: never stack polls.
      this.polling ??= this.poll(host).finally(() => (this.polling = undefined));
    }, this.pollMs);
    return () => this.stop();
  }

  /** Stops watching; resolves once the poll in flight (if any) has finished. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.polling;
  }

  /** One look at the chain; never rejects (failures go to `onError`). */
  private async poll(host: ConnectedHost): Promise<void> {
    try {
      const changed = await this.membershipChanged();
      const ttlDue = Date.now() - this.lastTtlCheck >= this.ttlMs;
      if (changed) this.invalidate();
      if (changed || ttlDue) {
        this.lastTtlCheck = Date.now();
        await this.evictNonMembers(host);
      }
    } catch (e) {
      this.options.onError?.(e);
    }
  }

  /** True when a membership event was emitted since the last poll. */
  private async membershipChanged(): Promise<boolean> {
    const provider = this.consortium.runner!.provider!;
    const head = await provider.getBlockNumber();
    const from = this.nextBlock ?? head;
    if (head < from) return false;
    const c = this.consortium;
    const batches = await Promise.all([
      c.queryFilter(c.filters.OrgStatusChanged(), from, head),
      c.queryFilter(c.filters.NodeRemoved(), from, head),
      c.queryFilter(c.filters.NodeAdded(), from, head),
    ]);
    this.nextBlock = head + 1;
    return batches.some((b) => b.length > 0);
  }

  private async evictNonMembers(host: ConnectedHost): Promise<void> {
    const peers = new Map<string, PeerId>();
    for (const conn of host.getConnections()) peers.set(conn.remotePeer.toString(), conn.remotePeer);
    for (const [id, peer] of peers) {
      // A failed query keeps the connection: a chain outage must not cut the whole network.
      const member =
        !this.isBanned(id) &&
        (await this.query(id).catch((e: unknown) => {
          this.options.onError?.(e);
          return true;
        }));
      if (member) continue;
      this.options.onEvict?.(id);
      await host.hangUp(peer).catch((e: unknown) => this.options.onError?.(e));
    }
  }
}
