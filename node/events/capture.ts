/**
 * Capture jobs (GS1 EPCIS 2.0 REST bindings, /capture): a validated document is accepted as a
 * job, persisted before it is acknowledged, and recorded in the background, one job at a time
 * (one signing account, one transaction per document). Jobs and their documents live in the
 * event store's LevelDB, so they survive a restart: `start()` resumes unfinished jobs, and because
 * recording re-plans against the chain, a transaction that landed before a crash is found as
 * already recorded instead of being sent twice.
 *
 * Idempotency: a document is identified by the record hashes of its events, in order. The same
 * document captured again by the same organisation answers the earlier job (unless that job
 * failed, when it is tried afresh) and sends nothing.
 *
 * A job ends "succeeded" (every event on chain and in the store, in one LevelDB batch with the
 * job's final state) or "failed" (refused by the chain or by the recording rules: nothing on
 * chain, nothing stored). While the chain is unreachable the job stays "running" and is retried
 * with back-off.
 */
import { createHash, randomBytes } from "node:crypto";
import { EventEmitter } from "node:events";
import { declaredIgnoreFields, documentEventList } from "../../lib/epcis/event-hash.ts";
import { recordHashOf } from "../../lib/epcis/record-hash.ts";
import type { CaptureState } from "../../lib/api/capture.ts";
import { Backoff, sleep } from "../../lib/retry.ts";
import { ChainUnavailableError } from "../chain/errors.ts";
import { CaptureRefusedError, type EventError, type EventRecorder, type EventResult } from "./recorder.ts";
import type { EventStore, NewEvent } from "./store.ts";
import { TracemeshError } from "../../lib/errors.ts";

export type { CaptureState };

export interface CaptureJob {
  captureID: string;
  /** The capturing organisation. */
  owner: number;
  /** ISO 8601. */
  createdAt: string;
  finishedAt?: string;
  state: CaptureState;
  /** GS1 capture job fields. */
  running: boolean;
  success: boolean;
  captureErrorBehaviour: "rollback";
  /** SHA-256 over the document's record hashes (its identity for idempotency). */
  documentDigest: string;
  eventCount: number;
  attempts: number;
  /** Per event, once succeeded. */
  results?: EventResult[];
  /** Per event, when refused (or one document-level entry, index -1). */
  errors: EventError[];
  /** The last transient failure while retrying. */
  lastError?: string;
}

export class CaptureForbiddenError extends TracemeshError {
  constructor(message: string) {
    super("capture-forbidden", message);
  }
}

const SEP = "\u0000";
const k = (...parts: string[]) => parts.join(SEP);

/** The bytes32 each event of a document is recorded under, in document order. */
export function documentRecordHashes(doc: Record<string, unknown>): string[] {
  const options = { context: doc["@context"], ignoreFields: declaredIgnoreFields(doc) };
  return documentEventList(doc).map((e, i) => recordHashOf(e, options, i));
}

/**
 * The record hashes of the documents of capture jobs not finished yet (a crash in between): their
 * events are stored when the worker resumes the job at the next start.
 */
export async function unfinishedCaptureHashes(store: EventStore): Promise<Set<string>> {
  const out = new Set<string>();
  const prefix = k("jq", "");
  for await (const key of store.db.keys({ gte: prefix, lt: prefix + "\uffff" })) {
    const doc = (await store.db.get(k("jdoc", key.slice(prefix.length))).catch(() => undefined)) as Record<string, unknown> | undefined;
    if (doc === undefined) continue;
    try {
      for (const h of documentRecordHashes(doc)) out.add(h.toLowerCase());
    } catch {
      // A document that no longer hashes: its job fails when resumed, and its records count as lost.
    }
  }
  return out;
}

export interface CaptureServiceOptions {
  /** Back-off between attempts while the chain is unavailable, ms (default 1000 .. 30,000). */
  retryBaseMs?: number;
  retryMaxMs?: number;
}

export class CaptureService extends EventEmitter {
  private queue: string[] = [];
  private wake: (() => void) | undefined;
  private loop: Promise<void> | undefined;
  private readonly abort = new AbortController();
  private submitting: Promise<unknown> = Promise.resolve();

  constructor(
    readonly store: EventStore,
    readonly recorder: EventRecorder,
    private readonly options: CaptureServiceOptions = {},
  ) {
    super();
  }

  /** Resumes unfinished jobs (oldest first) and starts the worker. */
  async start(): Promise<void> {
    if (this.loop) return;
    const prefix = k("jq", "");
    for await (const key of this.store.db.keys({ gte: prefix, lt: prefix + "\uffff" })) this.queue.push(key.slice(prefix.length));
    this.loop = this.run();
  }

  /** Stops the worker; a job in flight stays unfinished and resumes at the next start. */
  async stop(): Promise<void> {
    this.abort.abort();
    this.wake?.();
    await this.loop?.catch(() => undefined);
  }

  /**
   * Takes a document accepted for capture (accept.ts) from `owner`, which must be the node's
   * organisation, with its record hashes when acceptance computed them. Answers the earlier job for
   * a document already captured (unless a reorg left one of its events unrecorded: then it is
   * captured again, planned against the chain as it is now); otherwise the new job, persisted.
   */
  /** Whether an own event of these record hashes is held unrecorded (node/events/records.ts). */
  private async anyUnrecorded(recordHashes: readonly string[]): Promise<boolean> {
    for (const h of recordHashes) if ((await this.store.bySid("o" + h.replace(/^0x/, "").toLowerCase()))?.unrecorded) return true;
    return false;
  }

  async submit(doc: Record<string, unknown>, owner: number, recordHashes: readonly string[] = documentRecordHashes(doc)): Promise<{ job: CaptureJob; replay: boolean }> {
    await this.checkOwner(owner);
    const digest = createHash("sha256").update(recordHashes.join(",")).digest("hex");
    const run = this.submitting.then(async () => {
      const earlierId = (await this.store.db.get(k("jd", String(owner), digest))) as string | undefined;
      const earlier = earlierId === undefined ? undefined : await this.job(earlierId);
      if (earlier && earlier.state !== "failed" && !(await this.anyUnrecorded(recordHashes))) return { job: earlier, replay: true };
      const captureID = Date.now().toString(36).padStart(9, "0") + randomBytes(6).toString("hex");
      const job: CaptureJob = {
        captureID,
        owner,
        createdAt: new Date().toISOString(),
        state: "pending",
        running: true,
        success: false,
        captureErrorBehaviour: "rollback",
        documentDigest: digest,
        eventCount: documentEventList(doc).length,
        attempts: 0,
        errors: [],
      };
      const ops: { type: "put"; key: string; value: unknown }[] = [
          { type: "put", key: k("j", captureID), value: job },
          { type: "put", key: k("jdoc", captureID), value: doc },
          { type: "put", key: k("jq", captureID), value: "" },
          { type: "put", key: k("jd", String(owner), digest), value: captureID },
      ];
      await this.store.db.batch(ops, { sync: true });
      this.queue.push(captureID);
      this.wake?.();
      return { job, replay: false };
    });
    this.submitting = run.catch(() => undefined);
    return run;
  }

  /** Throws CaptureForbiddenError unless `owner` is the organisation this node captures for. */
  async checkOwner(owner: number): Promise<void> {
    const org = await this.recorder.organisation();
    if (owner !== org) throw new CaptureForbiddenError(`this node captures for organisation ${org} only (caller is organisation ${owner})`);
  }

  async job(captureID: string): Promise<CaptureJob | undefined> {
    if (captureID.includes(SEP)) return undefined;
    return (await this.store.db.get(k("j", captureID))) as CaptureJob | undefined;
  }

  /** Jobs of `owner`, newest first; `after` is the last captureID of the previous page. */
  async jobs(owner: number, options: { perPage?: number; after?: string } = {}): Promise<{ jobs: CaptureJob[]; next?: string }> {
    const perPage = options.perPage ?? 30;
    const prefix = k("j", "");
    const out: CaptureJob[] = [];
    let last: string | undefined;
    const range = options.after === undefined ? { gte: prefix, lt: prefix + "\uffff" } : { gte: prefix, lt: prefix + options.after };
    for await (const [key, value] of this.store.db.iterator({ ...range, reverse: true })) {
      const job = value as CaptureJob;
      last = key.slice(prefix.length);
      if (job.owner === owner) out.push(job);
      if (out.length >= perPage) break;
    }
    return out.length >= perPage && last !== undefined ? { jobs: out, next: last } : { jobs: out };
  }

  /** Resolves once the job has finished (succeeded or failed). */
  async finished(captureID: string, timeoutMs = 60_000): Promise<CaptureJob> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const job = await this.job(captureID);
      if (job === undefined) throw new Error(`no capture job ${captureID}`);
      if (job.state === "succeeded" || job.state === "failed") return job;
      if (Date.now() > deadline) throw new Error(`capture job ${captureID} still ${job.state} after ${timeoutMs} ms${job.lastError ? `: ${job.lastError}` : ""}`);
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(t);
          this.off("job", done);
          resolve();
        };
        const t = setTimeout(done, 200);
        this.on("job", done);
      });
    }
  }

  private async run(): Promise<void> {
    const signal = this.abort.signal;
    while (!signal.aborted) {
      const id = this.queue.shift();
      if (id === undefined) {
        await new Promise<void>((resolve) => (this.wake = resolve));
        this.wake = undefined;
        continue;
      }
      try {
        await this.process(id, signal);
      } catch (e) {
        // A failed store write must not end the worker, nor (unhandled) the process: the job is
        // still queued on disk; it is tried again after a pause.
        this.emit("worker-error", { captureID: id, error: e });
        if (await sleep(this.options.retryBaseMs ?? 1000, signal)) this.queue.push(id);
      }
    }
  }

  private async process(captureID: string, signal: AbortSignal): Promise<void> {
    const job = await this.job(captureID);
    const doc = (await this.store.db.get(k("jdoc", captureID))) as Record<string, unknown> | undefined;
    if (job === undefined || doc === undefined) {
      await this.store.db.del(k("jq", captureID));
      return;
    }
    const save = async (extra: { type: "put"; key: string; value: unknown }[] = []) => {
      await this.store.db.batch([{ type: "put", key: k("j", captureID), value: job }, ...extra], { sync: true });
      this.emit("job", job);
    };
    const finish = (state: "succeeded" | "failed") => {
      job.state = state;
      job.running = false;
      job.success = state === "succeeded";
      job.finishedAt = new Date().toISOString();
    };
    const cleanup = async () => {
      await this.store.db.batch(
        [
          { type: "del", key: k("jq", captureID) },
          { type: "del", key: k("jdoc", captureID) },
        ],
        { sync: true },
      );
    };
    const backoff = new Backoff({ initialDelayMs: this.options.retryBaseMs ?? 1000, maxDelayMs: this.options.retryMaxMs ?? 30_000, jitter: 0.5 });
    while (!signal.aborted) {
      job.state = "running";
      job.attempts++;
      await save();
      try {
        const results = await this.recorder.record(doc, signal);
        const events = documentEventList(doc);
        const ignoreFields = declaredIgnoreFields(doc);
        // Duplicates are stored once; their eventIDs become further names of the stored copy.
        const stored: NewEvent[] = results.map((r) => ({
            hashId: r.hashId,
            recordHash: r.recordHash,
            ...(r.eventID !== undefined ? { eventID: r.eventID } : {}),
            context: doc["@context"],
            ...(ignoreFields.length > 0 ? { ignoreFields } : {}),
            owner: job.owner,
            origin: { kind: "own", captureId: captureID },
            ...(r.recordId !== undefined
              ? { chain: { recordId: r.recordId, kind: r.kind ?? "", ...(r.tx ? { tx: r.tx } : {}), ...(r.block !== undefined ? { block: r.block } : {}) } }
              : {}),
            event: events[r.index] as Record<string, unknown>,
          }));
        finish("succeeded");
        job.results = results;
        delete job.lastError;
        // The events and the job's final state in one batch: a crash leaves both or neither.
        await this.store.putOwn(stored, [{ type: "put", key: k("j", captureID), value: job }]);
        await cleanup();
        this.emit("job", job);
        return;
      } catch (e) {
        if (e instanceof CaptureRefusedError) {
          finish("failed");
          job.errors = e.errors;
        } else if (e instanceof ChainUnavailableError) {
          job.lastError = e.message;
          await save();
          await sleep(backoff.next(), signal);
          continue;
        } else {
          finish("failed");
          job.errors = [{ index: -1, message: `recording failed: ${(e as Error).message ?? String(e)}` }];
        }
        await save();
        await cleanup();
        return;
      }
    }
  }
}
