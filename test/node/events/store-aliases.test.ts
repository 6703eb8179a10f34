/**
 * The event store's CBV 2.1 hash ID aliases (indexed beside the CBV 2.0 ID, backfilled once for
 * events stored before), its identifier lists for the top-level EPCIS resources, the keys its
 * events name (kept in memory until an event naming the key is stored; backfilled once), and page
 * token expiry.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { documentEventHashes, eventHash } from "../../../lib/epcis/event-hash.ts";
import { batchKey, itemKey } from "../../../lib/identifiers/canonical.ts";
import { EventStore, type NewEvent } from "../../../node/events/store.ts";

const CONTEXT = ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld", { ex: "https://ns.example.com/x/" }];
const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(path.join(tmpdir(), "tracemesh-aliases-"));
  dirs.push(d);
  return d;
};
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

const event = (i: number, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  type: "ObjectEvent",
  action: "OBSERVE",
  eventTime: new Date(Date.UTC(2024, 0, 1) + i * 60_000).toISOString(),
  eventTimeZoneOffset: "+00:00",
  epcList: [`urn:epc:id:sgtin:0614141.112345.A${i}`],
  bizStep: "shipping",
  readPoint: { id: "urn:epc:id:sgln:0614141.00001.0", "ex:dock": "7" },
  sensorElementList: [{ sensorReport: [{ type: "Temperature", value: 20 + i, uom: "CEL" }] }],
  ...extra,
});
const own = (e: Record<string, unknown>): NewEvent => {
  const [h] = documentEventHashes({ "@context": CONTEXT, type: "EPCISDocument", epcisBody: { eventList: [e] } });
  return { hashId: h!.hashId, recordHash: h!.digest, context: CONTEXT, owner: 4, origin: { kind: "own", captureId: "c1" }, event: e };
};
const cbv21 = (e: Record<string, unknown>) => eventHash(e, { context: CONTEXT, cbvVersion: "CBV2.1" }).hashId;

describe("EventStore: CBV 2.1 aliases, identifier lists, page token expiry", () => {
  it("finds an event by its CBV 2.1 hash ID, by get and by EQ_eventID", async () => {
    const store = await EventStore.open(tempDir());
    try {
      const e = event(1);
      const stored = own(e);
      await store.putOwn([stored]);
      const alias = cbv21(e);
      expect(alias).not.toBe(stored.hashId.replace("CBV2.0", "CBV2.1"));
      expect((await store.get(alias)).map((x) => x.hashId)).toEqual([stored.hashId]);
      expect((await store.query({ eventID: [alias] })).events).toHaveLength(1);
      expect(await store.get(alias.replace(/;[0-9a-f]{4}/, ";0000"))).toEqual([]);
    } finally {
      await store.close();
    }
  });

  it("recordedAs finds by record hash exactly what get finds under it, and refuses what is not one", async () => {
    const store = await EventStore.open(tempDir());
    try {
      const [a, b] = [own(event(10)), own(event(11))];
      await store.putOwn([a, b]);
      const viaGet = (await store.get(a.recordHash)).filter((x) => x.recordHash.toLowerCase() === a.recordHash.toLowerCase());
      expect(viaGet.map((x) => x.hashId)).toEqual([a.hashId]);
      expect(await store.recordedAs(a.recordHash)).toEqual(viaGet);
      expect(await store.recordedAs(a.recordHash.toUpperCase().replace("0X", "0x"))).toEqual(viaGet);
      expect(await store.recordedAs("0x" + "ab".repeat(32))).toEqual([]);
      // An eventID or hash ID is not a record hash: get answers it, recordedAs refuses it.
      expect(await store.get(a.hashId)).toHaveLength(1);
      await expect(store.recordedAs(a.hashId)).rejects.toThrow(/record hash is 0x and 64 hex digits/);
    } finally {
      await store.close();
    }
  });

  it("indexes the aliases of events stored before aliases existed, once, on open", async () => {
    const dir = tempDir();
    let store = await EventStore.open(dir);
    const e = event(2);
    const stored = own(e);
    await store.putOwn([stored]);
    // As a store written before this change: no alias entry, no marker.
    const aliasKeys: string[] = [];
    for await (const key of store.db.keys()) if (key.includes("CBV2.1")) aliasKeys.push(key);
    expect(aliasKeys).toHaveLength(1);
    await store.db.batch([{ type: "del", key: aliasKeys[0]! }, { type: "del", key: "m\u0000cbv21" }]);
    expect(await store.get(cbv21(e))).toEqual([]);
    await store.close();
    store = await EventStore.open(dir);
    try {
      expect((await store.get(cbv21(e))).map((x) => x.hashId)).toEqual([stored.hashId]);
    } finally {
      await store.close();
    }
  });

  it("lists distinct identifiers of a kind in order, paged after the last one", async () => {
    const store = await EventStore.open(tempDir());
    try {
      await store.putOwn([own(event(3)), own(event(4)), own(event(5, { epcList: ["urn:epc:id:sgtin:0614141.112345.A3"] }))]);
      const all = await store.indexValues("epc", { limit: 10 });
      expect(all).toHaveLength(2);
      expect(await store.indexValues("epc", { limit: 1 })).toEqual([all[0]]);
      expect(await store.indexValues("epc", { limit: 10, after: all[0]! })).toEqual([all[1]]);
      expect(await store.indexValues("bizStep", { limit: 10 })).toEqual(["https://ref.gs1.org/cbv/BizStep-shipping"]);
      expect(await store.indexValues("disposition", { limit: 10 })).toEqual([]);
    } finally {
      await store.close();
    }
  });

  it("gives page tokens an expiry, announced and enforced", async () => {
    const store = await EventStore.open(tempDir());
    try {
      await store.putOwn([own(event(6)), own(event(7))]);
      const first = await store.query({}, { perPage: 1, now: () => 1_000, tokenLifetimeMs: 500 });
      expect(first.nextPageTokenExpires).toBe(new Date(1_500).toISOString());
      expect((await store.query({}, { perPage: 1, nextPageToken: first.nextPageToken!, now: () => 1_499 })).events).toHaveLength(1);
      await expect(store.query({}, { perPage: 1, nextPageToken: first.nextPageToken!, now: () => 1_500 })).rejects.toThrow(/nextPageToken expired at 1970-01-01T00:00:01.500Z/);
    } finally {
      await store.close();
    }
  });

  it("recordedAs finds a received copy beside the own one, in time order", async () => {
    const store = await EventStore.open(tempDir());
    try {
      const a = own(event(12));
      await store.putReceived({ ...a, owner: 2, origin: { kind: "received", peerId: "p", org: 2, grant: { scopeKey: "0x" + "11".repeat(32) }, receivedAt: "2024-01-01T00:00:00.000Z" } });
      await store.putOwn([a]);
      expect((await store.recordedAs(a.recordHash)).map((x) => x.sid[0])).toEqual(["o", "r"]);
    } finally {
      await store.close();
    }
  });

  it("names each key its events name with the identifier naming it, anew once an event naming the key is stored", async () => {
    const store = await EventStore.open(tempDir());
    try {
      const serial = "urn:epc:id:sgtin:0614141.112345.N1";
      const lotClass = "urn:epc:class:lgtin:0614141.112345.L7";
      const k = itemKey(serial).toLowerCase();
      // Named as the access rule reads events: by Digital Link.
      const [serialLink, lotLink] = ["https://id.gs1.org/01/10614141123459/21/N1", "https://id.gs1.org/01/10614141123459/10/L7"];
      // Not named yet (an answer of none is kept too) ...
      expect(await store.namesOf(k)).toEqual([]);
      const first = own(event(20, { epcList: [serial], quantityList: [{ epcClass: lotClass, quantity: 1 }] }));
      await store.putOwn([first]);
      // ... and dropped when an event naming the key is stored.
      expect(await store.namesOf(k.toUpperCase().replace("0X", "0x"))).toEqual([{ sid: "o" + first.recordHash.slice(2).toLowerCase(), identifier: serialLink }]);
      expect(await store.namesOf(batchKey(lotClass))).toEqual([{ sid: "o" + first.recordHash.slice(2).toLowerCase(), identifier: lotLink }]);
      const second = own(event(21, { epcList: [serial] }));
      await store.putOwn([second]);
      expect((await store.namesOf(k)).map((n) => n.sid).sort()).toEqual(["o" + first.recordHash.slice(2).toLowerCase(), "o" + second.recordHash.slice(2).toLowerCase()].sort());
    } finally {
      await store.close();
    }
  });

  it("indexes the keys of events stored before key names existed, once, on open", async () => {
    const dir = tempDir();
    let store = await EventStore.open(dir);
    const e = own(event(30));
    await store.putOwn([e]);
    const named = itemKey("urn:epc:id:sgtin:0614141.112345.A30").toLowerCase();
    // As a store written before this change: no key names, no marker.
    const keys: string[] = [];
    for await (const key of store.db.keys({ gt: "kn\u0000", lt: "kn\u0000\uffff" })) keys.push(key);
    expect(keys).toHaveLength(1);
    await store.db.batch([{ type: "del", key: keys[0]! }, { type: "del", key: "m\u0000keynames" }]);
    await store.close();
    store = await EventStore.open(dir);
    try {
      expect(await store.namesOf(named)).toEqual([{ sid: "o" + e.recordHash.slice(2).toLowerCase(), identifier: "https://id.gs1.org/01/10614141123459/21/A30" }]);
    } finally {
      await store.close();
    }
  });
});
