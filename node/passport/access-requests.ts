/**
 * Partners' requests for more than an item's public passport, kept by the owner's member node
 * (the one whose organisation made the item): who asks, for which item, which scope (the item, or
 * the item with its genealogy), for what purpose and how long. The owner approves a request by
 * granting it on chain (POST /access-requests/{id}/approve, gateway/routes/access-requests.ts) or
 * declines it. One small JSON file per request, named by its random id (chosen by the gateway).
 */
import { mkdir, readFile, readdir, rename, writeFile } from "node:fs/promises";
import path from "node:path";
import type { AccessRequestAnswer } from "../../lib/api/grants.ts";

const ID = /^[0-9a-f]{32}$/;

/** Requests one organisation may have waiting at one owner: a member cannot fill another's disk. */
export const DEFAULT_PENDING_PER_REQUESTER = 100;

/** What became of a new request (`submit`): kept, or refused with why. */
export type Submitted =
  | { kept: true }
  /** The same request (requester, item, scope) is pending already. */
  | { kept: false; duplicate: AccessRequestAnswer }
  /** The requester has `waiting` requests pending here, its limit. */
  | { kept: false; waiting: number };

export class AccessRequestStore {
  /** New requests are checked and kept one at a time, so a burst cannot pass the checks together. */
  private submitting: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly dir: string,
    /** How many requests one requester may have pending here (POST /access-requests answers 429 past it). */
    readonly pendingPerRequester: number,
  ) {}

  static async open(dir: string, options: { pendingPerRequester?: number } = {}): Promise<AccessRequestStore> {
    await mkdir(dir, { recursive: true });
    return new AccessRequestStore(dir, options.pendingPerRequester ?? DEFAULT_PENDING_PER_REQUESTER);
  }

  private file(id: string): string {
    if (!ID.test(id)) throw new Error(`access request id "${id}" must be 32 hex digits`);
    return path.join(this.dir, `${id}.json`);
  }

  /** Keeps `request` (atomically: a reader never sees half of it). */
  async put(request: AccessRequestAnswer): Promise<void> {
    const file = this.file(request.id);
    await writeFile(`${file}.tmp`, JSON.stringify(request), "utf8");
    await rename(`${file}.tmp`, file);
  }

  /**
   * Keeps a new pending `request` unless the same one (requester, item, scope) is pending already
   * or its requester has `pendingPerRequester` requests pending: the one home of both rules, for
   * every path a request arrives by. Checked and kept in one step.
   */
  submit(request: AccessRequestAnswer): Promise<Submitted> {
    const run = this.submitting.then(async (): Promise<Submitted> => {
      const waiting = (await this.list()).filter((r) => r.state === "pending" && r.requester.id === request.requester.id);
      const duplicate = waiting.find((r) => r.subjectKey === request.subjectKey && r.scope === request.scope);
      if (duplicate) return { kept: false, duplicate };
      if (waiting.length >= this.pendingPerRequester) return { kept: false, waiting: waiting.length };
      await this.put(request);
      return { kept: true };
    });
    this.submitting = run.catch(() => undefined);
    return run;
  }

  async get(id: string): Promise<AccessRequestAnswer | undefined> {
    if (!ID.test(id)) return undefined;
    try {
      return JSON.parse(await readFile(this.file(id), "utf8")) as AccessRequestAnswer;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw e;
    }
  }

  /** Every request kept, newest first. */
  async list(): Promise<AccessRequestAnswer[]> {
    const names = (await readdir(this.dir)).filter((n) => /^[0-9a-f]{32}\.json$/.test(n));
    const all = await Promise.all(names.map((n) => this.get(n.slice(0, 32))));
    return all.filter((r): r is AccessRequestAnswer => r !== undefined).sort((a, b) => b.createdAt.localeCompare(a.createdAt));
  }
}
