/**
 * How the index follows Provenance: records, items and batches, custody, genealogy edges, recalls,
 * and lots by quantity (each holder's quantity, and quantities in transit between two members).
 */
import type { Result } from "ethers";
import { ItemStatus } from "../../../lib/registry.ts";
import type { BlockApplier, Handlers } from "../apply.ts";
import type { EventContext } from "../decode.ts";
import { lotUnitOf } from "../../../lib/registry.ts";
import type { ItemDoc, BatchDoc, RecordDoc, EdgeDoc, ShipmentDoc, LotHoldingDoc, LotTransitDoc } from "../documents.ts";
import { K } from "../store.ts";
import { ZERO32, hex, n, recordKindName } from "./values.ts";

export function provenanceHandlers(applier: BlockApplier): Handlers {
  /** The handler of an event that changes one item (`a.key`): `change`, then the item's last record and history. */
  const itemChange =
    (change: (it: ItemDoc, a: Result, r: RecordDoc) => void | Promise<void>) => async (a: Result, ctx: EventContext) => {
      const r = applier.currentRecord(n(a.recordId), ctx);
      const key = hex(a.key);
      const it = await applier.item(key);
      await change(it, a, r);
      await applier.setLast(key, it, r.id);
      await applier.touch(r, key);
    };
  /** The handler of a lot quantity moving between `holder`'s balance and the transit from fromOrg to toOrg. */
  const lotMove = (holder: "fromOrg" | "toOrg", way: "into transit" | "out of transit") => async (a: Result, ctx: EventContext) => {
    const r = applier.currentRecord(n(a.recordId), ctx);
    const batch = hex(a.batchKey);
    const intoTransit = way === "into transit" ? (a.quantity as bigint) : -(a.quantity as bigint);
    await addHolding(applier, n(a[holder]), batch, -intoTransit, r.id);
    await addTransit(applier, n(a.fromOrg), n(a.toOrg), batch, intoTransit, r.id);
    await applier.touch(r, batch);
  };
  return {
    "provenance.Recorded": async (a: Result, ctx: EventContext) => {
      const kind = n(a.kind);
      const r: RecordDoc = {
        id: n(a.recordId),
        kind,
        kindName: recordKindName(kind),
        org: n(a.orgId),
        eventHash: hex(a.eventHash),
        corrects: n(a.corrects),
        block: ctx.block,
        tx: ctx.tx,
        logIndex: ctx.logIndex,
        time: ctx.time,
        keys: [],
      };
      applier.record = r;
      applier.w.putNew(K.record(r.id), r);
      // Several organisations may record one hash (Provenance keeps one record per organisation).
      if ((await applier.w.get<number>(K.eventHash(r.eventHash))) === undefined) applier.w.putNew(K.eventHash(r.eventHash), r.id);
      applier.w.putNew(K.eventHashBy(r.eventHash, r.org), r.id);
      if (r.corrects !== 0) {
        // A correction belongs to the history of everything the corrected record touched.
        const corrected = await applier.w.get<RecordDoc>(K.record(r.corrects));
        for (const key of corrected?.keys ?? []) await applier.touch(r, key);
      }
    },
    "provenance.BatchCreated": async (a: Result, ctx: EventContext) => {
      const r = applier.currentRecord(n(a.recordId), ctx);
      const key = hex(a.batchKey);
      const b: BatchDoc = {
        key,
        owner: n(a.ownerOrg),
        recalled: false,
        recallRecord: null,
        createdAt: ctx.time,
        createdRecord: r.id,
        itemCount: 0,
        disposition: hex(a.disposition),
      };
      applier.w.putNew(K.batch(key), b);
      await applier.touch(r, key);
    },
    "provenance.ItemCreated": async (a: Result, ctx: EventContext) => {
      const r = applier.currentRecord(n(a.recordId), ctx);
      const key = hex(a.key);
      const batch = hex(a.batchKey) === ZERO32 ? null : hex(a.batchKey);
      const it: ItemDoc = {
        key,
        status: ItemStatus.Active,
        owner: r.org,
        custodian: r.org,
        consignee: 0,
        transfersOwnership: false,
        recalled: false,
        parent: null,
        parentRecord: null,
        batch,
        disposition: hex(a.disposition),
        createdAt: ctx.time,
        createdBlock: ctx.block,
        createdRecord: r.id,
        lastRecord: r.id,
        shipment: null,
      };
      applier.w.putNew(K.item(key), it);
      if (batch) {
        const b = await applier.w.get<BatchDoc>(K.batch(batch));
        if (b) {
          b.itemCount++;
          await applier.w.put(K.batch(batch), b);
        }
        applier.w.putNew(K.batchItem(batch, key), r.id);
      }
      await applier.touch(r, key);
    },
    "provenance.ItemConsumed": itemChange((it) => {
      it.status = ItemStatus.Consumed;
    }),
    "provenance.Transformed": async (a: Result, ctx: EventContext) => {
      const r = applier.currentRecord(n(a.recordId), ctx);
      const inputs = (a.inputs as string[]).map(hex);
      const outputs = (a.outputs as string[]).map(hex);
      for (const i of inputs) for (const o of outputs) await applier.edge(i, o, "transformation", r.id);
    },
    "provenance.Shipped": itemChange((it, a, r) => {
      const key = it.key;
      it.status = ItemStatus.InTransit;
      it.consignee = n(a.toOrg);
      it.transfersOwnership = a.transfersOwnership as boolean;
      it.shipment = r.id;
      const s: ShipmentDoc = {
        item: key,
        from: n(a.fromOrg),
        to: n(a.toOrg),
        transfersOwnership: a.transfersOwnership as boolean,
        shipRecord: r.id,
        state: "in-transit",
        endRecord: null,
      };
      applier.w.putNew(K.shipment(key, r.id), s);
      applier.w.putNew(K.shipmentOfOrg(s.from, "out", r.id, key), K.shipment(key, r.id));
      applier.w.putNew(K.shipmentOfOrg(s.to, "in", r.id, key), K.shipment(key, r.id));
    }),
    "provenance.ShipmentCancelled": itemChange((it, _a, r) => closeShipment(applier, it, "cancelled", r.id)),
    "provenance.Received": itemChange(async (it, a, r) => {
      await closeShipment(applier, it, "received", r.id);
      it.owner = n(a.ownerOrg);
      it.custodian = n(a.toOrg);
    }),
    "provenance.Assembled": async (a: Result, ctx: EventContext) => {
      const r = applier.currentRecord(n(a.recordId), ctx);
      const child = hex(a.child);
      const parent = hex(a.parent);
      const it = await applier.item(child);
      it.status = ItemStatus.Assembled;
      it.parent = parent;
      it.parentRecord = r.id;
      await applier.setLast(child, it, r.id);
      await applier.setLast(parent, await applier.item(parent), r.id);
      await applier.edge(child, parent, "assembly", r.id);
      await applier.touch(r, parent);
      await applier.touch(r, child);
    },
    "provenance.Disassembled": async (a: Result, ctx: EventContext) => {
      const r = applier.currentRecord(n(a.recordId), ctx);
      const child = hex(a.child);
      const parent = hex(a.parent);
      const it = await applier.item(child);
      const p = await applier.item(parent);
      // The edge goes, as on chain; the history keeps both records.
      if (it.parentRecord !== null) {
        const record = it.parentRecord;
        const other = (e: EdgeDoc) => !(e.kind === "assembly" && e.from === child && e.to === parent && e.recordId === record);
        for (const key of [K.forward(child), K.backward(parent)]) {
          const list = ((await applier.w.get<EdgeDoc[]>(key)) ?? []).filter(other);
          if (list.length > 0) await applier.w.put(key, list);
          else await applier.w.del(key);
        }
      }
      it.status = ItemStatus.Active;
      it.owner = p.owner;
      it.custodian = r.org;
      it.parent = null;
      it.parentRecord = null;
      await applier.setLast(child, it, r.id);
      await applier.setLast(parent, p, r.id);
      await applier.touch(r, parent);
      await applier.touch(r, child);
    },
    "provenance.Inspected": itemChange(() => {}),
    "provenance.DispositionChanged": itemChange((it, a) => {
      it.disposition = hex(a.disposition);
    }),
    "provenance.Recalled": itemChange((it) => {
      it.recalled = true;
    }),
    "provenance.BatchRecalled": async (a: Result, ctx: EventContext) => {
      const r = applier.currentRecord(n(a.recordId), ctx);
      const key = hex(a.batchKey);
      const b = await applier.w.get<BatchDoc>(K.batch(key));
      if (!b) throw new Error(`index is inconsistent: recall of unknown batch ${key}`);
      b.recalled = true;
      b.recallRecord = r.id;
      await applier.w.put(K.batch(key), b);
      await applier.touch(r, key);
    },

    "provenance.LotCommissioned": async (a: Result, ctx: EventContext) => {
      const r = applier.currentRecord(n(a.recordId), ctx);
      const batch = hex(a.batchKey);
      const b = await applier.w.get<BatchDoc>(K.batch(batch));
      if (!b) throw new Error(`index is inconsistent: quantity of unknown batch ${batch}`);
      if (b.unit === undefined) await applier.w.put(K.batch(batch), { ...b, unit: lotUnitOf(a.unit as string) });
      await addHolding(applier, n(a.orgId), batch, a.quantity as bigint, r.id);
      await applier.touch(r, batch);
    },
    // Every lot movement is between one holder's balance and the transit from fromOrg to toOrg.
    "provenance.LotShipped": lotMove("fromOrg", "into transit"),
    "provenance.LotReceived": lotMove("toOrg", "out of transit"),
    "provenance.LotShipmentCancelled": lotMove("fromOrg", "out of transit"),

    // An observation (a later Provenance's `observe`) names keys without changing them; the keys
    // need not be registered items, so only the history lists the record.
    "provenance.Observed": async (a: Result, ctx: EventContext) => {
      await applier.touch(applier.currentRecord(n(a.recordId), ctx), hex(a.key));
    },

  };
}

/** Ends the item's pending shipment (cancelled or received): the item is active again, with no consignee. */
async function closeShipment(applier: BlockApplier, it: ItemDoc, state: ShipmentDoc["state"], recordId: number): Promise<void> {
  if (it.shipment !== null) {
    const key = K.shipment(it.key, it.shipment);
    const s = await applier.w.get<ShipmentDoc>(key);
    if (s) await applier.w.put(key, { ...s, state, endRecord: recordId });
    it.shipment = null;
  }
  it.status = ItemStatus.Active;
  it.consignee = 0;
  it.transfersOwnership = false;
}

async function lotUnit(applier: BlockApplier, batch: string): Promise<string> {
  return (await applier.w.get<BatchDoc>(K.batch(batch)))?.unit ?? "";
}

/** Adds `delta` to an organisation's quantity of a lot; a holding that reaches zero goes. */
async function addHolding(applier: BlockApplier, org: number, batch: string, delta: bigint, recordId: number): Promise<void> {
  const key = K.lotHolding(org, batch);
  const held = await applier.w.get<LotHoldingDoc>(key);
  const quantity = BigInt(held?.quantity ?? "0") + delta;
  if (quantity < 0n) throw new Error(`index is inconsistent: organisation ${org} holds less of ${batch} than it moved`);
  if (quantity === 0n) {
    if (held) await applier.w.del(key);
    return;
  }
  const doc: LotHoldingDoc = { batch, org, quantity: quantity.toString(), unit: await lotUnit(applier, batch), lastRecord: recordId };
  await applier.w.put(key, doc);
}

/** Adds `delta` to the quantity of a lot in transit from `from` to `to`, under both ends. */
async function addTransit(applier: BlockApplier, from: number, to: number, batch: string, delta: bigint, recordId: number): Promise<void> {
  const keys = [K.lotTransit(from, "out", batch, to), K.lotTransit(to, "in", batch, from)];
  const pending = await applier.w.get<LotTransitDoc>(keys[0]!);
  const quantity = BigInt(pending?.quantity ?? "0") + delta;
  if (quantity < 0n) throw new Error(`index is inconsistent: more of ${batch} left transit from ${from} to ${to} than entered it`);
  for (const key of keys) {
    if (quantity === 0n) await applier.w.del(key);
    else await applier.w.put(key, { batch, from, to, quantity: quantity.toString(), unit: await lotUnit(applier, batch), lastRecord: recordId } satisfies LotTransitDoc);
  }
}
