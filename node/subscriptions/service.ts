/**
 * EPCIS named queries and query subscriptions of a member node, and its recall alerts.
 *
 * - Named queries belong to the organisation that created them; only it lists, reads, runs or
 *   deletes them. `RecallAlerts` is built in (RECALL_QUERY): every organisation may subscribe to it.
 * - Subscriptions (webhooks, stored; WebSocket sessions, in memory) belong to their organisation
 *   too. Streaming ones hear of each event the store records (EventStore.onStored); scheduled ones
 *   run at their schedule over the events recorded since the last run (minRecordTime).
 * - Every result is evaluated by the gateway's one query evaluation (`QueryEvaluator`, given by
 *   gateway/routes/queries.ts): the same parameters, the same access rule and access log as
 *   GET /events, as the subscribing organisation. A subscriber only ever receives what it may read.
 * - Webhook deliveries are signed and retried with back-off (lib/retry.ts); each attempt is in the
 *   subscription's delivery log; a delivery whose retries all fail pauses the subscription, with
 *   the reason, until it is subscribed anew.
 * - Recall alerts: the chain index's Recall and RecallBatch records are followed; for each
 *   `RecallAlerts` subscriber, the recall scope (node/indexer recallScope: the recalled items or
 *   batch and everything made from them) is narrowed to the items its organisation owns or holds,
 *   and sent when any remain (RecallAlert below).
 */
import { randomUUID } from "node:crypto";
import { setTimeout as wait } from "node:timers/promises";
import { queryDocument } from "../../lib/epcis/published.ts";
import { toEpcisEvent } from "../../lib/epcis/events.ts";
import { subjectsOf } from "../../lib/epcis/subjects.ts";
import { TracemeshError } from "../../lib/errors.ts";
import { itemKey } from "../../lib/identifiers/canonical.ts";
import { RecordKind } from "../../lib/registry.ts";
import { Backoff, type BackoffPolicy } from "../../lib/retry.ts";
import type { EventStore, StoredEvent } from "../events/store.ts";
import type { IndexQueries } from "../indexer/queries.ts";
import { type CompiledSchedule, compileSchedule } from "./schedule.ts";
import { type DeliveryEntry, type NamedQuery, type QueryParams, type Subscription, SubscriptionStore } from "./store.ts";
import { checkDestination, postResult, signatureOf } from "./webhook.ts";

export { SubscriptionStore };
export type { DeliveryEntry, NamedQuery, QueryParams, Subscription };

/** The built-in named query whose subscribers receive recall alerts. */
export const RECALL_QUERY = "RecallAlerts";

/**
 * The recall alert a `RecallAlerts` subscriber receives: an EPCISQueryDocument whose queryResults
 * carry `tm:recallAlert` (the eventList is empty: the recall event is the recalling
 * organisation's document, readable through GET /events/{recordHash}-named event when granted).
 */
export interface RecallAlert {
  /** The on-chain record of the recall. */
  recordId: number;
  recordHash: string;
  tx: string;
  block: number;
  /** ISO 8601, the block's time. */
  recalledAt: string;
  /** Organisation that recalled. */
  recalledBy: number;
  /** The recalled item or batch keys (bytes32). */
  recalled: string[];
  /** Items in the recall scope the subscriber's organisation owns or holds now. */
  affectedItems: { key: string; epc?: string; ownerOrg: number; custodianOrg: number; status: string }[];
  /** Items in the whole recall scope (the subscriber sees only its own). */
  scopeSize: number;
}

export class SubscriptionError extends TracemeshError {
  constructor(code: "bad-request" | "not-found" | "invalid-query", message: string) {
    super(code, message);
  }
}

export interface QueryRun {
  events: StoredEvent[];
  nextPageToken?: string;
}

/** The gateway's query evaluation (gateway/routes/epcis.ts), as organisation `org` sees it. */
export interface QueryEvaluator {
  /** Throws a TracemeshError ("invalid-query") naming a parameter that cannot be used. */
  check(params: QueryParams): void;
  run(org: number, params: QueryParams, options?: { only?: readonly StoredEvent[]; perPage?: number; nextPageToken?: string }): Promise<QueryRun>;
  /** Whether `org` is an active member now: a suspended or removed organisation receives nothing. */
  isActive(org: number): Promise<boolean>;
}

export interface SubscriptionOptions {
  /** Origins webhooks may be delivered to (webhook.ts); none by default. */
  allowedDestinations?: readonly string[];
  /** Attempts per delivery before the subscription is paused (default 5). */
  maxAttempts?: number;
  backoff?: Partial<BackoffPolicy>;
  /** Per attempt (default 10 s). */
  timeoutMs?: number;
  /** How often the index is looked at for new recalls, ms (default 1000). */
  recallPollMs?: number;
  /** Events per scheduled delivery at most (default 1000): more wait for the next run. */
  maxEventsPerDelivery?: number;
  clock?: () => number;
  log?: (m: string) => void;
}

/** A subscription being served: a stored webhook one, or a WebSocket session. */
interface Sink {
  id: string;
  owner: number;
  queryName: string;
  stream: boolean;
  schedule?: CompiledSchedule;
  reportIfEmpty: boolean;
  minRecordTime: string;
  send(doc: Record<string, unknown>, entry: Pick<DeliveryEntry, "trigger" | "eventCount" | "affectedItems">): Promise<boolean>;
  /** Deliveries of this sink run one after the other. */
  queue: Promise<unknown>;
  lastFired?: number;
}

export interface SubscribeRequest {
  dest?: unknown;
  signatureToken?: unknown;
  stream?: unknown;
  schedule?: unknown;
  reportIfEmpty?: unknown;
  initialRecordTime?: unknown;
}

/** What a subscriber is shown of its subscription (never the signatureToken). */
export type SubscriptionView = Omit<Subscription, "signatureToken" | "owner" | "attempts"> & { signed: boolean };

export const subscriptionView = ({ signatureToken, owner: _o, attempts: _a, ...rest }: Subscription): SubscriptionView => ({ ...rest, signed: signatureToken !== undefined });

const RECALL_KINDS = new Set<number>([RecordKind.Recall, RecordKind.RecallBatch]);
/** Per organisation at most: named queries, webhook subscriptions, open WebSocket sessions (a member may be hostile). */
export const LIMITS = { queries: 100, subscriptions: 100, sessions: 20 };

/** The document with the subscription it is delivered for (GS1 queryResults.subscriptionID). */
const forSubscription = (doc: Record<string, unknown>, id: string): Record<string, unknown> => {
  const body = doc["epcisBody"] as { queryResults: Record<string, unknown> };
  return { ...doc, epcisBody: { ...body, queryResults: { ...body.queryResults, subscriptionID: id } } };
};
const NAME = /^[A-Za-z0-9_.-]{1,64}$/;

export class SubscriptionService {
  /** The built-in recall alert query's name, and what a subscriber is shown of a subscription. */
  readonly recallQuery = RECALL_QUERY;
  readonly view = subscriptionView;
  private evaluator: QueryEvaluator | undefined;
  private readonly sinks = new Map<string, Sink>();
  private readonly timers: NodeJS.Timeout[] = [];
  private unlisten: (() => void) | undefined;
  private recallPoll: Promise<void> | undefined;
  private stopped = false;
  private readonly clock: () => number;
  private readonly log: (m: string) => void;

  private constructor(
    readonly store: SubscriptionStore,
    private readonly events: EventStore,
    private readonly index: IndexQueries | undefined,
    private readonly options: SubscriptionOptions,
  ) {
    this.clock = options.clock ?? Date.now;
    this.log = options.log ?? ((m) => console.log(`[subscriptions] ${m}`));
  }

  /** Opens the store in `dir` and starts serving the stored subscriptions (once an evaluator is given). */
  static async open(dir: string, events: EventStore, index: IndexQueries | undefined, options: SubscriptionOptions = {}): Promise<SubscriptionService> {
    const s = new SubscriptionService(await SubscriptionStore.open(dir), events, index, options);
    for (const sub of await s.store.subscriptions()) if (!sub.paused) s.sinks.set(sub.subscriptionID, s.webhookSink(sub));
    s.unlisten = events.onStored((stored) => s.onStored(stored));
    s.timers.push(setInterval(() => void s.tick(), 250));
    if (index) s.timers.push(setInterval(() => void (s.recallPoll ??= s.pollRecalls().finally(() => (s.recallPoll = undefined))), options.recallPollMs ?? 1000));
    return s;
  }

  /** The gateway gives its query evaluation when it registers its routes. */
  useEvaluator(evaluator: QueryEvaluator): void {
    this.evaluator = evaluator;
  }

  private get evaluate(): QueryEvaluator {
    if (!this.evaluator) throw new Error("no query evaluator: the gateway's query routes give it");
    return this.evaluator;
  }

  get allowedDestinations(): readonly string[] {
    return this.options.allowedDestinations ?? [];
  }

  async close(): Promise<void> {
    this.stopped = true;
    this.unlisten?.();
    for (const t of this.timers) clearInterval(t);
    await this.recallPoll;
    await Promise.allSettled([...this.sinks.values()].map((s) => s.queue));
    await this.store.close();
  }

  // ------------------------------------------------------------------ named queries

  /** The named query `name` of `owner` (RecallAlerts for everyone); undefined if none. */
  async query(owner: number, name: string): Promise<NamedQuery | undefined> {
    if (name === RECALL_QUERY) return { name, owner, query: {}, createdAt: new Date(0).toISOString() };
    return this.store.query(owner, name);
  }

  async queries(owner: number): Promise<NamedQuery[]> {
    return [(await this.query(owner, RECALL_QUERY))!, ...(await this.store.queries(owner))];
  }

  /** Creates a named query (GS1 QueryDefinition: `{ name, query }`); refuses a name taken or bad parameters. */
  async createQuery(owner: number, body: unknown): Promise<NamedQuery> {
    if (body === null || typeof body !== "object" || Array.isArray(body)) throw new SubscriptionError("bad-request", "a named query is a JSON object { name, query }");
    const { name, query } = body as { name?: unknown; query?: unknown };
    if (typeof name !== "string" || !NAME.test(name)) throw new SubscriptionError("bad-request", "name must be 1 to 64 letters, digits, '_', '-' or '.'");
    if (name === RECALL_QUERY) throw new SubscriptionError("bad-request", `${RECALL_QUERY} is built in; choose another name`);
    if (query === null || typeof query !== "object" || Array.isArray(query)) throw new SubscriptionError("bad-request", "query must be an object of EPCIS query parameters (e.g. { \"EQ_bizStep\": [\"shipping\"] })");
    const params: QueryParams = {};
    for (const [p, v] of Object.entries(query as Record<string, unknown>)) {
      if (["perPage", "nextPageToken"].includes(p)) throw new SubscriptionError("invalid-query", `query parameter ${p} belongs to a request, not to a named query`);
      const list = Array.isArray(v) ? v : [v];
      if (list.length === 0 || list.some((x) => !["string", "number", "boolean"].includes(typeof x))) throw new SubscriptionError("invalid-query", `query parameter ${p} must be a string, number, boolean or a list of them`);
      params[p] = list.map(String).join("|");
    }
    this.evaluate.check(params);
    if ((await this.store.queries(owner)).length >= LIMITS.queries) throw new SubscriptionError("bad-request", `an organisation keeps at most ${LIMITS.queries} named queries here; delete one first`);
    if (await this.store.query(owner, name)) throw new SubscriptionError("bad-request", `a query named ${name} exists already; delete it first`);
    const q: NamedQuery = { name, owner, query: params, createdAt: new Date(this.clock()).toISOString() };
    await this.store.putQuery(q);
    return q;
  }

  async deleteQuery(owner: number, name: string): Promise<boolean> {
    if (name === RECALL_QUERY) throw new SubscriptionError("bad-request", `${RECALL_QUERY} is built in and cannot be deleted`);
    if (!(await this.store.query(owner, name))) return false;
    for (const [id, sink] of this.sinks) if (sink.owner === owner && sink.queryName === name) this.sinks.delete(id);
    await this.store.deleteQuery(owner, name);
    return true;
  }

  // ------------------------------------------------------------------ subscriptions

  /** Checks the common subscription terms (stream or schedule, reportIfEmpty, initialRecordTime). */
  private terms(queryName: string, r: SubscribeRequest): { stream: boolean; schedule?: CompiledSchedule; reportIfEmpty: boolean; initialRecordTime: string } {
    const stream = r.stream === true || r.stream === "true";
    if (r.stream !== undefined && typeof r.stream !== "boolean" && r.stream !== "true" && r.stream !== "false") throw new SubscriptionError("bad-request", "stream must be true or false");
    const schedule = r.schedule === undefined ? undefined : compileSchedule(r.schedule);
    if (stream === (schedule !== undefined)) throw new SubscriptionError("bad-request", "a subscription either streams (stream: true) or has a schedule, exactly one of them");
    if (queryName === RECALL_QUERY && !stream) throw new SubscriptionError("bad-request", `${RECALL_QUERY} alerts are sent as recalls happen: subscribe with stream: true`);
    if (r.reportIfEmpty !== undefined && typeof r.reportIfEmpty !== "boolean" && r.reportIfEmpty !== "true" && r.reportIfEmpty !== "false") throw new SubscriptionError("bad-request", "reportIfEmpty must be true or false");
    const now = new Date(this.clock()).toISOString();
    let initialRecordTime = now;
    if (r.initialRecordTime !== undefined) {
      const ms = typeof r.initialRecordTime === "string" ? Date.parse(r.initialRecordTime) : NaN;
      if (Number.isNaN(ms)) throw new SubscriptionError("bad-request", `initialRecordTime must be an ISO 8601 date-time (got ${JSON.stringify(r.initialRecordTime)})`);
      initialRecordTime = new Date(ms).toISOString();
    }
    return { stream, ...(schedule ? { schedule } : {}), reportIfEmpty: r.reportIfEmpty === true || r.reportIfEmpty === "true", initialRecordTime };
  }

  private async namedQuery(owner: number, queryName: string): Promise<NamedQuery> {
    const q = await this.query(owner, queryName);
    if (!q) throw new SubscriptionError("not-found", `no named query ${queryName} of this organisation`);
    return q;
  }

  /** A webhook subscription of `owner` to its named query. */
  async subscribe(owner: number, queryName: string, r: SubscribeRequest): Promise<Subscription> {
    await this.namedQuery(owner, queryName);
    const dest = checkDestination(r.dest, this.allowedDestinations).toString();
    if (r.signatureToken !== undefined && (typeof r.signatureToken !== "string" || r.signatureToken.length < 16 || r.signatureToken.length > 512))
      throw new SubscriptionError("bad-request", "signatureToken must be a string of 16 to 512 characters (the HMAC key deliveries are signed with)");
    const t = this.terms(queryName, r);
    if ((await this.store.subscriptions()).filter((s) => s.owner === owner).length >= LIMITS.subscriptions)
      throw new SubscriptionError("bad-request", `an organisation keeps at most ${LIMITS.subscriptions} subscriptions here; delete one first`);
    const sub: Subscription = {
      subscriptionID: randomUUID(),
      owner,
      queryName,
      dest,
      ...(typeof r.signatureToken === "string" ? { signatureToken: r.signatureToken } : {}),
      stream: t.stream,
      ...(t.schedule ? { schedule: t.schedule.schedule } : {}),
      reportIfEmpty: t.reportIfEmpty,
      initialRecordTime: t.initialRecordTime,
      minRecordTime: t.initialRecordTime,
      createdAt: new Date(this.clock()).toISOString(),
      attempts: 0,
    };
    await this.store.putSubscription(sub);
    const sink = this.webhookSink(sub);
    this.sinks.set(sub.subscriptionID, sink);
    // A stream that asked for events recorded before now gets them first.
    if (t.stream && queryName !== RECALL_QUERY && r.initialRecordTime !== undefined) this.enqueue(sink, () => this.catchUp(sink, "stream"));
    return sub;
  }

  async subscriptions(owner: number, queryName: string): Promise<Subscription[]> {
    await this.namedQuery(owner, queryName);
    return (await this.store.subscriptions()).filter((s) => s.owner === owner && s.queryName === queryName);
  }

  /** A subscription of `owner` (another organisation's looks the same as none). */
  async subscription(owner: number, queryName: string, id: string): Promise<Subscription | undefined> {
    const s = await this.store.subscription(id);
    return s && s.owner === owner && s.queryName === queryName ? s : undefined;
  }

  async unsubscribe(owner: number, queryName: string, id: string): Promise<boolean> {
    if (!(await this.subscription(owner, queryName, id))) return false;
    this.sinks.delete(id);
    await this.store.deleteSubscription(id);
    return true;
  }

  async deliveries(owner: number, queryName: string, id: string, limit = 100): Promise<DeliveryEntry[] | undefined> {
    if (!(await this.subscription(owner, queryName, id))) return undefined;
    return this.store.deliveries(id, limit);
  }

  /**
   * A WebSocket session subscribed to `queryName` (the handshake's query string as terms); returns
   * its end. `send` writes one message; a false answer (the socket closed) ends the session.
   */
  async openSession(owner: number, queryName: string, r: SubscribeRequest, send: (text: string) => Promise<boolean>): Promise<() => void> {
    await this.namedQuery(owner, queryName);
    const t = this.terms(queryName, r);
    if ([...this.sinks.values()].filter((s) => s.owner === owner && s.id.startsWith("ws:")).length >= LIMITS.sessions)
      throw new SubscriptionError("bad-request", `an organisation holds at most ${LIMITS.sessions} WebSocket subscriptions here at once`);
    const id = `ws:${randomUUID()}`;
    const sink: Sink = {
      id,
      owner,
      queryName,
      stream: t.stream,
      ...(t.schedule ? { schedule: t.schedule } : {}),
      reportIfEmpty: t.reportIfEmpty,
      minRecordTime: t.initialRecordTime,
      queue: Promise.resolve(),
      send: async (doc) => {
        const ok = await send(JSON.stringify(forSubscription(doc, id)));
        if (!ok) this.sinks.delete(id);
        return ok;
      },
    };
    this.sinks.set(id, sink);
    if (t.stream && queryName !== RECALL_QUERY && r.initialRecordTime !== undefined) this.enqueue(sink, () => this.catchUp(sink, "stream"));
    return () => void this.sinks.delete(id);
  }

  // ------------------------------------------------------------------ delivery

  private webhookSink(sub: Subscription): Sink {
    const id = sub.subscriptionID;
    return {
      id,
      owner: sub.owner,
      queryName: sub.queryName,
      stream: sub.stream,
      ...(sub.schedule ? { schedule: compileSchedule(sub.schedule) } : {}),
      reportIfEmpty: sub.reportIfEmpty,
      minRecordTime: sub.minRecordTime,
      queue: Promise.resolve(),
      send: (doc, entry) => this.deliverWebhook(id, doc, entry),
    };
  }

  /** Sends one document to a webhook, with retries; pauses the subscription when all fail. */
  private async deliverWebhook(id: string, doc: Record<string, unknown>, entry: Pick<DeliveryEntry, "trigger" | "eventCount" | "affectedItems">): Promise<boolean> {
    const maxAttempts = this.options.maxAttempts ?? 5;
    const backoff = new Backoff({ initialDelayMs: 500, maxDelayMs: 30_000, ...this.options.backoff });
    let last = "";
    for (let attempt = 1; attempt <= maxAttempts && !this.stopped; attempt++) {
      const sub = await this.store.subscription(id);
      if (!sub || sub.paused) return false;
      const body = JSON.stringify(forSubscription(doc, id));
      const headers: Record<string, string> = { "GS1-EPCIS-Version": "2.0.0", "GS1-CBV-Version": "2.0.0" };
      if (sub.signatureToken !== undefined) headers["GS1-Signature"] = signatureOf(sub.signatureToken, body);
      const outcome = await postResult(sub.dest, body, headers, this.options.timeoutMs ?? 10_000);
      const at = new Date(this.clock()).toISOString();
      sub.attempts++;
      await this.store.logDelivery(id, { seq: sub.attempts, at, attempt, ...entry, ok: outcome.ok, ...(outcome.status !== undefined ? { status: outcome.status } : {}), ...(outcome.error ? { error: outcome.error } : {}) });
      if (outcome.ok) {
        sub.lastNotifiedAt = at;
        await this.store.putSubscription(sub);
        return true;
      }
      last = outcome.error ?? "failed";
      if (attempt === maxAttempts) {
        sub.paused = { at, reason: `${maxAttempts} attempts to deliver to ${sub.dest} failed; the last: ${last}. Subscribe again (initialRecordTime: ${sub.minRecordTime}) to resume without losing events` };
        this.sinks.delete(id);
        this.log(`subscription ${id} of organisation ${sub.owner} paused: ${last}`);
      }
      await this.store.putSubscription(sub);
      if (attempt < maxAttempts) await wait(backoff.next());
    }
    return false;
  }

  /** Sends through the sink unless its organisation is no longer an active member (then its WebSocket ends). */
  private async send(sink: Sink, doc: Record<string, unknown>, entry: Pick<DeliveryEntry, "trigger" | "eventCount" | "affectedItems">): Promise<boolean> {
    if (!(await this.evaluate.isActive(sink.owner))) {
      this.log(`subscription ${sink.id}: organisation ${sink.owner} is not an active member; nothing sent`);
      if (sink.id.startsWith("ws:")) this.sinks.delete(sink.id);
      return false;
    }
    return sink.send(doc, entry);
  }

  private enqueue(sink: Sink, job: () => Promise<unknown>): void {
    sink.queue = sink.queue.then(job).catch((e: unknown) => this.log(`subscription ${sink.id}: ${(e as Error).message}`));
  }

  /** Moves a sink's minRecordTime on after a delivery (kept for a webhook subscription). */
  private async advance(sink: Sink, to: string): Promise<void> {
    sink.minRecordTime = to;
    const sub = sink.id.startsWith("ws:") ? undefined : await this.store.subscription(sink.id);
    if (sub) await this.store.putSubscription({ ...sub, minRecordTime: to });
  }

  /** New events recorded here: each streaming subscription gets those of them it matches and may read. */
  private onStored(stored: readonly StoredEvent[]): void {
    if (!this.evaluator || this.stopped) return;
    for (const sink of this.sinks.values()) {
      if (!sink.stream || sink.queryName === RECALL_QUERY) continue;
      this.enqueue(sink, async () => {
        const q = await this.query(sink.owner, sink.queryName);
        if (!q) return;
        const { events } = await this.evaluate.run(sink.owner, q.query, { only: stored, perPage: 1000 });
        if (events.length === 0) return;
        if (await this.send(sink, queryDocument(events, sink.queryName), { trigger: "stream", eventCount: events.length })) await this.advance(sink, new Date(this.clock()).toISOString());
      });
    }
  }

  /** Runs the query over the events recorded since the sink's minRecordTime; delivers them. */
  private async catchUp(sink: Sink, trigger: "stream" | "schedule"): Promise<void> {
    const q = await this.query(sink.owner, sink.queryName);
    if (!q) return;
    const now = new Date(this.clock()).toISOString();
    const later = (a: string | undefined, b: string) => (a !== undefined && Date.parse(a) > Date.parse(b) ? a : b);
    const earlier = (a: string | undefined, b: string) => (a !== undefined && Date.parse(a) < Date.parse(b) ? a : b);
    const params = { ...q.query, GE_recordTime: later(q.query["GE_recordTime"], sink.minRecordTime), LT_recordTime: earlier(q.query["LT_recordTime"], now) };
    const max = this.options.maxEventsPerDelivery ?? 1000;
    const events: StoredEvent[] = [];
    let token: string | undefined;
    do {
      const page = await this.evaluate.run(sink.owner, params, { perPage: Math.min(1000, max - events.length), ...(token !== undefined ? { nextPageToken: token } : {}) });
      events.push(...page.events);
      token = page.nextPageToken;
    } while (token !== undefined && events.length < max);
    if (events.length === 0 && !(trigger === "schedule" && sink.reportIfEmpty)) return void (await this.advance(sink, now));
    // When more than one delivery holds remained, the next run starts after the last delivered.
    const upTo = token === undefined ? now : events[events.length - 1]!.storedAt;
    if (await this.send(sink, queryDocument(events, sink.queryName), { trigger, eventCount: events.length })) await this.advance(sink, upTo);
  }

  /** Fires the scheduled subscriptions whose schedule matches this second. */
  private tick(): void {
    if (!this.evaluator || this.stopped) return;
    const now = this.clock();
    const second = Math.floor(now / 1000);
    for (const sink of this.sinks.values()) {
      if (!sink.schedule || sink.lastFired === second || !sink.schedule.matches(now)) continue;
      sink.lastFired = second;
      this.enqueue(sink, () => this.catchUp(sink, "schedule"));
    }
  }

  // ------------------------------------------------------------------ recall alerts

  /** The highest record id the index holds (records are numbered from 1). */
  private async lastRecordId(index: IndexQueries): Promise<number> {
    let hi = 1;
    while (await index.record(hi)) hi *= 2;
    let lo = hi / 2;
    if (!(await index.record(lo))) return 0;
    while (hi - lo > 1) {
      const mid = Math.floor((lo + hi) / 2);
      if (await index.record(mid)) lo = mid;
      else hi = mid;
    }
    return lo;
  }

  /** Looks at the records indexed since the last look; alerts the holders of what a recall reaches. */
  private async pollRecalls(): Promise<void> {
    const index = this.index;
    if (!index || this.stopped) return;
    try {
      let cursor = await this.store.meta<number>("recallCursor");
      if (cursor === undefined) {
        cursor = await this.lastRecordId(index);
        await this.store.setMeta("recallCursor", cursor);
      }
      for (let id = cursor + 1; !this.stopped; id++) {
        const record = await index.record(id);
        if (!record) break;
        if (RECALL_KINDS.has(record.kind)) await this.alert(index, record);
        await this.store.setMeta("recallCursor", id);
      }
    } catch (e) {
      this.log(`recall alerts: ${(e as Error).message}`);
    }
  }

  private async alert(index: IndexQueries, record: NonNullable<Awaited<ReturnType<IndexQueries["record"]>>>): Promise<void> {
    const sinks = [...this.sinks.values()].filter((s) => s.queryName === RECALL_QUERY);
    const recalledAt = new Date(record.time < 1e12 ? record.time * 1000 : record.time).toISOString();
    const scope = new Set<string>();
    for (const key of record.keys) for (const k of (await index.recallScope(key)).keys) scope.add(k);
    const views = new Map<string, Awaited<ReturnType<IndexQueries["item"]>>>();
    for (const k of scope) views.set(k, await index.item(k));
    for (const sink of sinks) {
      // Block times are whole seconds: a recall in the second a subscription began still counts.
      if (Date.parse(recalledAt) + 1000 <= Date.parse(sink.minRecordTime)) continue;
      const held = [...scope].filter((k) => {
        const v = views.get(k);
        return v !== undefined && (v.ownerOrg === sink.owner || v.custodianOrg === sink.owner);
      });
      if (held.length === 0) continue;
      const epcs = await this.identifiersOf(held);
      const alert: RecallAlert = {
        recordId: record.id,
        recordHash: record.eventHash,
        tx: record.tx,
        block: record.block,
        recalledAt,
        recalledBy: record.org,
        recalled: record.keys,
        affectedItems: held.map((k) => {
          const v = views.get(k)!;
          return { key: k, ...(epcs.has(k) ? { epc: epcs.get(k)! } : {}), ownerOrg: v.ownerOrg, custodianOrg: v.custodianOrg, status: v.statusName };
        }),
        scopeSize: scope.size,
      };
      const doc = queryDocument([], RECALL_QUERY, { "tm:recallAlert": alert });
      this.log(`recall alert: record ${record.id} of organisation ${record.org} reaches ${held.length} item(s) organisation ${sink.owner} holds (${alert.affectedItems.map((i) => i.epc ?? i.key).join(", ")}); sending to ${sink.id.startsWith("ws:") ? "a WebSocket" : `subscription ${sink.id}`}`);
      this.enqueue(sink, () => this.send(sink, doc, { trigger: "recall", eventCount: 0, affectedItems: held.length }));
    }
  }

  /** The identifiers (EPC URIs or Digital Links) this node's events name the keys by, where it holds such an event. */
  private async identifiersOf(keys: readonly string[]): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    const index = this.index!;
    for (const key of keys) {
      for (const r of await index.history(key, { limit: 50 })) {
        for (const e of await this.events.get(r.eventHash)) {
          const s = subjectsOf(toEpcisEvent(e.event));
          const found = [...s.epcs.epc, ...s.epcs.parent, ...s.epcs.input, ...s.epcs.output].find((epc) => {
            try {
              return itemKey(epc) === key;
            } catch {
              return false;
            }
          });
          if (found) out.set(key, found);
        }
        if (out.has(key)) break;
      }
    }
    return out;
  }
}
