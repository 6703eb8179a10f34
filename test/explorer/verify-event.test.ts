/**
 * The explorer's per-event badge logic (explorer/src/verify-event.ts) against a real chain: a
 * document whose CBV 2.0 hash is on chain is verified, a changed copy of it is altered (whatever
 * the gateway claims), an unrecorded one is not yet anchored, a withheld one stays a public fact,
 * and an unreachable chain is an error, never a verdict. Also the plain-words rendering and the
 * chart's gap detection.
 */
import { JsonRpcProvider, id } from "ethers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Provenance__factory } from "../../lib/contracts/types/index.ts";
import { eventHash } from "../../lib/epcis/event-hash.ts";
import { itemKey } from "../../lib/identifiers/canonical.ts";
import { chartData, localeDateFormat } from "../../explorer/src/chart-data.ts";
import { describeEvent } from "../../explorer/src/describe-event.ts";
import { translator } from "../../explorer/src/messages.ts";
import { computeEventDigest, verifyEntry } from "../../explorer/src/verify-event.ts";
import { type TestChain, startTestChain } from "../helpers/gateway.ts";

const EPC = "urn:epc:id:sgtin:9520123.045678.BAR-001";
const commissioning = {
  "@context": ["https://ref.gs1.org/standards/epcis/epcis-context.jsonld"],
  type: "ObjectEvent",
  eventTime: "2026-11-02T08:15:00.000+01:00",
  eventTimeZoneOffset: "+01:00",
  epcList: [EPC],
  action: "ADD",
  bizStep: "commissioning",
  disposition: "active",
  readPoint: { id: "urn:epc:id:sgln:9520123.00001.furnace-2" },
  bizLocation: { id: "urn:epc:id:sgln:9520123.00001.0" },
};

describe("event badges against a real chain", () => {
  let chain: TestChain;
  let recordId: bigint;

  beforeAll(async () => {
    chain = await startTestChain();
    const steel = chain.orgs.steel.contracts.provenance;
    const digest = eventHash(commissioning, { context: commissioning["@context"] }).digest;
    await (await steel.commission(itemKey(EPC), id("https://ref.gs1.org/cbv/Disp-active"), digest)).wait();
    recordId = await steel.recordOfEvent(digest);
    expect(recordId).toBeGreaterThan(0n);
  });
  afterAll(async () => {
    await chain?.stop();
  });

  const reader = () => Provenance__factory.connect(chain.deployment.contracts.provenance, chain.provider);

  it("verifies the document whose hash the chain holds", async () => {
    const badge = await verifyEntry({ kind: "Commission", recordId: recordId.toString(), document: commissioning }, reader());
    expect(badge).toMatchObject({ state: "verified", recordId, computed: computeEventDigest(commissioning) });
  });

  it("verifies against the record of the organisation the entry names, not another's earlier record of the same hash", async () => {
    const second = { ...commissioning, epcList: ["urn:epc:id:sgtin:9520123.045678.BAR-002"] };
    const digest = computeEventDigest(second);
    // The OEM records the steel mill's hash first, through a change on its own goods.
    await (await chain.orgs.oem.contracts.provenance.commission(itemKey("urn:epc:id:sgtin:4012345.011111.SQUAT"), id("https://ref.gs1.org/cbv/Disp-active"), digest)).wait();
    const steel = chain.orgs.steel.contracts.provenance;
    await (await steel.commission(itemKey("urn:epc:id:sgtin:9520123.045678.BAR-002"), id("https://ref.gs1.org/cbv/Disp-active"), digest)).wait();
    const steelRecord = await steel.recordOfEventBy(digest, chain.orgs.steel.id);
    expect(steelRecord).not.toBe(await steel.recordOfEvent(digest));
    const badge = await verifyEntry({ kind: "Commission", org: { id: chain.orgs.steel.id, name: "steel" }, recordId: steelRecord.toString(), document: second }, reader());
    expect(badge).toMatchObject({ state: "verified", recordId: steelRecord });
  });

  it("marks a changed copy as altered, even when the gateway vouches for the changed hash", async () => {
    const changed = { ...commissioning, disposition: "conformant" };
    const badge = await verifyEntry({ kind: "Commission", recordId: Number(recordId), eventHash: computeEventDigest(changed), document: changed }, reader());
    expect(badge).toMatchObject({ state: "altered", onChain: computeEventDigest(commissioning) });
  });

  it("calls an unrecorded document not yet anchored", async () => {
    const later = { ...commissioning, eventTime: "2026-11-03T08:15:00.000+01:00" };
    expect(await verifyEntry({ kind: "Commission", document: later }, reader())).toMatchObject({ state: "pending" });
    // A record id that does not exist does not make it altered either.
    expect(await verifyEntry({ kind: "Commission", recordId: "999", document: later }, reader())).toMatchObject({ state: "pending" });
  });

  it("keeps a withheld document a public fact, with the on-chain hash", async () => {
    expect(await verifyEntry({ kind: "Commission", recordId: recordId.toString(), document: null }, reader())).toEqual({
      state: "withheld",
      onChain: computeEventDigest(commissioning),
    });
  });

  it("reports an unreachable chain as an error, not a verdict", async () => {
    const dead = new JsonRpcProvider("http://127.0.0.1:9", 31337, { staticNetwork: true });
    const badge = await verifyEntry({ kind: "Commission", recordId: "1", document: commissioning }, Provenance__factory.connect(chain.deployment.contracts.provenance, dead));
    dead.destroy();
    expect(badge.state).toBe("error");
  });

  it("reports a document that is not an EPCIS event as an error", async () => {
    expect((await verifyEntry({ kind: "Commission", recordId: "1", document: { type: 42 } as never }, reader())).state).toBe("error");
  });
});

describe("events in plain words", () => {
  const fmt = (v: string) => v;
  it("says who did what, where, when and why in English and Chinese", () => {
    const en = describeEvent(commissioning, translator("en"), "en", fmt);
    expect(en.what).toBe("GTIN 09520123456788 · S/N BAR-001 created");
    expect(en.why).toEqual(["Step: commissioning", "Condition afterwards: active"]);
    expect(en.where[0]).toBe("at GLN 9520123000011 · furnace-2");
    expect(en.when).toBe("2026-11-02T08:15:00.000+01:00 (local time of the site: UTC+01:00)");
    const zh = describeEvent(commissioning, translator("zh"), "zh", fmt);
    expect(zh.what).toBe("创建了 GTIN 09520123456788 · 序列号 BAR-001");
    expect(zh.why).toEqual(["工序：赋码启用", "之后的状态：有效"]);
  });

  it("describes a transformation by its inputs and outputs", () => {
    const words = describeEvent(
      { type: "TransformationEvent", inputEPCList: [EPC], outputEPCList: ["urn:epc:id:sgtin:9520123.045679.CAST-7"], bizStep: "https://ref.gs1.org/cbv/BizStep-transforming" },
      translator("en"),
      "en",
      fmt,
    );
    expect(words.what).toBe("GTIN 09520123456788 · S/N BAR-001 transformed into GTIN 09520123456795 · S/N CAST-7");
    expect(words.why).toEqual(["Step: transforming"]);
  });
});

describe("process-data chart", () => {
  it("breaks the line and marks a band where sequence numbers skip, and separates failed readings", () => {
    const d = chartData([
      { seq: 1, time: 1000, value: 10, ok: true },
      { seq: 2, time: 2000, value: 11, ok: false },
      { seq: 5, time: 5000, value: 12, ok: true },
    ]);
    expect(d.gaps).toEqual([{ from: 2, to: 5 }]);
    expect(d.verified).toEqual([10, null, null, 12]);
    expect(d.failed).toEqual([null, 11, null, null]);
    expect(d.xs).toEqual([1, 2, 3.5, 5]);
  });

  it("plots in source-time order: a store-and-forward backlog sequenced after newer readings does not draw backwards", () => {
    // Seqs 3 and 4 arrived late (historical), measured before seq 2; seq 6 is missing.
    const d = chartData([
      { seq: 1, time: 1000, value: 10, ok: true },
      { seq: 2, time: 4000, value: 13, ok: true },
      { seq: 3, time: 2000, value: 11, ok: true },
      { seq: 4, time: 3000, value: 12, ok: true },
      { seq: 5, time: 5000, value: 14, ok: true },
      { seq: 7, time: 7000, value: 16, ok: true },
    ]);
    expect(d.xs).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(d.verified).toEqual([10, 11, 12, 13, 14, null, 16]);
    expect(d.gaps).toEqual([{ from: 5, to: 7 }]);
  });

  it("formats the time axis in the page's locale: 24-hour clock and Chinese dates in zh, never uplot's US am/pm", () => {
    const at = new Date(2026, 11, 6, 15, 4, 5); // local time, as uplot hands it over
    const zh = localeDateFormat("zh-CN");
    const en = localeDateFormat("en-GB");
    expect(zh("{h}:{mm}{aa}")(at)).toBe("15:04");
    expect(zh("{M}/{D}")(at)).toBe("12月6日");
    expect(zh("{h}:{mm}{aa}\n{M}/{D}/{YY}")(at)).toBe("15:04\n2026年12月6日");
    expect(en("{h}:{mm}:{ss}{aa}")(at)).toBe("15:04:05");
    expect(en("{M}/{D}")(at)).toBe("6 Dec");
    expect(en("--")(at)).toBe("--");
  });
});
