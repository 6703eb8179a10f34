/**
 * Re-verifies the node's own events against Provenance. A reorg deeper than the confirmation
 * depth can drop the block that recorded an event; the store would still call it recorded and
 * partners, finding no record (verify.ts), would take the honest owner for a forger. So, at start
 * and every `intervalMs`, each own event held as recorded is looked up (recordOfEventBy of its
 * record hash); one the chain no longer holds is marked unrecorded in the store
 * (EventStore.markUnrecorded), logged, and no longer served to partners (node/p2p/documents.ts).
 * One marked unrecorded whose record is back, by the same organisation (its transaction
 * re-included by the new chain, or the document captured again), is recorded and served again.
 *
 * It is not re-recorded automatically: the mapped Provenance call (ship, receive, transform ...)
 * depends on chain state the reorg may have changed too, so sending it again blindly is not safe.
 * Capturing the same document again is: its job plans against the chain as it is now, and events
 * still on chain come back as already-recorded.
 */
import type { Provider } from "ethers";
import { Provenance__factory } from "../../lib/contracts/types/index.js";
import { RecordKind } from "../../lib/registry.ts";
import type { EventStore, StoredEvent } from "./store.ts";

export interface RecordCheck {
  /** Own events looked up on chain. */
  checked: number;
  /** Those found gone and marked unrecorded now. */
  unrecorded: StoredEvent[];
  /** Unrecorded ones found recorded again now. */
  recordedAgain: StoredEvent[];
}

export interface RecordWatchOptions {
  /** Between checks, ms (default 600,000; 0: only when `check()` is called). */
  intervalMs?: number;
  log?: (message: string) => void;
}

export class RecordWatch {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<RecordCheck> | undefined;
  private readonly log: (message: string) => void;
  private stopped = false;

  constructor(
    private readonly store: EventStore,
    private readonly provider: Provider,
    private readonly provenance: string,
    private readonly options: RecordWatchOptions = {},
  ) {
    this.log = options.log ?? (() => {});
  }

  /** Checks at once (best effort: a chain that cannot be reached is logged), then every intervalMs. */
  start(): void {
    const tick = () =>
      void this.check().catch((e: unknown) => this.log(`cannot re-verify own event records: ${(e as Error).message.split("\n")[0]}`));
    tick();
    const every = this.options.intervalMs ?? 600_000;
    if (every > 0) {
      this.timer = setInterval(tick, every);
      this.timer.unref();
    }
  }

  /** Stops the timer and waits for a check under way. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running?.catch(() => undefined);
  }

  /** Looks every own recorded event up on chain; marks the ones gone. One check at a time. */
  check(): Promise<RecordCheck> {
    this.running ??= this.checkAll().finally(() => (this.running = undefined));
    return this.running;
  }

  private async checkAll(): Promise<RecordCheck> {
    const registry = Provenance__factory.connect(this.provenance, this.provider);
    const gone: StoredEvent[] = [];
    const back: StoredEvent[] = [];
    let checked = 0;
    for await (const e of this.store.ownEvents()) {
      if (this.stopped) break;
      if (e.chain === undefined && e.unrecorded === undefined) continue;
      checked++;
      const recordId = await registry.recordOfEventBy(e.recordHash, e.owner);
      if (e.chain !== undefined && recordId === 0n) {
        const marked = await this.store.markUnrecorded(e.sid);
        if (marked) gone.push(marked);
      } else if (e.unrecorded !== undefined && recordId !== 0n) {
        const record = await registry.record(recordId);
        const restored = await this.store.markRecorded(e.sid, { recordId: recordId.toString(), kind: RecordKind[Number(record.kind)] ?? String(record.kind) });
        if (restored) back.push(restored);
      }
    }
    if (back.length > 0) this.log(`own event(s) recorded on chain again: ${back.map((e) => e.hashId).join(", ")}`);
    if (gone.length > 0)
      this.log(
        `ALERT: ${gone.length} own event(s) are no longer recorded on chain (a reorg dropped their records): ${gone.map((e) => e.hashId).join(", ")}; marked unrecorded and no longer served to partners. Capture their documents again to record them.`,
      );
    return { checked, unrecorded: gone, recordedAgain: back };
  }
}
