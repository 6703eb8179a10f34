/**
 * The CBV 2.1 event hash ID, computed as an alias of the CBV 2.0 one (lib/epcis/event-hash.ts,
 * `cbvVersion: "CBV2.1"`). Oracle: the worked examples of GS1's reference implementation
 * (RalphTro/epcis-event-hash-generator, README "Worked examples"), whose JSON-LD documents are the
 * ReferenceEventHashAlgorithm*.jsonld fixtures: each example's CBV 2.1 hash below is quoted from it.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { cbv21HashIdOf, digestOfHashId, documentEventList, eventHash, eventPreHash } from "../../../lib/epcis/event-hash.ts";
import { EPCIS_FIXTURES } from "../../helpers/events-gateway.ts";

const example = (name: string) => {
  const doc = JSON.parse(readFileSync(path.join(EPCIS_FIXTURES, "event-hash/examples", `${name}.jsonld`), "utf8")) as Record<string, unknown>;
  return { event: documentEventList(doc)[0] as Record<string, unknown>, context: doc["@context"] };
};

const REFERENCE_CBV21: [string, string][] = [
  // Event-level extensions only: the same digest as CBV 2.0.
  ["ReferenceEventHashAlgorithm", "ni:///sha-256;6ae96341e0acc6d7a261364751f60e68278a81cdf51da0abb6b4e617014e39d7?ver=CBV2.1"],
  // Sensor data: GS1 Web Vocabulary under ref.gs1.org.
  ["ReferenceEventHashAlgorithm2", "ni:///sha-256;f6bf8e2fb50f26f5baba52f722211eefdb0f427a3903c61ab015db6d1f93c3da?ver=CBV2.1"],
  // Business transactions, source and destination in property order; an extension inside readPoint.
  ["ReferenceEventHashAlgorithm3", "ni:///sha-256;e9273954ba78387caf181fe74038871990dbc97568d068123d0a8774b843e383?ver=CBV2.1"],
];

describe("CBV 2.1 event hash IDs", () => {
  it.each(REFERENCE_CBV21)("%s matches the reference's CBV 2.1 hash", (name, hashId) => {
    const { event, context } = example(name);
    expect(eventHash(event, { context, cbvVersion: "CBV2.1" }).hashId).toBe(hashId);
    expect(cbv21HashIdOf(event, { context })).toBe(hashId);
  });

  it("leaves the CBV 2.0 hash (the identity on chain) as it was", () => {
    const { event, context } = example("ReferenceEventHashAlgorithm3");
    expect(eventHash(event, { context }).hashId).toBe("ni:///sha-256;a13cbe6c8bb6df3710b3edaeff760a1365ec8fd69ca1f4d7e0c10eb5189a883a?ver=CBV2.0");
  });

  it("puts bizTransactionList, sourceList, destinationList in property order, epcList before parentID, and leaves certificationInfo out", () => {
    const { event, context } = example("ReferenceEventHashAlgorithm3");
    const pre = eventPreHash(event, { context, cbvVersion: "CBV2.1" });
    expect(pre.indexOf("sourceList")).toBeLessThan(pre.indexOf("destinationList"));
    const agg = { type: "AggregationEvent", eventTime: "2024-01-01T00:00:00Z", eventTimeZoneOffset: "+00:00", action: "ADD", parentID: "urn:epc:id:sscc:4012345.0000000111", childEPCs: ["urn:epc:id:sgtin:4012345.011111.1"], epcList: ["urn:epc:id:sgtin:4012345.011111.2"] };
    const v21 = eventPreHash(agg, { cbvVersion: "CBV2.1" });
    expect(v21.indexOf("epcList")).toBeLessThan(v21.indexOf("parentID"));
    const v20 = eventPreHash(agg);
    expect(v20.indexOf("parentID")).toBeLessThan(v20.indexOf("epcList"));
    const certified = { ...agg, certificationInfo: "https://cert.example.com/1" };
    expect(eventPreHash(certified, { cbvVersion: "CBV2.1" })).toBe(v21);
    expect(eventPreHash(certified)).not.toBe(v20);
  });

  it("is an alias only: the chain's digest is never read from a CBV 2.1 ID", () => {
    const { event, context } = example("ReferenceEventHashAlgorithm2");
    expect(() => digestOfHashId(eventHash(event, { context, cbvVersion: "CBV2.1" }).hashId)).toThrow(/computed with CBV2.1/);
    expect(cbv21HashIdOf({ type: 7 })).toBeUndefined();
  });
});
