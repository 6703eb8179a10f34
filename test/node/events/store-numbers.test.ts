/**
 * The event store's serial and lot number index (GET /search): a plain number finds the items
 * and lots that carry it, whatever role or quantity list names them, and stores written before
 * the index existed are backfilled once, on open.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { documentEventHashes } from "../../../lib/epcis/event-hash.ts";
import { canonicalIdentifier } from "../../../lib/identifiers/canonical.ts";
import { EventStore, type NewEvent } from "../../../node/events/store.ts";

const CONTEXT = ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"];
const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(path.join(tmpdir(), "tracemesh-numbers-"));
  dirs.push(d);
  return d;
};
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

const PUMP = "urn:epc:id:sgtin:0614141.112345.P0001";
const OTHER_PUMP = "urn:epc:id:sgtin:0614141.112346.P0001";
const HEAT = "urn:epc:class:lgtin:4012345.012345.H0001";

const own = (i: number, extra: Record<string, unknown>): NewEvent => {
  const e = { type: "ObjectEvent", action: "OBSERVE", eventTime: new Date(Date.UTC(2024, 0, 1) + i * 60_000).toISOString(), eventTimeZoneOffset: "+00:00", ...extra };
  const [h] = documentEventHashes({ "@context": CONTEXT, type: "EPCISDocument", epcisBody: { eventList: [e] } });
  return { hashId: h!.hashId, recordHash: h!.digest, context: CONTEXT, owner: 4, origin: { kind: "own", captureId: "c1" }, event: e };
};

describe("EventStore: serial and lot numbers", () => {
  it("finds items by serial and lots by lot number, exactly", async () => {
    const store = await EventStore.open(tempDir());
    try {
      await store.putOwn([own(1, { epcList: [PUMP, OTHER_PUMP] }), own(2, { epcList: [], quantityList: [{ epcClass: HEAT, quantity: 3, uom: "KGM" }] })]);
      expect(await store.identifiersNumbered("P0001", 10)).toEqual([canonicalIdentifier(PUMP), canonicalIdentifier(OTHER_PUMP)].sort());
      expect(await store.identifiersNumbered("P0001", 1)).toHaveLength(1);
      expect(await store.identifiersNumbered("H0001", 10)).toEqual([canonicalIdentifier(HEAT)]);
      // Exact numbers only: no prefix match, no case folding.
      expect(await store.identifiersNumbered("P000", 10)).toEqual([]);
      expect(await store.identifiersNumbered("p0001", 10)).toEqual([]);
    } finally {
      await store.close();
    }
  });

  it("indexes the numbers of events stored before the index existed, once, on open", async () => {
    const dir = tempDir();
    let store = await EventStore.open(dir);
    await store.putOwn([own(3, { epcList: [PUMP] })]);
    // As a store written before this change: no number entries, no marker.
    const numberKeys: string[] = [];
    for await (const key of store.db.keys({ gte: "n\u0000", lt: "n\u0000\uffff" })) numberKeys.push(key);
    expect(numberKeys).toHaveLength(1);
    await store.db.batch([{ type: "del", key: numberKeys[0]! }, { type: "del", key: "m\u0000numbers" }]);
    expect(await store.identifiersNumbered("P0001", 10)).toEqual([]);
    await store.close();
    store = await EventStore.open(dir);
    try {
      expect(await store.identifiersNumbered("P0001", 10)).toEqual([canonicalIdentifier(PUMP)]);
    } finally {
      await store.close();
    }
  });
});
