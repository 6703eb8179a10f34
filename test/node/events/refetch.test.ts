/**
 * A damaged event store (issue 18): one of its LevelDB table files truncated, as a disk fault
 * leaves it. `repairDataDir` repairs it and says the documents can be asked back from partners;
 * the documents whose table was cut are then the ones `missingDocuments` finds lacking among the
 * organisation's records, and `refetchDocuments` writes them back whole, found by the store's
 * indexes again, while the ones that survived are left as they were; a document whose capture job
 * had not finished is not counted lost. (The chain and real partners:
 * test/node/p2p/return-documents.test.ts.)
 */
import { mkdirSync, readdirSync, statSync, truncateSync } from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { type DocumentPartner, type OwnRecord, missingDocuments, refetchDocuments } from "../../../node/events/refetch.ts";
import { EventStore } from "../../../node/events/store.ts";
import { repairDataDir } from "../../../node/ingest/repair.ts";
import { type EventDocument, identitiesOf } from "../../../node/p2p/documents.ts";
import { tempDir } from "../p2p/helpers.ts";

const ORG = 3;
const CONTEXT = ["https://ref.gs1.org/standards/epcis/epcis-context.jsonld"];

const documentOf = (session: number, i: number): EventDocument => ({
  event: {
    type: "ObjectEvent",
    eventTime: new Date(Date.UTC(2026, 0, 1 + session, 8, i)).toISOString(),
    eventTimeZoneOffset: "+00:00",
    epcList: [`urn:epc:id:sgtin:4012345.011111.${session * 100 + i}`],
    action: "ADD",
    bizStep: "commissioning",
    disposition: "active",
  },
  context: CONTEXT,
});

describe("a damaged event store", { timeout: 120_000 }, () => {
  const tmp = tempDir("tm-events-refetch-");
  const dataDir = path.join(tmp.dir, "data");
  const eventsDir = path.join(dataDir, "events");
  const documents: (EventDocument & { hashId: string; recordHash: string })[] = [];
  afterAll(() => tmp.remove());

  it("is repaired; the documents its cut table held are found missing among the organisation's records and written back whole", async () => {
    mkdirSync(dataDir, { recursive: true });
    // Three sessions of 40 own events each; each session's events end in a table file of its own.
    for (let session = 0; session < 3; session++) {
      const store = await EventStore.open(eventsDir); // opening flushes the last session's log into a table
      for (let i = 0; i < 40; i++) {
        const doc = documentOf(session, i);
        const ids = identitiesOf(doc);
        documents.push({ ...doc, ...ids });
        await store.putOwn([{ ...ids, context: doc.context, owner: ORG, origin: { kind: "own", captureId: `job-${session}` }, chain: { recordId: String(documents.length), kind: "Commission" }, event: doc.event }]);
      }
      await store.close();
    }
    await (await EventStore.open(eventsDir)).close();
    const tables = readdirSync(eventsDir)
      .filter((f) => f.endsWith(".ldb"))
      .sort((a, b) => parseInt(a, 10) - parseInt(b, 10));
    expect(tables.length).toBeGreaterThanOrEqual(3);
    const victim = path.join(eventsDir, tables[1]!);
    truncateSync(victim, Math.floor(statSync(victim).size / 2));

    const repaired = await repairDataDir(dataDir);
    expect(repaired.stores.find((s) => s.dir === "events")!.lostFiles.length).toBeGreaterThan(0);
    expect(repaired.left.join("\n")).toMatch(/the event store set damaged files aside .*--from-partners` finds the organisation's records on chain whose documents it lacks/);

    const records: OwnRecord[] = documents.map((d, i) => ({ recordId: String(i + 1), recordHash: d.recordHash, kind: "Commission" }));
    const store = await EventStore.open(eventsDir);
    try {
      const missing = await missingDocuments(store, records);
      // What the cut table held is gone; the other sessions' events are intact.
      expect(missing.length).toBeGreaterThan(0);
      expect(missing.length).toBeLessThan(documents.length);
      const survived = documents.filter((d) => !missing.some((m) => m.recordHash === d.recordHash));
      for (const d of survived) expect((await store.bySid("o" + d.recordHash.slice(2)))!.origin).toEqual({ kind: "own", captureId: expect.stringMatching(/^job-/) });

      const byHash = new Map(documents.map((d) => [d.recordHash, { event: d.event, context: d.context }]));
      const partner: DocumentPartner = {
        peer: "partner",
        org: ORG + 1,
        askDocuments: async (r) => ({ documents: r.recordHashes.map((h) => byHash.get(h)!), answered: r.recordHashes.length }),
      };
      const recordOf = async (recordHash: string, orgId: number) => {
        const i = documents.findIndex((d) => d.recordHash === recordHash);
        return i < 0 || orgId !== ORG ? undefined : { recordId: BigInt(i + 1), orgId: ORG, kind: "Commission" };
      };
      const report = await refetchDocuments(store, missing, { ownOrg: ORG, partners: [partner], recordOf, onLie: async () => expect.fail("no one lied"), log: () => undefined });
      expect(report.restored.map((d) => d.recordHash).sort()).toEqual(missing.map((m) => m.recordHash).sort());
      expect(report.lost).toEqual([]);
      expect(await missingDocuments(store, records)).toEqual([]);
      for (const m of missing) {
        const d = documents.find((x) => x.recordHash === m.recordHash)!;
        const e = (await store.bySid("o" + m.recordHash.slice(2)))!;
        expect(e).toMatchObject({ hashId: d.hashId, owner: ORG, origin: { kind: "own", captureId: "", restored: { peerId: "partner", org: ORG + 1 } }, chain: { recordId: m.recordId } });
        // Found by its indexes again: by hash ID and by the item it names.
        expect((await store.get(d.hashId)).map((x) => x.sid)).toEqual([e.sid]);
        expect((await store.query({ epc: d.event["epcList"] as string[] })).events.map((x) => x.sid)).toEqual([e.sid]);
      }

      // A document recorded on chain whose capture job had not finished (stopped in between) is
      // not lost: the job stores its events when the node starts. Without the job, it is.
      const inFlight = documentOf(9, 0);
      const record: OwnRecord = { recordId: "999", recordHash: identitiesOf(inFlight).recordHash, kind: "Commission" };
      const job = { "@context": inFlight.context, type: "EPCISDocument", schemaVersion: "2.0", creationDate: "2026-01-09T08:00:00Z", epcisBody: { eventList: [inFlight.event] } };
      await store.db.batch([
        { type: "put", key: "jdoc\u0000job-9", value: job },
        { type: "put", key: "jq\u0000job-9", value: "" },
      ]);
      expect(await missingDocuments(store, [...records, record])).toEqual([]);
      await store.db.del("jq\u0000job-9");
      expect(await missingDocuments(store, [...records, record])).toEqual([record]);
    } finally {
      await store.close();
    }
  });
});
