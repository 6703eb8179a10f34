/**
 * Delivery on demand: the documents and bound readings of other organisations' records that this
 * node's organisation may see but does not hold, and other issuers' revocation statements, fetched
 * from the owner's node over the fetch protocol while a page waits (the gateway's `remote` service
 * slot, gateway/services.ts). Verified statements are kept (`statements`), so a page asks once.
 *
 * Everything goes through FetchClient, which verifies before storing: a document must hash to the
 * record hash asked for and be recorded on Provenance by the serving peer's organisation; every
 * reading must verify against that organisation's anchor. Received documents land in the event
 * store (apart from own ones), so the next page finds them locally.
 *
 * Bounded: a caller waits at most `deadlineMs` (what has not arrived by then is reported with a
 * reason, and keeps arriving in the background for the next page); at most `concurrency` fetches
 * run at once; a refusal (not granted, not found) is remembered for `missTtlMs` and an unreachable
 * owner for `unreachableTtlMs`, so a page does not ask again on every load.
 */
import { peerIdFromString } from "@libp2p/peer-id";
import { readingBindingsOf } from "../../lib/epcis/readings.ts";
import type { BoundReading, BoundStream } from "../events/readings.ts";
import type { StoredEvent } from "../events/store.ts";
import { FetchRefusedError, PeerMisbehaviourError } from "./fetch-client.ts";
import type { FetchClient } from "./fetch-client.ts";

/** What the gateway asks of the peer network (its `remote` service). */
export interface RemoteDataService {
  /**
   * Fetches the documents of `records` (other organisations' records, by the record hash the chain
   * holds) into this node's event store, waiting at most the deadline. Answers, per record hash,
   * why a document did not arrive; the others are now in the store.
   */
  fetchDocuments(records: readonly { owner: number; recordHash: string }[]): Promise<Map<string, string>>;
  /**
   * The readings a received event binds, from its owner's node, each verified with its own proof;
   * or why they did not arrive (`refused`: the owner's node said no; else it was not reached in
   * time). Throws ReadingBindingError for an event whose binding is malformed.
   */
  boundReadings(event: StoredEvent): Promise<{ streams: BoundStream[] } | { unavailable: string; refused: boolean }>;
  /**
   * The revocation statement of certificate `certificateId` issued by `issuer`, from the issuer's
   * node, its text checked against the hash the chain records (FetchClient.fetchStatement) and
   * kept; or why it did not arrive (`lied`: the issuer's node sent a text that does not match).
   */
  statement(issuer: number, certificateId: string): Promise<{ text: string } | { unavailable: string; refused: boolean; lied: boolean }>;
}

/** The owner's node did not deliver: `reason` says why, in words for the page. */
export class RemoteDataError extends Error {
  constructor(
    readonly reason: string,
    /** True when the owner's node refused (not granted, not found); false when it could not be reached in time. */
    readonly refused: boolean,
    /** True when the owner's node sent data that fails verification. */
    readonly lied = false,
  ) {
    super(reason);
    this.name = "RemoteDataError";
  }
}

export interface RemoteDataOptions {
  client: Pick<FetchClient, "fetchEvent" | "fetchReadings" | "fetchStatement">;
  /** Where verified statements of other issuers are kept (a StatementStore apart from the node's own). */
  statements?: { get(certificateId: string): Promise<string | undefined>; put(certificateId: string, text: string): Promise<void> };
  /** Peer ids of `org`'s nodes, connected ones first. */
  peersOf(org: number): Promise<string[]>;
  /** Longest a caller waits, ms (default 2500). */
  deadlineMs?: number;
  /** Most fetches at once (default 4). */
  concurrency?: number;
  /**
   * How long a refusal is remembered, ms (default 10 s): brief, since the owner's node may only be
   * catching up with a grant the asker's chain view already shows.
   */
  missTtlMs?: number;
  /** How long an unreachable owner is remembered, ms (default 5 s). */
  unreachableTtlMs?: number;
  /** Most readings fetched for one event (default 10,000). */
  maxReadings?: number;
  log?: (message: string) => void;
}

const MAX_MISSES = 10_000;

export class RemoteData implements RemoteDataService {
  private readonly inflight = new Map<string, Promise<unknown>>();
  private readonly misses = new Map<string, { reason: string; until: number; refused: boolean; lied: boolean }>();
  private running = 0;
  private readonly queue: (() => void)[] = [];

  constructor(private readonly o: RemoteDataOptions) {}

  private get deadlineMs(): number {
    return this.o.deadlineMs ?? 2_500;
  }

  /** Runs `work` when fewer than `concurrency` fetches run. */
  private async limited<T>(work: () => Promise<T>): Promise<T> {
    if (this.running >= (this.o.concurrency ?? 4)) await new Promise<void>((resolve) => this.queue.push(resolve));
    this.running++;
    try {
      return await work();
    } finally {
      this.running--;
      this.queue.shift()?.();
    }
  }

  private missOf(key: string): RemoteDataError | undefined {
    const m = this.misses.get(key);
    if (m === undefined) return undefined;
    if (m.until > Date.now()) return new RemoteDataError(m.reason, m.refused, m.lied);
    this.misses.delete(key);
    return undefined;
  }

  private remember(key: string, e: RemoteDataError): void {
    if (this.misses.size >= MAX_MISSES) this.misses.clear();
    this.misses.set(key, { reason: e.reason, refused: e.refused, lied: e.lied, until: Date.now() + (e.refused ? (this.o.missTtlMs ?? 10_000) : (this.o.unreachableTtlMs ?? 5_000)) });
  }

  /** Tries each of `owner`'s nodes in turn; a refusal or a lie ends it, an unreachable node passes to the next. */
  private async fromOwner<T>(owner: number, key: string, ask: (peer: string) => Promise<T>): Promise<T> {
    const known = this.missOf(key);
    if (known) throw known;
    try {
      return await this.limited(async () => {
        const peers = await this.o.peersOf(owner);
        if (peers.length === 0) throw new RemoteDataError(`owner's node unreachable: organisation ${owner} has no registered node`, false);
        let last = "";
        for (const peer of peers) {
          try {
            return await ask(peer);
          } catch (e) {
            if (e instanceof FetchRefusedError) {
              const refused = e.code === "not-granted" || e.code === "not-found" || e.code === "not-member";
              if (refused) throw new RemoteDataError(`the owner's node refused: ${e.refusal.detail}`, true);
              last = `${e.code}: ${e.refusal.detail}`;
            } else if (e instanceof PeerMisbehaviourError) {
              throw new RemoteDataError(`the owner's node sent data that fails verification: ${e.reason}`, true, e.altered);
            } else if (e instanceof RemoteDataError) throw e;
            else last = (e as Error).message;
          }
        }
        throw new RemoteDataError(`owner's node unreachable: ${last}`, false);
      });
    } catch (e) {
      const err = e instanceof RemoteDataError ? e : new RemoteDataError(`owner's node unreachable: ${(e as Error).message}`, false);
      this.remember(key, err);
      this.o.log?.(`${key} from organisation ${owner}: ${err.reason}`);
      throw err;
    }
  }

  /** Resolves with `p`, or rejects when the deadline passes first (`p` goes on in the background). */
  private within<T>(p: Promise<T>, what: string): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new RemoteDataError(`owner's node did not deliver ${what} within ${this.deadlineMs} ms`, false)), this.deadlineMs);
    });
    return Promise.race([p, late]).finally(() => clearTimeout(timer));
  }

  private document(owner: number, recordHash: string): Promise<void> {
    const key = `event ${recordHash.toLowerCase()}`;
    let run = this.inflight.get(key) as Promise<void> | undefined;
    if (run === undefined) {
      run = this.fromOwner(owner, key, async (peer) => {
        await this.o.client.fetchEvent(peerIdFromString(peer), recordHash.toLowerCase());
      }).finally(() => this.inflight.delete(key));
      run.catch(() => undefined); // a late failure is remembered, not unhandled
      this.inflight.set(key, run);
    }
    return run;
  }

  async fetchDocuments(records: readonly { owner: number; recordHash: string }[]): Promise<Map<string, string>> {
    const missing = new Map<string, string>();
    await Promise.all(
      records.map(async ({ owner, recordHash }) => {
        try {
          await this.within(this.document(owner, recordHash), "the document");
        } catch (e) {
          missing.set(recordHash, e instanceof RemoteDataError ? e.reason : (e as Error).message);
        }
      }),
    );
    return missing;
  }

  async statement(issuer: number, certificateId: string): Promise<{ text: string } | { unavailable: string; refused: boolean; lied: boolean }> {
    const id = certificateId.toLowerCase();
    const kept = await this.o.statements?.get(id);
    if (kept !== undefined) return { text: kept };
    const key = `statement ${id}`;
    let run = this.inflight.get(key) as Promise<string> | undefined;
    if (run === undefined) {
      run = this.fromOwner(issuer, key, async (peer) => {
        const text = await this.o.client.fetchStatement(peerIdFromString(peer), id);
        await this.o.statements?.put(id, text);
        return text;
      }).finally(() => this.inflight.delete(key));
      run.catch(() => undefined);
      this.inflight.set(key, run);
    }
    try {
      return { text: await this.within(run, "the statement") };
    } catch (e) {
      if (e instanceof RemoteDataError) return { unavailable: e.reason, refused: e.refused, lied: e.lied };
      throw e;
    }
  }

  async boundReadings(event: StoredEvent): Promise<{ streams: BoundStream[] } | { unavailable: string; refused: boolean }> {
    const bindings = readingBindingsOf(event.event, event.context);
    const max = this.o.maxReadings ?? 10_000;
    const key = `readings of ${event.recordHash}`;
    const work = this.fromOwner(event.owner, key, async (peer) => {
      const out: BoundStream[] = [];
      let count = 0;
      for (const b of bindings) {
        const readings: BoundReading[] = [];
        let node = "";
        let afterSeq = 0;
        for (;;) {
          const page = await this.o.client.fetchReadings(peerIdFromString(peer), { stream: b.stream, from: b.from, to: b.to, afterSeq, limit: Math.max(1, max - count), event: event.recordHash });
          for (const item of page.items) {
            // Asked for `event`, the owner answers reading by reading; a run proof cannot be handed on per reading.
            if (item.kind !== "one") continue;
            node ||= item.proof.node;
            readings.push({ reading: item.reading, proof: item.proof, anchor: { node: item.proof.node, sequence: item.proof.window, ...(item.tx ? { tx: item.tx } : {}) } });
          }
          count += page.count;
          if (!page.more || page.lastSeq <= afterSeq || count >= max) break;
          afterSeq = page.lastSeq;
        }
        out.push({ stream: b.stream, node, from: new Date(b.from).toISOString(), to: new Date(b.to).toISOString(), readings });
      }
      return out;
    });
    work.catch(() => undefined);
    try {
      return { streams: await this.within(work, "the readings") };
    } catch (e) {
      if (e instanceof RemoteDataError) return { unavailable: e.reason, refused: e.refused };
      throw e;
    }
  }
}
