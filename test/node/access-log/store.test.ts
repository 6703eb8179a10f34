/**
 * The owner's access log on LevelDB: a hash chain whose head can be checked; an entry altered,
 * removed or inserted on disk, or a cut tail, is found and named.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { type AccessRead, AccessLog, type AccessLogEntry, AccessRecorder, entryHash } from "../../../node/access-log/index.ts";
import { ScopeKind } from "../../../lib/registry.ts";

let dir: string;
let log: AccessLog;
const read = (reader: number, n: number): AccessRead => ({
  reader,
  owner: 1,
  channel: n % 2 ? "gateway" : "p2p",
  subject: { kind: "document", eventHash: "0x" + n.toString(16).padStart(64, "0") },
  allowedBy: "grant item on 0xabc",
  grant: { scopeKey: "0xabc", kind: "item" },
  purpose: "0x" + "11".repeat(32),
});
const key = (seq: number) => `e:${seq.toString().padStart(12, "0")}`;

beforeEach(async () => {
  dir = mkdtempSync(path.join(tmpdir(), "tm-access-log-"));
  log = await AccessLog.open(dir, { clock: () => Date.parse("2026-12-05T12:00:00Z") });
});
afterEach(async () => {
  await log.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("access log", () => {
  it("appends concurrent reads in one gap-free chain whose head checks out, and survives a reopen", async () => {
    expect(await log.verify()).toEqual({ ok: true, head: { seq: 0, hash: "0".repeat(64) }, entries: 0 });
    await Promise.all(Array.from({ length: 20 }, (_, i) => log.append(read(2 + (i % 3), i))));
    const entries = await log.entries({ limit: 1000 });
    expect(entries.map((e) => e.seq)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    for (let i = 1; i < entries.length; i++) expect(entries[i]!.prev).toBe(entries[i - 1]!.hash);
    expect(entries[0]).toMatchObject({ time: "2026-12-05T12:00:00.000Z", reader: 2, allowedBy: "grant item on 0xabc" });
    expect(await log.verify()).toMatchObject({ ok: true, head: { seq: 20, hash: entries[19]!.hash }, entries: 20 });
    expect((await log.entries({ reader: 3, limit: 1000 })).every((e) => e.reader === 3)).toBe(true);
    expect((await log.entries({ after: 18 })).map((e) => e.seq)).toEqual([19, 20]);
    // One event's reads: its document and its bound readings, never another event's or a stream's.
    const hash = "0x" + (4).toString(16).padStart(64, "0");
    await log.append({ ...read(2, 4), subject: { kind: "readings", eventHash: hash.toUpperCase().replace("0X", "0x"), streams: ["furnace-1/temperature"] } });
    await log.append({ ...read(2, 4), subject: { kind: "stream", stream: "furnace-1/temperature", fromMs: 0, toMs: 1 } });
    expect((await log.entries({ event: hash, limit: 1000 })).map((e) => [e.seq, e.subject.kind])).toEqual([
      [5, "document"],
      [21, "readings"],
    ]);
    await log.close();
    log = await AccessLog.open(dir);
    expect((await log.append(read(2, 99))).seq).toBe(23);
    expect((await log.verify()).ok).toBe(true);
  });

  it("writes appends that arrive together as one synced batch, each its own entry in arrival order; a failed write fails its group only", async () => {
    const batch = vi.spyOn(log.db, "batch");
    const appended = await Promise.all(Array.from({ length: 30 }, (_, i) => log.append(read(2, i))));
    expect(appended.map((e) => [e.seq, e.subject.kind === "document" ? e.subject.eventHash : ""])).toEqual(
      Array.from({ length: 30 }, (_, i) => [i + 1, "0x" + i.toString(16).padStart(64, "0")]),
    );
    // Thirty reads, far fewer disk syncs: the first write, then one for all that queued behind it.
    expect(batch.mock.calls.length).toBeLessThanOrEqual(2);
    expect(batch.mock.calls.every((c) => ((c as unknown[])[1] as { sync?: boolean } | undefined)?.sync === true)).toBe(true);
    batch.mockRejectedValueOnce(new Error("disk full"));
    const failed = [log.append(read(3, 100)), log.append(read(3, 101))];
    await expect(Promise.all(failed)).rejects.toThrow("disk full");
    await Promise.allSettled(failed);
    // Nothing of the failed write went in; the log goes on from where it was, unbroken.
    expect((await log.append(read(4, 102))).seq).toBe(31);
    expect(await log.verify()).toMatchObject({ ok: true, entries: 31 });
    batch.mockRestore();
  });

  it("reads logged together under one grant share one read of its purpose from the chain; a later read asks the chain again", async () => {
    let purpose = "0x" + "22".repeat(32);
    const grant = vi.fn(async () => ({ owner: 1n, purpose }));
    const recorder = new AccessRecorder(log, { grant } as unknown as ConstructorParameters<typeof AccessRecorder>[1]);
    const decision = { allowed: true as const, via: "grant" as const, scopeKey: "0x" + "ab".repeat(32), kind: ScopeKind.Item };
    const reading = (n: number) => ({ reader: 2, owner: 1, channel: "gateway" as const, subject: { kind: "document" as const, eventHash: "0x" + n.toString(16).padStart(64, "0") } });
    await Promise.all([1, 2, 3, 4, 5].map((n) => recorder.record(reading(n), decision)));
    expect(grant).toHaveBeenCalledTimes(1);
    // Nothing is kept past the call: a purpose changed on chain shows in the next read's entry.
    purpose = "0x" + "33".repeat(32);
    await recorder.record(reading(6), decision);
    expect(grant).toHaveBeenCalledTimes(2);
    const entries = await log.entries({ limit: 10 });
    expect(entries.map((e) => [e.seq, e.purpose])).toEqual([...[1, 2, 3, 4, 5].map((n) => [n, "0x" + "22".repeat(32)]), [6, purpose]]);
  });

  it("finds an altered entry, a removed one, an inserted one and a cut tail", async () => {
    for (let i = 0; i < 5; i++) await log.append(read(2, i));
    const third = (await log.db.get(key(3))) as AccessLogEntry;
    await log.db.put(key(3), { ...third, reader: 7 });
    expect(await log.verify()).toEqual({ ok: false, seq: 3, problem: "entry 3 was altered" });
    await log.db.put(key(3), third);

    // Re-hashing a forged entry does not help: the next one no longer follows it.
    const { hash: _hash, ...body } = { ...third, reader: 7 };
    await log.db.put(key(3), { ...body, hash: entryHash(body) });
    expect(await log.verify()).toEqual({ ok: false, seq: 4, problem: "entry 4 does not follow entry 3" });
    await log.db.put(key(3), third);

    await log.db.del(key(2));
    expect(await log.verify()).toMatchObject({ ok: false, seq: 2, problem: expect.stringMatching(/entry 2 is missing/) });
    await log.db.put(key(2), (await log.entries({ after: 0, limit: 1 }))[0]!); // not entry 2: entry 1 put back at 2
    expect((await log.verify()).ok).toBe(false);
  });

  it("a tail cut off on disk no longer matches the head", async () => {
    for (let i = 0; i < 3; i++) await log.append(read(2, i));
    await log.db.del(key(3));
    expect(await log.verify()).toEqual({ ok: false, seq: 2, problem: "the log ends at entry 2, but its head says 3" });
  });
});
