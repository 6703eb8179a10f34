/**
 * The chain indexer: follows the five Tracemesh contracts' events from a checkpoint into the
 * LevelDB index (store.ts), so queries (queries.ts) never scan the chain.
 *
 * - Catch-up in bounded block ranges (`eth_getLogs` over all five addresses at once), the range
 *   halved when the node refuses a large one.
 * - Each block's changes, its undo record, its hash and the checkpoint are one atomic LevelDB
 *   batch: a crash never half-applies a block, and a restart continues after the checkpoint.
 * - Reorgs: before a range is applied, its first block must have the checkpoint's hash as parent.
 *   When it does not, the indexer walks back over the hashes it kept for the last `reorgDepth`
 *   blocks to the newest one the chain still has, undoes everything after it (one atomic batch)
 *   and indexes the new blocks. A reorg deeper than that stops the indexer with ReorgTooDeepError.
 * - A range is accepted only if its last block's hash is the same before and after its logs were
 *   read and every log's block hash matches its block, so a reorg during the read is retried.
 * - `confirmations`: blocks are indexed only once this many blocks are on top of them.
 */
import type { JsonRpcProvider } from "ethers";
import type { Deployment } from "../../lib/deployment.ts";
import { Backoff, sleep } from "../../lib/retry.ts";
import { BlockApplier } from "./apply.ts";
import { EventDecoder, type RawLog } from "./decode.ts";
import { type Checkpoint, INDEX_LAYOUT, IndexStore, K, pad, prefixRange } from "./store.ts";
import { TracemeshError } from "../../lib/errors.ts";

export class ReorgTooDeepError extends TracemeshError {
  constructor(
    readonly block: number,
    readonly depth: number,
  ) {
    super("reorg-too-deep",
      `chain reorganisation deeper than the configured depth of ${depth} blocks: block ${block} was replaced and no block the index ` +
        `kept is still on the chain; rebuild the index (delete its directory) or raise reorgDepth`,
    );
  }
}

export interface IndexerProgress {
  /** Last block in the index. */
  indexedBlock: number;
  /** Chain head seen last. */
  head: number;
  /** Blocks between the index and the head (confirmations included). */
  lag: number;
  events: number;
  /**
   * Hash of the last block in the index (null at the start): a block that replaced another of the
   * same number in a reorg has another hash, so answers kept per indexed block tell them apart.
   */
  indexedHash?: string | null;
}

export interface IndexerOptions {
  provider: JsonRpcProvider;
  deployment: Deployment;
  /** Index directory (LevelDB); or an open store. */
  store: string | IndexStore;
  /** Blocks that must be on top of a block before it is indexed (default 0; 0 on QBFT, where blocks are final). */
  confirmations?: number;
  /** Blocks whose undo records and hashes are kept for reorgs (default 64). */
  reorgDepth?: number;
  /** Most blocks per eth_getLogs request (default 2,000). */
  maxRange?: number;
  /** Polling interval while following the head, ms (default 1,000). */
  pollMs?: number;
  /** Called after every range (catch-up progress). */
  onProgress?: (p: IndexerProgress) => void;
  /** Called after each block is committed (tests use it to stop a process between blocks). */
  onBlock?: (block: number) => void;
  /** Called when following stops on an error that retrying cannot fix (a too-deep reorg). */
  onFatal?: (e: Error) => void;
  /** Non-fatal problems (node unreachable; retried). */
  onError?: (e: Error) => void;
}

interface Header {
  number: number;
  hash: string;
  parentHash: string;
  timestamp: number;
}

export class Indexer {
  readonly decoder: EventDecoder;
  private readonly confirmations: number;
  private readonly reorgDepth: number;
  private maxRange: number;
  private readonly pollMs: number;
  private cp!: Checkpoint;
  private head = 0;
  private running = false;
  private loop: Promise<void> | undefined;
  /** Aborted by stop(): cuts the wait between polls short. */
  private stopping = new AbortController();
  private syncing: Promise<void> | undefined;
  /** Reorgs handled since start. */
  rewinds = 0;
  /** Set when following stopped for good. */
  fatal: Error | undefined;

  private constructor(
    readonly store: IndexStore,
    private readonly ownsStore: boolean,
    private readonly options: IndexerOptions,
  ) {
    this.decoder = new EventDecoder(options.deployment.contracts);
    this.confirmations = Math.max(0, options.confirmations ?? 0);
    this.reorgDepth = Math.max(1, options.reorgDepth ?? 64);
    this.maxRange = Math.max(1, options.maxRange ?? 2000);
    this.pollMs = options.pollMs ?? 1000;
  }

  /**
   * Opens the index for `deployment` (creating it at the block before the deployment). An index
   * built for another chain or deployment is refused.
   */
  static async open(options: IndexerOptions): Promise<Indexer> {
    const owns = typeof options.store === "string";
    const store = typeof options.store === "string" ? await IndexStore.open(options.store) : options.store;
    const indexer = new Indexer(store, owns, options);
    try {
      await indexer.init();
    } catch (e) {
      if (owns) await store.close();
      throw e;
    }
    return indexer;
  }

  private async init(): Promise<void> {
    const d = this.options.deployment;
    const config = { chainId: d.chainId, deploymentBlock: d.deploymentBlock ?? 0, contracts: this.decoder.addresses };
    const stored = await this.store.get<typeof config>(K.config);
    if (stored && JSON.stringify(stored) !== JSON.stringify(config)) {
      throw new Error(
        `the index in ${this.store.location} was built for chain ${stored.chainId} with other contracts (deployment block ${stored.deploymentBlock}); ` +
          `use a new index directory for this deployment`,
      );
    }
    const cp = await this.store.checkpoint();
    const layout = (await this.store.get<number>(K.layout)) ?? 1;
    if (cp && layout === INDEX_LAYOUT) {
      this.cp = cp;
      return;
    }
    if (cp) {
      // Built with an older key layout: later keys would be missing for the blocks already indexed.
      this.options.onError?.(new Error(`the index in ${this.store.location} has key layout ${layout}, this version writes ${INDEX_LAYOUT}: rebuilding it from the chain`));
      await this.store.db.clear();
    }
    this.cp = { number: Math.max(0, config.deploymentBlock - 1), hash: null, time: 0, events: 0 };
    await this.store.db.batch().put(K.config, JSON.stringify(config)).put(K.layout, JSON.stringify(INDEX_LAYOUT)).put(K.checkpoint, JSON.stringify(this.cp)).write();
  }

  /** The last indexed block. */
  get indexedBlock(): number {
    return this.cp.number;
  }

  get checkpoint(): Readonly<Checkpoint> {
    return this.cp;
  }

  progress(): IndexerProgress {
    return { indexedBlock: this.cp.number, indexedHash: this.cp.hash, head: this.head, lag: Math.max(0, this.head - this.cp.number), events: this.cp.events };
  }

  /**
   * Indexes up to the current head minus `confirmations`, and returns where the index stands.
   * Concurrent calls share one run.
   */
  async sync(): Promise<IndexerProgress> {
    if (!this.syncing) {
      this.syncing = this.catchUp().finally(() => {
        this.syncing = undefined;
      });
    }
    await this.syncing;
    return this.progress();
  }

  /** Follows the chain: syncs, then polls for new blocks every `pollMs`. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.stopping = new AbortController();
    // After a failed sync the next poll waits twice as long each time, up to 30 s.
    const backoff = new Backoff({ initialDelayMs: 2 * this.pollMs, maxDelayMs: 30_000, jitter: 0 });
    this.loop = (async () => {
      while (this.running) {
        let delay = this.pollMs;
        try {
          await this.sync();
          backoff.reset();
        } catch (e) {
          if (e instanceof ReorgTooDeepError) {
            this.fatal = e;
            this.running = false;
            this.options.onFatal?.(e);
            return;
          }
          this.options.onError?.(e as Error);
          delay = backoff.next();
        }
        if (!this.running) break;
        await sleep(delay, this.stopping.signal);
      }
    })();
  }

  /** Stops following and closes the store (when the indexer opened it). */
  async stop(): Promise<void> {
    this.running = false;
    this.stopping.abort();
    await this.loop;
    await this.syncing?.catch(() => undefined);
    if (this.ownsStore) await this.store.close();
  }

  // ---------------------------------------------------------------- catching up

  private async catchUp(): Promise<void> {
    for (;;) {
      this.head = await this.blockNumber();
      const target = this.head - this.confirmations;
      // The checkpoint's block must still be on the chain (a reorg may also have shortened it).
      if (this.cp.hash !== null && (await this.headerOrNull(this.cp.number))?.hash !== this.cp.hash) {
        await this.rewind();
        continue;
      }
      if (this.cp.number >= target) return;
      const from = this.cp.number + 1;
      const to = Math.min(target, from + this.maxRange - 1);
      const first = await this.header(from);
      if (this.cp.hash !== null && first.parentHash !== this.cp.hash) {
        await this.rewind();
        continue;
      }
      const last = to === from ? first : await this.header(to);
      const logs = await this.logs(from, to);
      if (logs === undefined) continue; // range halved
      const byBlock = new Map<number, RawLog[]>();
      for (const log of logs) {
        const b = Number(log.blockNumber);
        let list = byBlock.get(b);
        if (!list) byBlock.set(b, (list = []));
        list.push(log);
      }
      const blocks = [...byBlock.keys()].sort((a, b) => a - b);
      const headers = new Map<number, Header>([
        [from, first],
        [to, last],
      ]);
      await this.headers(blocks.filter((b) => !headers.has(b)), headers);
      const again = await this.header(to);
      const consistent = again.hash === last.hash && logs.every((l) => l.blockHash === headers.get(Number(l.blockNumber))!.hash);
      if (!consistent) continue; // the chain moved while we read: read the range again
      for (const b of blocks) {
        const list = byBlock.get(b)!.sort((x, y) => Number(x.logIndex) - Number(y.logIndex));
        await this.applyBlock(headers.get(b)!, list);
      }
      if (this.cp.number !== to) await this.applyBlock(last, []);
      await this.prune();
      this.options.onProgress?.(this.progress());
    }
  }

  /** One block's events, its undo record, its hash and the checkpoint: one atomic batch. */
  private async applyBlock(h: Header, logs: RawLog[]): Promise<void> {
    const w = this.store.writer();
    const applier = new BlockApplier(w);
    for (const log of logs) {
      const decoded = this.decoder.decode(log);
      if (!decoded) continue;
      await applier.apply(decoded.contract, decoded.event, { block: h.number, time: h.timestamp, tx: log.transactionHash.toLowerCase(), logIndex: Number(log.logIndex) });
    }
    const cp: Checkpoint = { number: h.number, hash: h.hash, time: h.timestamp, events: this.cp.events + applier.applied };
    const put: [string, string][] = [
      [K.checkpoint, JSON.stringify(cp)],
      // The block's checkpoint, kept for the reorg depth: a rewind returns to one of these.
      [K.blockHash(h.number), JSON.stringify(cp)],
    ];
    if (w.size > 0) put.push([K.undo(h.number), JSON.stringify(w.undoRecord())]);
    await w.commit({ put });
    this.cp = cp;
    this.options.onBlock?.(h.number);
  }

  /** Forgets undo records and hashes older than the reorg depth. */
  private async prune(): Promise<void> {
    const below = this.cp.number - this.reorgDepth;
    if (below <= 0) return;
    const batch = this.store.db.batch();
    let count = 0;
    for (const prefix of ["undo:", "bh:"]) {
      for await (const key of this.store.db.keys({ gte: prefix, lt: prefix + pad(below) })) {
        batch.del(key);
        count++;
      }
    }
    if (count > 0) await batch.write();
    else await batch.close();
  }

  // ---------------------------------------------------------------- reorgs

  /**
   * Finds the newest kept block that is still on the chain and undoes every block after it,
   * in one atomic batch that also moves the checkpoint there.
   */
  private async rewind(): Promise<void> {
    const start = this.cp.number;
    const kept = await this.store.db.iterator({ ...prefixRange("bh:"), reverse: true }).all();
    let ancestor: Checkpoint | undefined;
    for (const [key, raw] of kept) {
      const n = Number(key.slice(3));
      if (start - n > this.reorgDepth) break;
      const keptCp = JSON.parse(raw) as Checkpoint;
      if ((await this.headerOrNull(n))?.hash === keptCp.hash) {
        ancestor = keptCp;
        break;
      }
    }
    const origin = Math.max(0, (this.options.deployment.deploymentBlock ?? 0) - 1);
    if (!ancestor && start - origin <= this.reorgDepth) ancestor = { number: origin, hash: null, time: 0, events: 0 };
    if (!ancestor) throw new ReorgTooDeepError(start, this.reorgDepth);

    const undos = await this.store.db.iterator({ gt: K.undo(ancestor.number), lt: "undo:\xff", reverse: true }).all();
    const w = this.store.writer();
    for (const [, raw] of undos) {
      // Newest first: each older block's undo overwrites, so every key ends at its value before the oldest undone block.
      for (const [key, prev] of JSON.parse(raw) as [string, string | null][]) await w.restore(key, prev);
    }
    for (const [key] of undos) await w.del(key);
    const hashes = await this.store.db.keys({ gt: K.blockHash(ancestor.number), lt: "bh:\xff" }).all();
    for (const key of hashes) await w.del(key);
    await w.commit({ put: [[K.checkpoint, JSON.stringify(ancestor)]] });
    this.cp = ancestor;
    this.rewinds++;
  }

  // ---------------------------------------------------------------- JSON-RPC

  /**
   * One JSON-RPC call over the provider's URL with the platform's fetch and JSON parser: logs
   * responses run to megabytes, which ethers' own response decoding handles many times slower.
   */
  private async rpc<T>(method: string, params: unknown[]): Promise<T> {
    const url = this.options.provider._getConnection().url;
    let res: Response;
    try {
      res = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
        signal: AbortSignal.timeout(120_000),
      });
    } catch (e) {
      throw new Error(`the chain node at ${url} did not answer ${method}: ${(e as Error).message}`, { cause: e });
    }
    if (!res.ok) throw new Error(`the chain node at ${url} answered ${method} with HTTP ${res.status}: ${(await res.text()).slice(0, 200)}`);
    const body = (await res.json()) as { result?: T; error?: { code: number; message: string } };
    if (body.error) throw new Error(`${method} failed: ${body.error.message} (code ${body.error.code})`);
    return body.result as T;
  }

  private async blockNumber(): Promise<number> {
    return Number(await this.rpc<string>("eth_blockNumber", []));
  }

  private async header(n: number): Promise<Header> {
    const h = await this.headerOrNull(n);
    if (!h) throw new Error(`the chain has no block ${n} (its head moved back)`);
    return h;
  }

  private async headerOrNull(n: number): Promise<Header | null> {
    const b = await this.rpc<{
      number: string;
      hash: string;
      parentHash: string;
      timestamp: string;
    } | null>("eth_getBlockByNumber", ["0x" + n.toString(16), false]);
    if (!b) return null;
    return { number: Number(b.number), hash: b.hash, parentHash: b.parentHash, timestamp: Number(b.timestamp) };
  }

  private async headers(numbers: number[], into: Map<number, Header>): Promise<void> {
    const CONCURRENCY = 8;
    for (let i = 0; i < numbers.length; i += CONCURRENCY) {
      const chunk = numbers.slice(i, i + CONCURRENCY);
      const got = await Promise.all(chunk.map((b) => this.header(b)));
      for (const h of got) into.set(h.number, h);
    }
  }

  /** The range's logs; undefined after halving `maxRange` because the node refused the range. */
  private async logs(from: number, to: number): Promise<RawLog[] | undefined> {
    try {
      return await this.rpc<RawLog[]>("eth_getLogs", [{ fromBlock: "0x" + from.toString(16), toBlock: "0x" + to.toString(16), address: this.decoder.addresses }]);
    } catch (e) {
      const message = (e as Error).message;
      if (to > from && /range|limit|too many|exceed|results|timeout/i.test(message)) {
        this.maxRange = Math.max(1, Math.floor((to - from + 1) / 2));
        return undefined;
      }
      throw e;
    }
  }
}
