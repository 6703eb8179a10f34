/**
 * Follows: partners' streams this node keeps a copy of (config p2p.follow). A follow is fetched
 * from its cursor (the last seq received or skipped, kept with the data in the received store)
 * when its owner announces an anchor, when a peer of the owner connects, at start (catch-up after
 * being offline), and when the chain shows anchors of the owner since the last block looked at
 * (announcements missed while online). One run at a time per follow; a request during a run
 * makes it go round once more. A run keeps the next page's request in flight while the current
 * page is verified and stored (FetchClient.fetchReadingPages); pages are stored in order.
 *
 * A follow never stalls on a window that cannot be verified for an honest reason: the fetch
 * client lists it as unverifiable, the received store keeps it with its reason, the cursor moves
 * past it, and the follow's status counts it.
 */
import { peerIdFromString } from "@libp2p/peer-id";
import type { Provider } from "ethers";
import type { DataAnchors } from "../../lib/contracts/types/index.js";
import { type FetchClient, FetchRefusedError, PeerMisbehaviourError, type VerifiedReadings } from "./fetch-client.ts";
import type { MembershipGate } from "./gater.ts";
import type { Host } from "./host.ts";
import type { ReceivedStore } from "./received-store.ts";

export interface FollowStatus {
  organisation: number;
  stream: string;
  received: number;
  /** Windows skipped because they do not verify for an honest reason (kept with the reason in the received store). */
  unverifiable: number;
  /** The last of them: window, node and reason. */
  lastUnverifiable?: string;
  /** Set while the follow waits for this node's chain to show a window the peer has anchored. */
  waiting?: string;
  lastFetchAt?: number;
  lastError?: string;
}

interface Follow {
  org: number;
  stream: string;
  status: FollowStatus;
  running?: Promise<void>;
  again?: boolean;
}

export interface FollowsOptions {
  host: Host;
  gate: MembershipGate;
  client: FetchClient;
  received: ReceivedStore;
  provider: Provider;
  dataAnchors: DataAnchors;
  /** How far back a follow with no cursor yet reaches, ms. */
  catchUpFromMs: number;
  log: (message: string) => void;
}

export class Follows {
  private readonly list: Follow[] = [];
  private stopped = false;

  constructor(private readonly o: FollowsOptions) {}

  /** Follows `stream` of organisation `org` (its counts read from the received store). */
  async add(org: number, stream: string): Promise<void> {
    const received = await this.o.received.count(org, stream);
    const unverifiable = (await this.o.received.unverifiable(org, stream)).length;
    this.list.push({ org, stream, status: { organisation: org, stream, received, unverifiable } });
  }

  /** Starts looking at the chain from its current block, unless a block was looked at before. */
  async start(): Promise<void> {
    if ((await this.o.received.getMeta<number>("block")) === undefined) {
      await this.o.received.setMeta("block", await this.o.provider.getBlockNumber());
    }
  }

  /** Stores a verified answer: a followed stream's answer moves its cursor and counts. */
  async store(batch: VerifiedReadings): Promise<void> {
    const follow = this.list.find((f) => f.stream === batch.stream && f.org === batch.ownerOrg);
    await this.o.received.putReadings(batch, { cursor: follow !== undefined });
    for (const u of batch.unverifiable) {
      const what = `window ${u.window} of node ${u.node} (seq ${u.firstSeq}..${u.lastSeq}): ${u.reason}: ${u.detail}`;
      this.o.log(`stream ${batch.stream} of organisation ${batch.ownerOrg} from ${batch.peer}: skipped ${what}; the peer is not blamed`);
      if (follow) follow.status.lastUnverifiable = what;
    }
    if (follow) {
      follow.status.received += batch.count;
      follow.status.unverifiable += batch.unverifiable.length;
    }
  }

  /** Fetches what is new of every follow of `org`'s streams (from `preferred` first, when given). */
  syncOrg(org: number, preferred?: string): void {
    for (const f of this.list) if (f.org === org) void this.sync(f, preferred);
  }

  /** Every follow, now. */
  async syncAll(): Promise<void> {
    await Promise.all(this.list.map((f) => this.sync(f)));
  }

  /** Syncs the follows of organisations the chain shows anchoring since the last block looked at. */
  async scanChain(): Promise<void> {
    if (this.list.length === 0) return;
    const da = this.o.dataAnchors;
    const head = await this.o.provider.getBlockNumber();
    const last = (await this.o.received.getMeta<number>("block")) ?? head;
    if (head <= last) return;
    const orgs = new Set<number>();
    for (const org of new Set(this.list.map((f) => f.org))) {
      const found = await da.queryFilter(da.filters.WindowAnchored(undefined, org), last + 1, head);
      if (found.length > 0) orgs.add(org);
    }
    await this.o.received.setMeta("block", head);
    for (const org of orgs) this.syncOrg(org);
  }

  status(): FollowStatus[] {
    return this.list.map((f) => ({ ...f.status }));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.allSettled(this.list.map((f) => f.running));
  }

  /** Fetches what is new of `f` from connected peers of its owner (one run at a time per follow). */
  private sync(f: Follow, preferred?: string): Promise<void> {
    if (f.running) {
      f.again = true;
      return f.running;
    }
    f.running = (async () => {
      do {
        f.again = false;
        await this.syncOnce(f, preferred);
      } while (f.again && !this.stopped);
    })()
      // Runs are started fire-and-forget (announcements, connections): a failure outside a fetch
      // (the received store) is the follow's error, never an unhandled rejection (fatal: lib/stop-signals.ts).
      .catch((e: unknown) => {
        f.status.lastError = (e as Error)?.message ?? String(e);
        this.o.log(`follow ${f.stream} of organisation ${f.org}: ${f.status.lastError}`);
      })
      .finally(() => (f.running = undefined));
    return f.running;
  }

  private async syncOnce(f: Follow, preferred?: string): Promise<void> {
    const peers = new Set<string>(preferred ? [preferred] : []);
    for (const conn of this.o.host.getConnections()) peers.add(conn.remotePeer.toString());
    for (const peer of peers) {
      if (this.stopped) return;
      if ((await this.o.gate.orgOf(peer).catch(() => 0)) !== f.org) continue;
      const afterSeq = await this.o.received.cursor(peer, f.stream);
      const from = afterSeq === 0 ? Math.max(0, Date.now() - this.o.catchUpFromMs) : 0;
      try {
        // The next page is asked for while this one is verified and stored (fetchReadingPages);
        // leaving the loop cancels it. With `pending`, a later sync (the chain's next anchors) takes it up.
        let page = 0;
        for await (const res of this.o.client.fetchReadingPages(peerIdFromString(peer), { stream: f.stream, from, to: Number.MAX_SAFE_INTEGER, afterSeq })) {
          f.status.lastFetchAt = Date.now();
          delete f.status.lastError;
          if (res.pending !== undefined) f.status.waiting = res.pending;
          else delete f.status.waiting;
          if (++page >= 10_000 || this.stopped) break;
        }
      } catch (e) {
        const why = e instanceof FetchRefusedError ? `${e.code}: ${e.refusal.detail}` : (e as Error).message;
        if (f.status.lastError !== why) this.o.log(`follow ${f.stream} of organisation ${f.org} from ${peer}: ${why}`);
        f.status.lastError = why;
        if (e instanceof PeerMisbehaviourError) continue;
      }
    }
  }
}
