/**
 * The owner's access log on LevelDB: a hash chain of one entry per answer, whose head can be
 * checked; an entry altered (a read inside it too), removed or inserted on disk, or a cut tail, is
 * found and named; entries written one read each (format 1) still verify beside newer ones.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
  type AccessAnswerReads,
  AccessLog,
  type AccessLogEntryV1,
  type AccessRead,
  AccessRecorder,
  canonicalEntry,
  entryHash,
  entryHashV1,
  prepareEntry,
  type StoredEntry,
  storedText,
} from "../../../node/access-log/index.ts";
import { RegulatorScope } from "../../../lib/access.ts";
import { ScopeKind } from "../../../lib/registry.ts";

let dir: string;
let log: AccessLog;
const hashOf = (n: number) => "0x" + n.toString(16).padStart(64, "0");
const docRead = (n: number): AccessRead => ({
  subject: { kind: "document", eventHash: hashOf(n) },
  allowedBy: "grant item on 0xabc",
  grant: { scopeKey: "0xabc", kind: "item" },
  purpose: "0x" + "11".repeat(32),
});
/** An answer to `reader` that handed out the documents numbered `docs`. */
const answer = (reader: number, ...docs: number[]): AccessAnswerReads => ({ reader, owner: 1, channel: docs[0]! % 2 ? "gateway" : "p2p", reads: docs.map(docRead) });
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
  it("appends concurrent answers in one gap-free chain whose head checks out, and survives a reopen", async () => {
    expect(await log.verify()).toEqual({ ok: true, head: { seq: 0, hash: "0".repeat(64) }, entries: 0 });
    await Promise.all(Array.from({ length: 20 }, (_, i) => log.append(answer(2 + (i % 3), i))));
    const entries = await log.entries({ limit: 1000 });
    expect(entries.map((e) => e.seq)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    for (let i = 1; i < entries.length; i++) expect(entries[i]!.prev).toBe(entries[i - 1]!.hash);
    expect(entries[0]).toMatchObject({ v: 2, time: "2026-12-05T12:00:00.000Z", reader: 2, reads: [{ allowedBy: "grant item on 0xabc" }] });
    expect(await log.verify()).toMatchObject({ ok: true, head: { seq: 20, hash: entries[19]!.hash }, entries: 20 });
    expect((await log.entries({ reader: 3, limit: 1000 })).every((e) => e.reader === 3)).toBe(true);
    expect((await log.entries({ after: 18 })).map((e) => e.seq)).toEqual([19, 20]);
    // One event's reads: entries handing out its document or its bound readings, never another event's or a stream's.
    const hash = hashOf(4);
    await log.append({ ...answer(2, 4), reads: [{ ...docRead(4), subject: { kind: "readings", eventHash: hash.toUpperCase().replace("0X", "0x"), streams: ["furnace-1/temperature"] } }] });
    await log.append({ ...answer(2, 4), reads: [{ ...docRead(4), subject: { kind: "stream", stream: "furnace-1/temperature", fromMs: 0, toMs: 1 } }] });
    // An answer of many documents is found by any one of them.
    await log.append(answer(3, 30, 4, 31));
    expect((await log.entries({ event: hash, limit: 1000 })).map((e) => [e.seq, e.reads.map((r) => r.subject.kind)])).toEqual([
      [5, ["document"]],
      [21, ["readings"]],
      [23, ["document", "document", "document"]],
    ]);
    await log.close();
    log = await AccessLog.open(dir);
    expect((await log.append(answer(2, 99))).seq).toBe(24);
    expect((await log.verify()).ok).toBe(true);
  });

  it("keeps one answer's reads in one entry, in the order served, with what allowed each", async () => {
    const rule: AccessRead = { subject: { kind: "document", eventHash: hashOf(7), eventID: "ni:///sha-256;ab?ver=CBV2.0" }, allowedBy: "rule regulator-recall-events", purpose: "regulatory-oversight (recall)" };
    const reads = [docRead(5), rule, { ...docRead(6), grant: { id: "0x" + "cd".repeat(32), scopeKey: "0xdef", kind: "item-genealogy", path: ["0xdef", "0x123"] } }];
    const appended = await log.append({ reader: 4, owner: 1, channel: "gateway", reads });
    const [stored] = await log.entries();
    expect(stored).toEqual(appended);
    expect(stored).toEqual({ v: 2, seq: 1, time: "2026-12-05T12:00:00.000Z", reader: 4, owner: 1, channel: "gateway", reads, prev: "0".repeat(64), hash: appended.hash });
    // The hash is the SHA-256 of the entry's canonical text, which is what lies on disk.
    const { v: _v, hash, ...body } = stored!;
    expect(entryHash(body)).toBe(hash);
    expect(await log.db.get(key(1), { valueEncoding: "utf8" })).toBe(`${canonicalEntry(body).slice(0, -1)},"hash":"${hash}"}`);
    // Stored with what allowed the reads written once per distinct reason: here three.
    expect(((await log.db.get(key(1))) as StoredEntry).why).toEqual(reads.map(({ subject: _s, ...why }) => why));
    // An answer that handed out nothing is not an entry.
    await expect(log.append({ reader: 4, owner: 1, channel: "gateway", reads: [] })).rejects.toThrow(/at least one read/);
    expect((await log.head()).seq).toBe(1);
  });

  it("a name chosen by a document's author (its eventID) cannot add, hide or reword a read: it is one quoted string of the canonical text", async () => {
    // An eventID shaped like the end of one read and the start of another, with quotes, backslashes and odd characters.
    const forged = `x"},"allowedBy":"owner","purpose":null},{"subject":{"kind":"document","eventHash":"${hashOf(66)}"}\\\u2028\u0000🙂`;
    const reads: AccessRead[] = [{ ...docRead(1), subject: { kind: "document", eventHash: hashOf(1), eventID: forged } }, docRead(2)];
    const appended = await log.append({ reader: 2, owner: 1, channel: "gateway", reads });
    const [stored] = await log.entries();
    expect(stored!.reads).toEqual(reads);
    expect(stored!.reads.map((r) => r.allowedBy)).toEqual(["grant item on 0xabc", "grant item on 0xabc"]);
    expect(await log.entries({ event: hashOf(66) })).toEqual([]);
    expect(await log.verify()).toMatchObject({ ok: true, head: { hash: appended.hash } });
    // Moving the text between fields changes the hash.
    const raw = (await log.db.get(key(1))) as StoredEntry;
    await log.db.put(key(1), { ...raw, why: [{ ...raw.why[0]!, allowedBy: `grant item on 0xabc${forged}` }], reads: [{ ...raw.reads[0]!, subject: { kind: "document", eventHash: hashOf(1) } }, raw.reads[1]] });
    expect(await log.verify()).toEqual({ ok: false, seq: 1, problem: "entry 1 was altered" });
  });

  it("stores a grant shared by an answer's reads once: twenty documents under one grant name it once", async () => {
    const scopeKey = "0x" + "ab".repeat(32);
    const why = { allowedBy: `grant item-genealogy on ${scopeKey}`, grant: { id: "0x" + "cd".repeat(32), scopeKey, kind: "item-genealogy" }, purpose: "0x" + "11".repeat(32) };
    const many: AccessAnswerReads = { reader: 2, owner: 1, channel: "gateway", reads: Array.from({ length: 20 }, (_, i) => ({ subject: { kind: "document", eventHash: hashOf(i) }, ...why })) };
    await log.append(many);
    const raw = (await log.db.get(key(1))) as StoredEntry;
    expect(raw.why).toEqual([why]);
    expect(raw.reads.map((r) => r.why)).toEqual(Array(20).fill(0));
    expect((await log.entries())[0]!.reads).toEqual(many.reads);
    expect(((await log.db.get(key(1), { valueEncoding: "utf8" })) as string).length).toBeLessThan(JSON.stringify(many.reads).length / 2);
  });

  it("appends a prepared answer again and again without writing its reads anew, each time a new entry", async () => {
    const prepared = prepareEntry(answer(2, 1, 2, 3));
    const first = await log.append(prepared);
    const second = await log.append(prepared);
    expect([first.seq, second.seq]).toEqual([1, 2]);
    expect(second.prev).toBe(first.hash);
    expect(second.reads).toEqual(first.reads);
    expect(await log.verify()).toMatchObject({ ok: true, entries: 2 });
  });

  it("writes appends that arrive together as one synced batch, each its own entry in arrival order; a failed write fails its group only", async () => {
    const batch = vi.spyOn(log.db, "batch");
    const appended = await Promise.all(Array.from({ length: 30 }, (_, i) => log.append(answer(2, i))));
    expect(appended.map((e) => [e.seq, e.reads[0]!.subject.kind === "document" ? e.reads[0]!.subject.eventHash : ""])).toEqual(Array.from({ length: 30 }, (_, i) => [i + 1, hashOf(i)]));
    // Thirty answers, far fewer disk syncs: the first write, then one for all that queued behind it.
    expect(batch.mock.calls.length).toBeLessThanOrEqual(2);
    expect(batch.mock.calls.every((c) => ((c as unknown[])[1] as { sync?: boolean } | undefined)?.sync === true)).toBe(true);
    batch.mockRejectedValueOnce(new Error("disk full"));
    const failed = [log.append(answer(3, 100)), log.append(answer(3, 101))];
    await expect(Promise.all(failed)).rejects.toThrow("disk full");
    await Promise.allSettled(failed);
    // Nothing of the failed write went in; the log goes on from where it was, unbroken.
    expect((await log.append(answer(4, 102))).seq).toBe(31);
    expect(await log.verify()).toMatchObject({ ok: true, entries: 31 });
    batch.mockRestore();
  });

  it("reads logged together under one grant share one read of its purpose from the chain; a later answer asks the chain again", async () => {
    let purpose = "0x" + "22".repeat(32);
    const grant = vi.fn(async () => ({ owner: 1n, purpose }));
    const recorder = new AccessRecorder(log, { grant } as unknown as ConstructorParameters<typeof AccessRecorder>[1]);
    const decision = { allowed: true as const, via: "grant" as const, scopeKey: "0x" + "ab".repeat(32), kind: ScopeKind.Item };
    const served = (n: number, owner = 1) => ({ owner, subject: { kind: "document" as const, eventHash: hashOf(n) }, decision });
    // One answer of five documents: one entry naming the five, one read of the purpose.
    await recorder.recordAll(2, "gateway", [1, 2, 3, 4, 5].map((n) => served(n)));
    expect(grant).toHaveBeenCalledTimes(1);
    // Two answers at the same moment under the same grant share the call too.
    await Promise.all([recorder.record({ reader: 2, owner: 1, channel: "p2p", subject: served(6).subject }, decision), recorder.recordAll(2, "gateway", [served(7)])]);
    expect(grant).toHaveBeenCalledTimes(2);
    // Nothing is kept past the call: a purpose changed on chain shows in the next answer's entry.
    purpose = "0x" + "33".repeat(32);
    await recorder.recordAll(2, "gateway", [served(8)]);
    expect(grant).toHaveBeenCalledTimes(3);
    const entries = await log.entries({ limit: 10 });
    expect(entries.map((e) => [e.seq, e.reader, e.reads.length, e.reads[0]!.purpose])).toEqual([
      [1, 2, 5, "0x" + "22".repeat(32)],
      [2, 2, 1, "0x" + "22".repeat(32)],
      [3, 2, 1, "0x" + "22".repeat(32)],
      [4, 2, 1, purpose],
    ]);
    expect(entries[0]!.reads.map((r) => (r.subject.kind === "document" ? r.subject.eventHash : ""))).toEqual([1, 2, 3, 4, 5].map(hashOf));
  });

  it("names only what was allowed and not the owner's own, one entry per owner; an answer that handed out nothing logs nothing", async () => {
    const grant = vi.fn(async () => ({ owner: 1n, purpose: "0x" + "22".repeat(32) }));
    const recorder = new AccessRecorder(log, { grant } as unknown as ConstructorParameters<typeof AccessRecorder>[1]);
    const allowed = { allowed: true as const, via: "grant" as const, scopeKey: "0x" + "ab".repeat(32), kind: ScopeKind.Item };
    const doc = (n: number) => ({ kind: "document" as const, eventHash: hashOf(n) });
    await recorder.recordAll(2, "gateway", [
      { owner: 1, subject: doc(1), decision: allowed },
      { owner: 1, subject: doc(2), decision: { allowed: false } },
      { owner: 2, subject: doc(3), decision: { allowed: true, via: "owner" } },
      { owner: 5, subject: doc(4), decision: { allowed: true, via: "rule", rule: RegulatorScope.RecallEvents } },
      { owner: 1, subject: doc(5), decision: allowed },
    ]);
    await recorder.recordAll(2, "gateway", [{ owner: 1, subject: doc(6), decision: { allowed: false } }]);
    const entries = await log.entries();
    expect(entries.map((e) => [e.owner, e.reads.map((r) => (r.subject.kind === "document" ? r.subject.eventHash : ""))])).toEqual([
      [1, [hashOf(1), hashOf(5)]],
      [5, [hashOf(4)]],
    ]);
  });

  it("finds an altered entry, an altered or dropped read inside one, a removed entry, an inserted one and a cut tail", async () => {
    for (let i = 0; i < 5; i++) await log.append(answer(2, i, i + 10));
    const third = (await log.db.get(key(3))) as StoredEntry;
    await log.db.put(key(3), { ...third, reader: 7 });
    expect(await log.verify()).toEqual({ ok: false, seq: 3, problem: "entry 3 was altered" });
    // A read inside the entry: another document, or one of the two left out.
    await log.db.put(key(3), { ...third, reads: [third.reads[0], { ...third.reads[1]!, subject: { kind: "document", eventHash: hashOf(99) } }] });
    expect(await log.verify()).toEqual({ ok: false, seq: 3, problem: "entry 3 was altered" });
    await log.db.put(key(3), { ...third, reads: [third.reads[0]] });
    expect(await log.verify()).toEqual({ ok: false, seq: 3, problem: "entry 3 was altered" });
    // What allowed them (kept once for both), or which reason a read points at.
    await log.db.put(key(3), { ...third, why: [{ ...third.why[0]!, purpose: null }] });
    expect(await log.verify()).toEqual({ ok: false, seq: 3, problem: "entry 3 was altered" });
    await log.db.put(key(3), { ...third, why: [...third.why, { allowedBy: "owner", purpose: null }], reads: [third.reads[0], { ...third.reads[1]!, why: 1 }] });
    expect(await log.verify()).toEqual({ ok: false, seq: 3, problem: "entry 3 was altered" });
    await log.db.put(key(3), { ...third, reads: [third.reads[0], { ...third.reads[1]!, why: 5 }] });
    expect(await log.verify()).toEqual({ ok: false, seq: 3, problem: "entry 3 was altered" });
    await log.db.put(key(3), { ...third, reads: [{ ...third.reads[0]!, subject: undefined }, third.reads[1]] });
    expect(await log.verify()).toEqual({ ok: false, seq: 3, problem: "entry 3 was altered" });
    // Passing a format-2 entry off as format 1 (its hash is checked the other way) does not help.
    await log.db.put(key(3), { ...third, v: undefined });
    expect(await log.verify()).toEqual({ ok: false, seq: 3, problem: "entry 3 was altered" });
    await log.db.put(key(3), third);
    expect((await log.verify()).ok).toBe(true);

    // Re-hashing a forged entry does not help: the next one no longer follows it.
    const [shown] = await log.entries({ after: 2, limit: 1 });
    const { hash: _hash, v: _v, ...body } = { ...shown!, reads: [shown!.reads[0]!] };
    await log.db.put(key(3), JSON.parse(storedText({ ...body, hash: entryHash(body) })) as StoredEntry);
    expect(await log.verify()).toEqual({ ok: false, seq: 4, problem: "entry 4 does not follow entry 3" });
    await log.db.put(key(3), third);

    await log.db.del(key(2));
    expect(await log.verify()).toMatchObject({ ok: false, seq: 2, problem: expect.stringMatching(/entry 2 is missing/) });
    await log.db.put(key(2), (await log.db.get(key(1))) as object); // not entry 2: entry 1 put back at 2
    expect((await log.verify()).ok).toBe(false);
  });

  it("a tail cut off on disk no longer matches the head", async () => {
    for (let i = 0; i < 3; i++) await log.append(answer(2, i));
    await log.db.del(key(3));
    expect(await log.verify()).toEqual({ ok: false, seq: 2, problem: "the log ends at entry 2, but its head says 3" });
  });

  describe("a log begun in format 1 (one read per entry)", () => {
    /** Writes entries as the log did before format 2: each one read, hashed by entryHashV1. */
    const writeV1 = async (count: number): Promise<AccessLogEntryV1[]> => {
      let prev = "0".repeat(64);
      const out: AccessLogEntryV1[] = [];
      for (let seq = 1; seq <= count; seq++) {
        const body = { reader: 2, owner: 1, channel: "gateway" as const, ...docRead(seq), seq, time: "2026-12-01T08:00:00.000Z", prev };
        const entry = { ...body, hash: entryHashV1(body) };
        await log.db.put(key(seq), entry);
        out.push(entry);
        prev = entry.hash;
      }
      await log.db.put("head", { seq: count, hash: prev });
      return out;
    };

    it("verifies as written, is shown in the one shape with v 1, is found by event, and goes on in format 2", async () => {
      const old = await writeV1(3);
      expect(await log.verify()).toEqual({ ok: true, head: { seq: 3, hash: old[2]!.hash }, entries: 3 });
      const [first] = await log.entries();
      expect(first).toEqual({ v: 1, seq: 1, time: old[0]!.time, reader: 2, owner: 1, channel: "gateway", reads: [docRead(1)], prev: "0".repeat(64), hash: old[0]!.hash });
      expect((await log.entries({ event: hashOf(2) })).map((e) => e.seq)).toEqual([2]);
      // Reopened, the log goes on after the old entries, chained to the last of them.
      await log.close();
      log = await AccessLog.open(dir, { clock: () => Date.parse("2026-12-05T12:00:00Z") });
      const next = await log.append(answer(2, 4, 5));
      expect(next).toMatchObject({ v: 2, seq: 4, prev: old[2]!.hash });
      expect(await log.verify()).toMatchObject({ ok: true, entries: 4 });
    });

    it("finds an old entry altered, or re-hashed as format 2", async () => {
      const old = await writeV1(3);
      await log.db.put(key(2), { ...old[1]!, purpose: null });
      expect(await log.verify()).toEqual({ ok: false, seq: 2, problem: "entry 2 was altered" });
      await log.db.put(key(2), { ...old[1]!, subject: { kind: "document", eventHash: hashOf(42) } });
      expect(await log.verify()).toEqual({ ok: false, seq: 2, problem: "entry 2 was altered" });
      await log.db.put(key(2), { ...old[1]!, v: 2 });
      expect(await log.verify()).toEqual({ ok: false, seq: 2, problem: "entry 2 was altered" });
      await log.db.put(key(2), old[1]!);
      expect((await log.verify()).ok).toBe(true);
    });
  });
});
