/**
 * Anchors closed windows on DataAnchors, strictly in order, exactly once.
 *
 * The chain is the record of what is anchored; the store only remembers what the node has seen
 * confirmed. So on start, and after every error, the anchorer reconciles: it asks `lastSequence`,
 * and for every window the chain holds that the store has not marked, compares roots. Equal roots
 * mean an earlier attempt landed (e.g. before a crash, or a receipt lost in an outage): the window
 * is marked, never sent again. A different root, or a chain ahead of the store's closed windows,
 * are typed, fatal errors (errors.ts): anchoring stops loudly.
 *
 * Lost anchors: a chain behind what was confirmed (a chain reset to an older state, a reorg deeper
 * than the confirmation depth) lost transactions, not history: once the last anchor it still holds
 * has the store's root, the receipts after it are forgotten and those windows anchored again, in
 * order, from there. What happened is logged, kept in the store and shown in the status
 * (`recovery`), until the last lost window is anchored again and after.
 *
 * Windows lost before they were anchored: a damaged store (`npm run node -- repair`) may lose
 * closed windows that were never anchored. Each anchor names its predecessor's root, so anchoring
 * cannot simply skip them; the node records each run of them on chain as lost
 * (DataAnchors.recordLostWindows: one leafless anchor at the run's end, naming the root its next
 * window extends, and a WindowsLost event every auditor sees), then anchors on. Logged, kept in
 * the store (`lostRuns`) and shown in the status (`lost`) and the metrics.
 *
 * Closed windows wait durably in the store; when several are waiting (a chain outage, a slow
 * chain) they go in one `anchorBatch` of up to `maxBatch` windows. Failures are retried with
 * exponential back-off; ingestion never waits for the chain.
 *
 * Clock: DataAnchors refuses a window ending more than MAX_CLOCK_SKEW_MS after the block time,
 * and windows end on the node clock. Before each batch the anchorer reads the chain's time: a
 * node clock ahead of it by more than `clockAlertMs` is alerted in the log (once, then every
 * `clockAlertEveryMs`) and shown in the status; windows the chain would refuse are held (state
 * "held", still pending in the store) and sent, in order, once the chain's time has caught up.
 */
import { EventEmitter } from "node:events";
import { type AnchorReceipt, type AnchorRecovery, type IngestStore, type LostRun, type WindowRecord, ZERO_ROOT } from "../ingest/store.ts";
import type { AnchorChain, AnchorWindow, LostWindows, Submitted } from "./client.ts";
import { AnchorConflictError, AnchorRejectedError, ChainAheadError, ChainUnavailableError, isFatalAnchorError } from "./errors.ts";
import { Backoff, sleep } from "../../lib/retry.ts";

export type AnchoringState = "starting" | "reconciling" | "idle" | "anchoring" | "held" | "retrying" | "failed" | "stopped";

/** The node clock against the chain's, as last compared. */
export interface ClockCheck {
  /** Node clock minus chain time, ms (negative: the node is behind). */
  aheadMs: number;
  chainTimeMs: number;
  /** Node clock at the comparison. */
  checkedAt: number;
  /** True while aheadMs exceeds the alert threshold. */
  alert: boolean;
}

export interface AnchoringStatus {
  state: AnchoringState;
  node: string;
  lastAnchored: number;
  pendingWindows: number;
  lastAnchor?: AnchorReceipt;
  lastError?: string;
  /** Consecutive failed attempts. */
  attempts: number;
  clock?: ClockCheck;
  /** Windows waiting because they end later than the chain accepts yet (state "held"). */
  heldWindows?: number;
  /** The last time the chain lost anchors this node had seen confirmed, and their re-anchoring. */
  recovery?: AnchorRecovery;
  /** Windows the store lost before they were anchored, recorded on chain as lost. */
  lost?: { windows: number; runs: LostRun[] };
}

export interface AnchorerOptions {
  /** Windows per anchorBatch transaction (default 32). */
  maxBatch?: number;
  /** Back-off between attempts (the config's chain.retry): from minMs (default 500) up to maxMs (default 30,000), each up to half shorter. */
  retry?: { minMs?: number; maxMs?: number };
  log?: (message: string) => void;
  /** The node clock, Unix ms (default Date.now; tests set one ahead). */
  clock?: () => number;
  /** Alert when the node clock is this far ahead of the chain's, ms (default 60,000: well before DataAnchors' 300 s refusal). */
  clockAlertMs?: number;
  /** Repeat a standing clock alert at most this often, ms (default 300,000). */
  clockAlertEveryMs?: number;
  /** How often held windows look at the chain's time again, ms (default 2,000). */
  heldPollMs?: number;
}

/** What the anchorer needs from the pipeline: the last closed window (it grows). */
export interface ClosedWindows {
  readonly lastClosed: number;
}

// Refusals that mean "the chain moved on without us knowing": reconcile at once, no back-off.
const RECONCILE_NOW = new Set(["AlreadyAnchored", "UnexpectedSequence", "PreviousRootMismatch", "TransactionReverted"]);

export class Anchorer extends EventEmitter {
  private state: AnchoringState = "starting";
  private anchored = 0;
  private lastAnchor: AnchorReceipt | undefined;
  private lastError: string | undefined;
  private attempts = 0;
  private readonly backoff: Backoff;
  private fatal: Error | undefined;
  private readonly abort = new AbortController();
  private notified: (() => void) | undefined;
  private loop: Promise<void> | undefined;
  private readonly maxBatch: number;
  private readonly log: (message: string) => void;
  private waiters: { sequence: number; resolve: () => void }[] = [];
  private readonly clock: () => number;
  private clockCheck: ClockCheck | undefined;
  private lastClockAlert: number | undefined;
  private held = 0;
  private recovery: AnchorRecovery | undefined;
  private lostRuns: LostRun[] = [];

  constructor(
    private readonly store: IngestStore,
    private readonly windows: ClosedWindows,
    readonly chain: AnchorChain,
    private readonly options: AnchorerOptions = {},
  ) {
    super();
    this.maxBatch = Math.max(1, options.maxBatch ?? 32);
    this.log = options.log ?? (() => {});
    this.clock = options.clock ?? Date.now;
    this.backoff = new Backoff({ initialDelayMs: options.retry?.minMs ?? 500, maxDelayMs: options.retry?.maxMs ?? 30_000, jitter: 0.5 });
  }

  async start(): Promise<void> {
    this.anchored = await this.store.lastAnchored();
    if (this.anchored > 0) this.lastAnchor = await this.store.anchorReceipt(this.anchored);
    this.recovery = await this.store.anchorRecovery();
    this.lostRuns = await this.store.lostRuns();
    this.loop = this.run();
  }

  /** A window closed: anchor it soon. */
  notify(): void {
    const n = this.notified;
    this.notified = undefined;
    n?.();
  }

  /** Resolves once window `sequence` is anchored (or anchoring stops). */
  anchoredUpTo(sequence: number): Promise<void> {
    if (this.anchored >= sequence || this.fatal || this.state === "stopped") return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ sequence, resolve }));
  }

  async stop(): Promise<void> {
    this.abort.abort();
    this.notify();
    await this.loop;
    this.state = "stopped";
    this.settleWaiters(true);
  }

  get error(): Error | undefined {
    return this.fatal;
  }

  status(): AnchoringStatus {
    return {
      state: this.state,
      node: this.chain.node,
      lastAnchored: this.anchored,
      pendingWindows: Math.max(0, this.windows.lastClosed - this.anchored),
      ...(this.lastAnchor ? { lastAnchor: this.lastAnchor } : {}),
      ...(this.lastError ? { lastError: this.lastError } : {}),
      attempts: this.attempts,
      ...(this.clockCheck ? { clock: { ...this.clockCheck } } : {}),
      ...(this.state === "held" ? { heldWindows: this.held } : {}),
      ...(this.recovery ? { recovery: { ...this.recovery } } : {}),
      ...(this.lostRuns.length > 0 ? { lost: { windows: this.lostRuns.reduce((n, r) => n + r.toSequence - r.fromSequence + 1, 0), runs: this.lostRuns.map((r) => ({ ...r })) } } : {}),
    };
  }

  private settleWaiters(all = false): void {
    this.waiters = this.waiters.filter((w) => {
      if (all || this.anchored >= w.sequence) {
        w.resolve();
        return false;
      }
      return true;
    });
  }

  private async run(): Promise<void> {
    let reconcile = true;
    while (!this.abort.signal.aborted) {
      try {
        if (reconcile) {
          this.state = "reconciling";
          await this.reconcile();
          reconcile = false;
        }
        const next = this.anchored + 1;
        const last = this.windows.lastClosed;
        if (next > last) {
          this.state = "idle";
          await new Promise<void>((r) => {
            this.notified = r;
            if (this.windows.lastClosed > this.anchored || this.abort.signal.aborted) r();
          });
          continue;
        }
        const { chainTimeMs, latestAllowedMs } = await this.chain.latestAllowedEndMs();
        this.compareClocks(chainTimeMs);
        // Only the leading windows the chain accepts now: order is kept, the rest wait.
        const loaded = await this.load(next, Math.min(last, next + this.maxBatch - 1));
        const lost = loaded.length === 0 ? await this.lostRun(next) : undefined;
        const tooLate = loaded.findIndex((w) => w.toTimeMs > latestAllowedMs);
        const batch = tooLate < 0 ? loaded : loaded.slice(0, tooLate);
        if (batch.length === 0 && (lost === undefined || lost.toTimeMs > latestAllowedMs)) {
          const endMs = lost?.toTimeMs ?? loaded[0]!.toTimeMs;
          if (this.state !== "held") this.log(`anchoring held: window ${next} ends ${Math.round((endMs - latestAllowedMs) / 1000)} s later than the chain accepts (its time plus the allowed skew); it waits, pending, until the chain's time catches up`);
          this.state = "held";
          this.held = last - this.anchored;
          await sleep(this.options.heldPollMs ?? 2_000, this.abort.signal);
          continue;
        }
        if (this.state === "held") this.log(`anchoring resumed: the chain's time caught up with window ${next}`);
        this.state = "anchoring";
        this.held = 0;
        if (lost) {
          await this.recordLost(lost);
        } else {
          const sent = await this.chain.submit(batch, this.abort.signal);
          await this.record(batch.map((w) => ({ sequence: w.sequence, txHash: sent.txHash, blockNumber: sent.blockNumber, anchoredAt: sent.anchoredAt })));
        }
        this.attempts = 0;
        this.backoff.reset();
        this.lastError = undefined;
      } catch (e) {
        if (this.abort.signal.aborted) break;
        const err = e as Error;
        if (isFatalAnchorError(err)) {
          this.fatal = err;
          this.state = "failed";
          this.lastError = err.message;
          this.log(`ANCHORING STOPPED: ${err.message}`);
          this.settleWaiters(true);
          this.emit("fatal", err);
          return;
        }
        reconcile = true;
        this.lastError = err.message;
        const immediate = err instanceof AnchorRejectedError && RECONCILE_NOW.has(err.errorName) && this.attempts === 0;
        this.attempts++;
        // Every failure moves the back-off on, an immediate reconcile included.
        const delay = this.backoff.next();
        if (immediate) continue;
        this.state = "retrying";
        this.log(`anchoring: ${err.message}; retrying in ${delay} ms`);
        this.emit("retry", err);
        await sleep(delay, this.abort.signal);
      }
    }
  }

  /** Compares the node clock with the chain's; alerts when the node is too far ahead. */
  private compareClocks(chainTimeMs: number): void {
    const now = this.clock();
    const aheadMs = now - chainTimeMs;
    const limitMs = this.options.clockAlertMs ?? 60_000;
    const alert = aheadMs > limitMs;
    this.clockCheck = { aheadMs, chainTimeMs, checkedAt: now, alert };
    if (alert) {
      if (this.lastClockAlert === undefined || now - this.lastClockAlert >= (this.options.clockAlertEveryMs ?? 300_000)) {
        this.lastClockAlert = now;
        this.log(`ALERT: the node clock is ${Math.round(aheadMs / 1000)} s ahead of the chain's time (alert above ${Math.round(limitMs / 1000)} s); DataAnchors refuses windows ending more than its MAX_CLOCK_SKEW_MS after the block time, so such windows are held until the chain catches up. Check the node's time synchronisation.`);
        this.emit("clockAhead", { ...this.clockCheck });
      }
    } else if (this.lastClockAlert !== undefined) {
      this.lastClockAlert = undefined;
      this.log(`the node clock is back within ${Math.round(limitMs / 1000)} s of the chain's time`);
    }
  }

  /** Closed windows `from`..`to` from the store, up to the first one it lost. */
  private async load(from: number, to: number): Promise<AnchorWindow[]> {
    const out: AnchorWindow[] = [];
    for (let s = from; s <= to; s++) {
      const w = await this.store.window(s);
      if (w === undefined) break;
      out.push(toAnchorWindow(w));
    }
    return out;
  }

  /**
   * The run of closed windows from `first` that the store lost, as the chain records it: up to
   * the next window the store holds (whose prevRoot is the run's last root, and whose start ends
   * the run) or the last closed one (the head keeps its root and end); from the end of the last
   * anchor, whose root it extends.
   */
  private async lostRun(first: number): Promise<LostWindows> {
    const head = await this.store.head();
    let end = first;
    let after: WindowRecord | undefined;
    while (end < head.lastClosed && (after = await this.store.window(end + 1)) === undefined) end++;
    let prevRoot = ZERO_ROOT;
    let fromTimeMs = 0;
    if (first > 1) {
      const prev = await this.chain.getAnchor(first - 1);
      if (prev === undefined) throw new ChainUnavailableError(`the chain has no anchor for window ${first - 1}, which this node saw confirmed`);
      prevRoot = prev.root;
      fromTimeMs = Number(prev.toTimeMs);
    }
    return { fromSequence: first, toSequence: end, root: after?.prevRoot ?? head.lastRoot, prevRoot, fromTimeMs, toTimeMs: after?.fromTimeMs ?? head.lastToTimeMs };
  }

  /** Records on chain that the store lost `run` before anchoring it, then marks it anchored as lost. */
  private async recordLost(run: LostWindows): Promise<void> {
    const span = `${run.fromSequence}..${run.toSequence}`;
    this.log(
      `WINDOWS LOST: closed windows ${span} are missing from the store and were never anchored (a damaged store); ` +
        `recording them on chain as lost (DataAnchors.recordLostWindows) so that anchoring goes on with window ${run.toSequence + 1}; their readings cannot be proven`,
    );
    const sent = await this.chain.submitLost(run, this.abort.signal);
    await this.recordLostRun(run, sent);
    this.log(`windows ${span} are recorded on chain as lost (transaction ${sent.txHash}); anchoring goes on`);
  }

  /** Marks the windows of a run recorded on chain as lost (by `sent`, or found on chain at reconciling). */
  private async recordLostRun(run: LostWindows, sent: Partial<Submitted> & { anchoredAt: number }): Promise<void> {
    const receipts: AnchorReceipt[] = [];
    for (let s = run.fromSequence; s <= run.toSequence; s++) {
      receipts.push({ sequence: s, ...(sent.txHash ? { txHash: sent.txHash } : {}), ...(sent.blockNumber ? { blockNumber: sent.blockNumber } : {}), anchoredAt: sent.anchoredAt, lost: true });
    }
    const entry: LostRun = { fromSequence: run.fromSequence, toSequence: run.toSequence, detectedAt: this.clock(), ...(sent.txHash ? { txHash: sent.txHash } : {}) };
    // Runs after this one belong to a history the chain no longer holds (lost anchors).
    const runs = [...this.lostRuns.filter((r) => r.toSequence < run.fromSequence), entry];
    await this.record(receipts, runs);
    this.lostRuns = runs;
    this.emit("windowsLost", { ...entry });
  }

  /**
   * Brings the store's view in line with the chain: windows the chain holds with the same root
   * are marked anchored; anything else that disagrees is fatal.
   */
  private async reconcile(): Promise<void> {
    const node = this.chain.node;
    const onChain = await this.chain.lastSequence();
    const closed = this.windows.lastClosed;
    if (onChain > closed) throw new ChainAheadError(node, onChain, closed);
    if (onChain < this.anchored) await this.forgetLostAnchors(onChain);
    const receipts: AnchorReceipt[] = [];
    const depth = this.chain.client.confirmations;
    const head = depth > 1 ? await this.chain.client.provider.getBlockNumber() : 0;
    for (let s = this.anchored + 1; s <= onChain; s++) {
      const [anchor, local] = await Promise.all([this.chain.getAnchor(s), this.store.window(s)]);
      if (local === undefined) {
        // Windows the store lost: an earlier attempt may have recorded them on chain as lost.
        if (receipts.length > 0) await this.record(receipts.splice(0));
        const run = await this.lostRun(s);
        const end = run.toSequence <= onChain ? await this.chain.getAnchor(run.toSequence) : undefined;
        if (end === undefined || end.leafCount !== 0n || end.root.toLowerCase() !== run.root.toLowerCase()) throw new ChainAheadError(node, s, closed);
        const tx = await this.chain.lostTx(run.fromSequence);
        if (depth > 1 && (tx === undefined || head - tx.blockNumber + 1 < depth)) throw new ChainUnavailableError(`windows ${run.fromSequence}..${run.toSequence} are recorded lost on chain but not yet ${depth} blocks deep`);
        this.log(`reconciled: windows ${run.fromSequence}..${run.toSequence}, missing from the store, were already recorded on chain as lost`);
        await this.recordLostRun(run, { ...(tx ?? {}), anchoredAt: Number(end.anchoredAt) });
        s = run.toSequence;
        continue;
      }
      if (anchor === undefined) throw new ChainUnavailableError(`the chain reports ${onChain} anchors but has none for window ${s}`);
      if (local === undefined) throw new ChainAheadError(node, s, closed);
      if (anchor.root.toLowerCase() !== local.root.toLowerCase()) throw new AnchorConflictError(node, s, local.root, anchor.root);
      const tx = await this.chain.anchorTx(s);
      // Found on chain is not yet confirmed: with a confirmation depth, mark only deep enough anchors.
      if (depth > 1 && (tx === undefined || head - tx.blockNumber + 1 < depth)) {
        if (receipts.length === 0) throw new ChainUnavailableError(`window ${s} is on chain but not yet ${depth} blocks deep`);
        break;
      }
      receipts.push({ sequence: s, ...(tx ?? {}), anchoredAt: Number(anchor.anchoredAt) });
    }
    if (receipts.length > 0) {
      this.log(`reconciled: windows ${receipts[0]!.sequence}..${receipts.at(-1)!.sequence} were already anchored`);
      await this.record(receipts);
    }
  }

  /**
   * The chain holds this node's anchors only up to `chainLast`, fewer than were confirmed: if its
   * last one still has the store's root, the store forgets the receipts after it, so the loop
   * anchors those windows again in order. A different root stays fatal (another history).
   */
  private async forgetLostAnchors(chainLast: number): Promise<void> {
    const node = this.chain.node;
    if (chainLast > 0) {
      const [anchor, local] = await Promise.all([this.chain.getAnchor(chainLast), this.store.window(chainLast)]);
      if (anchor === undefined) throw new ChainUnavailableError(`the chain reports ${chainLast} anchors but has none for window ${chainLast}`);
      // The end of a run recorded as lost holds no window in the store: its root is the one its successor names.
      const lostEnd = local === undefined && anchor.leafCount === 0n && this.lostRuns.some((r) => r.toSequence === chainLast);
      if (local === undefined && !lostEnd) throw new ChainAheadError(node, chainLast, this.windows.lastClosed);
      const root = local?.root ?? (await this.store.window(chainLast + 1))?.prevRoot ?? (await this.store.head()).lastRoot;
      if (anchor.root.toLowerCase() !== root.toLowerCase()) throw new AnchorConflictError(node, chainLast, root, anchor.root);
    }
    const recovery: AnchorRecovery = { detectedAt: this.clock(), chainLast, lostUpTo: this.anchored };
    this.log(
      `ANCHORS LOST: the chain holds node ${node}'s anchors only up to window ${chainLast}, but ${this.anchored} were confirmed before ` +
        `(the chain was reset or reorganised deeper than the confirmation depth); anchoring windows ${chainLast + 1}..${this.anchored} again, in order`,
    );
    await this.store.forgetAnchorsAfter(chainLast, recovery);
    this.chain.resetNonce(); // the lost transactions took their nonces with them
    this.anchored = chainLast;
    this.lastAnchor = chainLast > 0 ? await this.store.anchorReceipt(chainLast) : undefined;
    this.recovery = recovery;
    this.emit("anchorsLost", { ...recovery });
  }

  private async record(receipts: AnchorReceipt[], lostRuns?: LostRun[]): Promise<void> {
    await this.store.markAnchored(receipts, lostRuns);
    this.anchored = receipts.at(-1)!.sequence;
    this.lastAnchor = receipts.at(-1);
    const r = this.recovery;
    if (r && r.reanchoredAt === undefined && this.anchored >= r.lostUpTo) {
      this.recovery = { ...r, reanchoredAt: this.clock() };
      await this.store.saveAnchorRecovery(this.recovery);
      this.log(`anchors recovered: windows ${r.chainLast + 1}..${r.lostUpTo}, lost by the chain, are anchored again`);
    }
    this.settleWaiters();
    this.emit("anchored", receipts);
  }
}

export function toAnchorWindow(w: WindowRecord): AnchorWindow {
  return { sequence: w.sequence, root: w.root, prevRoot: w.prevRoot, fromTimeMs: w.fromTimeMs, toTimeMs: w.toTimeMs, leafCount: w.leafCount };
}
