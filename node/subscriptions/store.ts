/**
 * Named queries, subscriptions and their delivery logs on LevelDB (<dataDir>/subscriptions).
 *
 * Keys (UTF-8, parts joined by NUL):
 *   q <owner> <name>          a named query of organisation <owner> (NamedQuery)
 *   s <subscriptionID>        a webhook subscription (Subscription; its signatureToken never leaves the node)
 *   d <subscriptionID> <seq>  one delivery attempt, in order (DeliveryEntry)
 *   m <name>                  metadata (the recall watcher's cursor)
 */
import { mkdirSync } from "node:fs";
import { Level } from "level";
import type { Schedule } from "./schedule.ts";

/** GS1 query parameters of a named query, in their URL form (lists joined by "|"). */
export type QueryParams = Record<string, string>;

export interface NamedQuery {
  name: string;
  owner: number;
  query: QueryParams;
  createdAt: string;
}

export interface Subscription {
  subscriptionID: string;
  owner: number;
  queryName: string;
  dest: string;
  /** The subscriber's HMAC key (GS1 `signatureToken`): kept to sign, never answered. */
  signatureToken?: string;
  stream: boolean;
  schedule?: Schedule;
  reportIfEmpty: boolean;
  initialRecordTime: string;
  /** Events recorded from this time on are still to be reported (GS1 minRecordTime). */
  minRecordTime: string;
  createdAt: string;
  lastNotifiedAt?: string;
  /** Set when deliveries kept failing: no more deliveries until re-subscribed. */
  paused?: { at: string; reason: string };
  /** Delivery attempts so far (the delivery log's last sequence number). */
  attempts: number;
}

export interface DeliveryEntry {
  seq: number;
  at: string;
  /** Why it was sent: new events (stream), the schedule, or a recall alert. */
  trigger: "stream" | "schedule" | "recall";
  /** Attempt of this delivery (1 = first try). */
  attempt: number;
  ok: boolean;
  status?: number;
  error?: string;
  /** Events in the delivered document, and for recall alerts the affected items. */
  eventCount: number;
  affectedItems?: number;
}

const SEP = "\u0000";
const k = (...parts: (string | number)[]) => parts.join(SEP);
const seqKey = (n: number) => String(n).padStart(12, "0");

export class SubscriptionStore {
  private constructor(readonly db: Level<string, unknown>) {}

  static async open(dir: string): Promise<SubscriptionStore> {
    mkdirSync(dir, { recursive: true });
    const db = new Level<string, unknown>(dir, { keyEncoding: "utf8", valueEncoding: "json" });
    await db.open();
    return new SubscriptionStore(db);
  }

  async close(): Promise<void> {
    if (this.db.status === "open" || this.db.status === "opening") await this.db.close();
  }

  private async values<T>(prefix: string): Promise<T[]> {
    return (await this.db.values({ gte: prefix, lt: prefix + "\uffff" }).all()) as T[];
  }

  async query(owner: number, name: string): Promise<NamedQuery | undefined> {
    return (await this.db.get(k("q", owner, name))) as NamedQuery | undefined;
  }

  async queries(owner: number): Promise<NamedQuery[]> {
    return this.values<NamedQuery>(k("q", owner, ""));
  }

  async putQuery(q: NamedQuery): Promise<void> {
    await this.db.put(k("q", q.owner, q.name), q, { sync: true });
  }

  /** Removes a named query and every subscription to it (GS1: deleting a query unsubscribes all). */
  async deleteQuery(owner: number, name: string): Promise<void> {
    const subs = (await this.subscriptions()).filter((s) => s.owner === owner && s.queryName === name);
    await this.db.batch([{ type: "del", key: k("q", owner, name) }, ...subs.map((s) => ({ type: "del" as const, key: k("s", s.subscriptionID) }))], { sync: true });
  }

  async subscription(id: string): Promise<Subscription | undefined> {
    return (await this.db.get(k("s", id))) as Subscription | undefined;
  }

  async subscriptions(): Promise<Subscription[]> {
    return this.values<Subscription>(k("s", ""));
  }

  async putSubscription(s: Subscription): Promise<void> {
    await this.db.put(k("s", s.subscriptionID), s, { sync: true });
  }

  async deleteSubscription(id: string): Promise<void> {
    await this.db.del(k("s", id), { sync: true });
  }

  async logDelivery(id: string, entry: DeliveryEntry): Promise<void> {
    await this.db.put(k("d", id, seqKey(entry.seq)), entry);
  }

  /** The delivery log of a subscription, newest first. */
  async deliveries(id: string, limit = 100): Promise<DeliveryEntry[]> {
    const prefix = k("d", id, "");
    return (await this.db.values({ gte: prefix, lt: prefix + "\uffff", reverse: true, limit }).all()) as DeliveryEntry[];
  }

  async meta<T>(name: string): Promise<T | undefined> {
    return (await this.db.get(k("m", name))) as T | undefined;
  }

  async setMeta(name: string, value: unknown): Promise<void> {
    await this.db.put(k("m", name), value, { sync: true });
  }
}
