/**
 * How the chain index follows the Tracemesh contracts: BlockApplier applies the decoded events of
 * one block, in log order, through the handlers of each contract (handlers/). Handlers only read
 * and write through a BlockWriter, so a block's changes are committed (or undone) as a whole by
 * the indexer.
 *
 * Events this version does not know (a later contract version's) are counted and skipped, and
 * record kinds beyond the known ones are kept with their number, so an upgrade never stops the
 * index.
 */
import type { Result } from "ethers";
import type { ContractName, DecodedEvent, EventContext } from "./decode.ts";
import type { CertificateDoc, EdgeDoc, ItemDoc, OrgDoc, RecordDoc } from "./documents.ts";
import { accessGrantsHandlers } from "./handlers/access-grants.ts";
import { certificatesHandlers } from "./handlers/certificates.ts";
import { consortiumHandlers } from "./handlers/consortium.ts";
import { dataAnchorsHandlers } from "./handlers/data-anchors.ts";
import { provenanceHandlers } from "./handlers/provenance.ts";
import { type BlockWriter, K } from "./store.ts";

/** Handlers by "<contract>.<event>". */
export type Handlers = Record<string, (a: Result, ctx: EventContext) => Promise<void>>;

/**
 * Applies decoded events of one block in log order. The current record of a transaction (the
 * `Recorded` event that Provenance emits before a record's per-item events) is kept here; the
 * helpers below are the handlers' shared reads and writes.
 */
export class BlockApplier {
  /** The record whose per-item events follow (set by provenance.Recorded). */
  record: RecordDoc | undefined;
  /** Events applied in this block; unknown ones skipped. */
  applied = 0;
  skipped = 0;
  private readonly handlers: Handlers;

  constructor(readonly w: BlockWriter) {
    this.handlers = {
      ...provenanceHandlers(this),
      ...certificatesHandlers(this),
      ...accessGrantsHandlers(this),
      ...dataAnchorsHandlers(this),
      ...consortiumHandlers(this),
    };
  }

  async apply(contract: ContractName, e: DecodedEvent, ctx: EventContext): Promise<void> {
    const handler = this.handlers[`${contract}.${e.name}`];
    if (!handler) {
      this.skipped++;
      return;
    }
    await handler(e.args, ctx);
    this.applied++;
  }

  async item(key: string): Promise<ItemDoc> {
    const it = await this.w.get<ItemDoc>(K.item(key));
    if (!it) throw new Error(`index is inconsistent: event for unknown item ${key}`);
    return it;
  }

  currentRecord(recordId: number, ctx: EventContext): RecordDoc {
    const r = this.record;
    if (!r || r.id !== recordId || r.tx !== ctx.tx) {
      throw new Error(`index is inconsistent: event of record ${recordId} in ${ctx.tx} without its Recorded event`);
    }
    return r;
  }

  /** Adds `key` to the record's keys and the record to the key's history. */
  async touch(r: RecordDoc, key: string): Promise<void> {
    if (!r.keys.includes(key)) r.keys.push(key);
    this.w.putNew(K.itemRecord(key, r.id), r.kind);
    this.w.putNew(K.record(r.id), r);
  }

  async setLast(key: string, it: ItemDoc, recordId: number): Promise<void> {
    it.lastRecord = recordId;
    await this.w.put(K.item(key), it);
  }

  async edge(from: string, to: string, kind: EdgeDoc["kind"], recordId: number): Promise<void> {
    const doc: EdgeDoc = { from, to, kind, recordId };
    for (const key of [K.forward(from), K.backward(to)]) {
      const list = (await this.w.get<EdgeDoc[]>(key)) ?? [];
      list.push(doc);
      await this.w.put(key, list);
    }
  }

  async cert(id: string): Promise<CertificateDoc> {
    const c = await this.w.get<CertificateDoc>(K.certificate(id));
    if (!c) throw new Error(`index is inconsistent: event for unknown certificate ${id}`);
    return c;
  }

  async org(id: number): Promise<OrgDoc> {
    const o = await this.w.get<OrgDoc>(K.org(id));
    if (!o) throw new Error(`index is inconsistent: event for unknown organisation ${id}`);
    return o;
  }
}
