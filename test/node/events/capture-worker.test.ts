/**
 * The capture worker survives failed store writes (issue 12, reliability): a write failing while
 * a job was saved ended the worker loop with an unhandled rejection, which ends the process.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { CaptureService } from "../../../node/events/capture.ts";
import type { EventRecorder } from "../../../node/events/recorder.ts";
import { EventStore } from "../../../node/events/store.ts";

const CONTEXT = ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"];
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const doc = {
  "@context": CONTEXT,
  type: "EPCISDocument",
  schemaVersion: "2.0",
  creationDate: "2026-01-01T00:00:00Z",
  epcisBody: {
    eventList: [
      {
        type: "ObjectEvent",
        eventTime: "2026-01-01T00:00:00Z",
        eventTimeZoneOffset: "+00:00",
        action: "ADD",
        bizStep: "commissioning",
        epcList: ["urn:epc:id:sgtin:4012345.011111.W1"],
      },
    ],
  },
};

describe("capture worker", () => {
  it("keeps running when store writes fail, and finishes the job once they work again", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "tm-capture-"));
    dirs.push(dir);
    const store = await EventStore.open(path.join(dir, "events"));
    // A recorder that always fails: the job ends "failed", which needs two more writes.
    const recorder = { organisation: async () => 3, record: async () => Promise.reject(new Error("the chain refused")) } as unknown as EventRecorder;
    const service = new CaptureService(store, recorder, { retryBaseMs: 20 });
    const errors: unknown[] = [];
    service.on("worker-error", (e: unknown) => errors.push(e));
    try {
      const { job } = await service.submit(doc, 3);
      // The next three batches fail (the disk is full, say).
      const batch = store.db.batch.bind(store.db);
      let failures = 3;
      (store.db as { batch: unknown }).batch = (...args: Parameters<typeof batch>) =>
        failures-- > 0 ? Promise.reject(new Error("no space left on device")) : batch(...args);
      await service.start();
      const done = await service.finished(job.captureID, 10_000);
      expect(done.state).toBe("failed");
      expect(done.errors[0]!.message).toMatch(/the chain refused/);
      expect(errors.length).toBeGreaterThanOrEqual(2);
    } finally {
      await service.stop();
      await store.close();
    }
  });
});
