import { globSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { keccak256, toUtf8Bytes } from "ethers";
import { describe, expect, it } from "vitest";
import { batchKey, itemKey } from "../../../lib/identifiers/canonical.ts";
import { cbvTerm, cbvUri, expandBareTerm, sameCbvValue } from "../../../lib/epcis/cbv.ts";
import { documentEventHashes } from "../../../lib/epcis/event-hash.ts";
import {
  ACTIVE,
  EpcisEventError,
  type EpcisEvent,
  type ProvenanceAction,
  type ProvenanceMapping,
  bizStepOf,
  dispositionKey,
  dispositionOf,
  eventsOf,
  provenanceActionsOf,
  toEpcisEvent,
} from "../../../lib/epcis/events.ts";

const FIXTURES = new URL("../../../../shared/fixtures/epcis/", import.meta.url);

describe("CBV vocabulary spellings", () => {
  it("reads short names, URNs, compact and full URIs as one value", () => {
    const uri = "https://ref.gs1.org/cbv/BizStep-shipping";
    for (const s of ["shipping", " shipping ", "urn:epcglobal:cbv:bizstep:shipping", "cbv:BizStep-shipping", uri]) expect(cbvUri("bizStep", s), s).toBe(uri);
    expect(sameCbvValue("disposition", "in_transit", "urn:epcglobal:cbv:disp:in_transit")).toBe(true);
    expect(sameCbvValue("disposition", "in_transit", "in_progress")).toBe(false);
    expect(cbvUri("bizTransactionType", "urn:epcglobal:cbv:btt:po")).toBe("https://ref.gs1.org/cbv/BTT-po");
    expect(cbvUri("sourceDestType", "owning_party")).toBe("https://ref.gs1.org/cbv/SDT-owning_party");
    expect(cbvUri("errorReason", "urn:epcglobal:cbv:er:incorrect_data")).toBe("https://ref.gs1.org/cbv/ER-incorrect_data");
    expect(cbvUri("measurementType", "gs1:Temperature")).toBe("https://gs1.org/voc/Temperature");
    expect(cbvUri("component", "latitude")).toBe("https://ref.gs1.org/cbv/Comp-latitude");
  });

  it("passes private vocabulary through and knows the standard terms", () => {
    const own = "http://epcis.example.org/hc/bizstep/summarising_discharge";
    expect(cbvUri("bizStep", own)).toBe(own);
    expect(cbvTerm("bizStep", own)).toBeUndefined();
    expect(cbvTerm("bizStep", "urn:epcglobal:cbv:bizstep:receiving")).toBe("receiving");
    expect(cbvTerm("disposition", "https://ref.gs1.org/cbv/Disp-")).toBeUndefined();
    expect(expandBareTerm("bizStep", "recalling")).toBeUndefined(); // not a CBV 2.0 step
    expect(expandBareTerm("disposition", "recalled")).toBe("https://ref.gs1.org/cbv/Disp-recalled");
  });

  it("keys dispositions as Provenance does: keccak256 of the CBV Web URI", () => {
    expect(dispositionKey("active")).toBe(keccak256(toUtf8Bytes("https://ref.gs1.org/cbv/Disp-active")));
    expect(dispositionKey("urn:epcglobal:cbv:disp:active")).toBe(dispositionKey(ACTIVE));
  });
});

describe("typed events", () => {
  it("reads every GS1 example event", () => {
    const files = globSync(fileURLToPath(new URL("JSON/**/*.jsonld", FIXTURES)));
    const all = files.flatMap((f) => eventsOf(JSON.parse(readFileSync(f, "utf8"))));
    expect(all).toHaveLength(56);
    const types = new Map<string, number>();
    for (const e of all) types.set(e.type, (types.get(e.type) ?? 0) + 1);
    expect(Object.fromEntries(types)).toEqual({ ObjectEvent: 32, AggregationEvent: 4, AssociationEvent: 10, TransactionEvent: 4, TransformationEvent: 6 });
    for (const e of all) {
      expect(e.eventTime).toMatch(/^\d{4}-\d{2}-\d{2}T/);
      if (e.bizStep !== undefined && !e.bizStep.startsWith("http://epcis.example.org/")) expect(e.bizStep).toMatch(/^https:\/\/ref\.gs1\.org\/cbv\/BizStep-[a-z_]+$/);
      if (e.disposition !== undefined) expect(e.disposition).toMatch(/^https:\/\/ref\.gs1\.org\/cbv\/Disp-[a-z_]+$/);
      // Standard types read as CBV Web URIs; private ones (e.g. urn:gs1:epcisapp:rail:btt:passage) as given.
      for (const r of [...e.bizTransactionList, ...e.sourceList, ...e.destinationList])
        if (r.type !== undefined) expect(r.type).toMatch(/^https:\/\/ref\.gs1\.org\/cbv\/(BTT|SDT)-[a-z_]+$|^(?!https:\/\/ref\.gs1\.org)[a-z]+:/);
    }
  });

  it("models each event type's own fields", () => {
    const doc = JSON.parse(readFileSync(new URL("JSON/WithFullCombinationOfFields/transformation_event_all_possible_fields.jsonld", FIXTURES), "utf8"));
    const t = eventsOf(doc)[0]!;
    expect(t.type).toBe("TransformationEvent");
    if (t.type !== "TransformationEvent") return;
    expect(t.inputEPCList.length).toBeGreaterThan(0);
    expect(t.outputQuantityList[0]).toEqual(expect.objectContaining({ epcClass: expect.any(String) }));
    expect(t.errorDeclaration?.reason).toBe("https://ref.gs1.org/cbv/ER-incorrect_data");
    expect(t.errorDeclaration?.correctiveEventIDs.length).toBeGreaterThan(0);
    const agg = eventsOf(JSON.parse(readFileSync(new URL("JSON/Example_9.6.3-AggregationEvent.jsonld", FIXTURES), "utf8")))[0]!;
    expect(agg.type === "AggregationEvent" && agg.parentID).toBe("urn:epc:id:sscc:0614141.1234567890");
    expect(bizStepOf(agg)).toBe("receiving");
    expect(dispositionOf(agg)).toBe("in_progress");
    expect(agg.readPoint).toBe("urn:epc:id:sgln:0614141.00777.0");
  });

  it("refuses what is not one of the five event types", () => {
    expect(() => toEpcisEvent({ type: "FooEvent", eventTime: "x", eventTimeZoneOffset: "+00:00" }, 3)).toThrow(
      'event 3 has type "FooEvent"; expected one of ObjectEvent, AggregationEvent, TransactionEvent, TransformationEvent, AssociationEvent',
    );
    expect(() => toEpcisEvent({ type: "ObjectEvent", eventTime: "2024-01-01T00:00:00Z", eventTimeZoneOffset: "+00:00", action: "MOVE" })).toThrow(
      'ObjectEvent needs "action" ADD, OBSERVE or DELETE (got "MOVE")',
    );
    expect(() => toEpcisEvent({ type: "ObjectEvent", action: "ADD" })).toThrow(EpcisEventError);
    expect(() => toEpcisEvent("x")).toThrow("event 0 is not a JSON object");
  });
});

/** What every GS1 example event maps to (op, or "-" when it records nothing). */
const EXPECTED: Record<string, string[]> = {
  "AssociationEvent/AssociationEvent-a.jsonld": ["-"],
  "AssociationEvent/AssociationEvent-b.jsonld": ["-"],
  "AssociationEvent/AssociationEvent-c.jsonld": ["-"],
  "AssociationEvent/AssociationEvent-d.jsonld": ["-"],
  "AssociationEvent/AssociationEvent-e.jsonld": ["-"],
  "AssociationEvent/AssociationEvent-f.jsonld": ["-"],
  "AssociationEvent/AssociationEvent-g.jsonld": ["correct"],
  "AssociationEvent/AssociationEvent-h.jsonld": ["-"],
  "EPCISQueryDocument.jsonld": ["ship", "receive"],
  "Example-TransactionEvents-2020_07_03y.jsonld": ["-", "setDisposition"],
  "Example-Type-sourceOrDestination,measurement,bizTransaction.jsonld": ["-"],
  "Example_9.6.1-ObjectEvent-with-pseudo-SBDH-headers.jsonld": ["ship", "receive"],
  "Example_9.6.1-ObjectEvent.jsonld": ["ship", "receive"],
  "Example_9.6.1-with-comment.jsonld": ["ship", "receive"],
  "Example_9.6.2-ObjectEvent.jsonld": ["receiveLot"],
  "Example_9.6.3-AggregationEvent.jsonld": ["receive"],
  "Example_9.6.4-TransformationEvent.jsonld": ["transform"],
  "PersistentDisposition-example.jsonld": ["receive", "inspect"],
  "WithDigitalLinkID/Example_9.6.1-ObjectEventWithDigitalLink.jsonld": ["ship", "receive"],
  "WithDigitalLinkID/Example_9.6.2-ObjectEventWithDigitalLink.jsonld": ["receiveLot"],
  "WithDigitalLinkID/Example_9.6.3-AggregationEventWithDigitalLink.jsonld": ["receive"],
  "WithDigitalLinkID/Example_9.6.4-TransformationEventWithDigitalLink.jsonld": ["transform"],
  "WithErrorDeclaration/ErrorDeclarationAndCorrectiveEvent.jsonld": ["correct", "transform"],
  "WithErrorDeclaration/Example_9.6.1-ObjectEvent-with-error-declaration.jsonld": ["correct", "receive"],
  "WithFullCombinationOfFields/aggregation_event_all_possible_fields.jsonld": ["correct"],
  "WithFullCombinationOfFields/association_event_all_possible_fields.jsonld": ["correct"],
  "WithFullCombinationOfFields/object_event_all_possible_fields.jsonld": ["correct"],
  "WithFullCombinationOfFields/transaction_event_all_possible_fields.jsonld": ["correct"],
  "WithFullCombinationOfFields/transformation_event_all_possible_fields.jsonld": ["correct"],
  "WithSensorData/SensorDataExample1.jsonld": ["inspect"],
  "WithSensorData/SensorDataExample10.jsonld": ["-"],
  "WithSensorData/SensorDataExample11.jsonld": ["inspect"],
  "WithSensorData/SensorDataExample12.jsonld": ["-"],
  "WithSensorData/SensorDataExample13.jsonld": ["-"],
  "WithSensorData/SensorDataExample14.jsonld": ["-"],
  "WithSensorData/SensorDataExample15.jsonld": ["-"],
  "WithSensorData/SensorDataExample16.jsonld": ["-"],
  "WithSensorData/SensorDataExample17.jsonld": ["-"],
  "WithSensorData/SensorDataExample1b.jsonld": ["-"],
  "WithSensorData/SensorDataExample2.jsonld": ["inspect"],
  "WithSensorData/SensorDataExample3.jsonld": ["-"],
  "WithSensorData/SensorDataExample4.jsonld": ["-"],
  "WithSensorData/SensorDataExample5.jsonld": ["inspect"],
  "WithSensorData/SensorDataExample6.jsonld": ["inspect"],
  "WithSensorData/SensorDataExample7.jsonld": ["inspect"],
  "WithSensorData/SensorDataExample8.jsonld": ["-"],
  "WithSensorData/SensorDataExample9.jsonld": ["-"],
};

describe("Provenance mapping of every GS1 example event", () => {
  const files = globSync(fileURLToPath(new URL("JSON/**/*.jsonld", FIXTURES))).sort();
  it("covers all 47 documents", () => expect(Object.keys(EXPECTED).sort()).toEqual(files.map((f) => f.slice(f.indexOf("/JSON/") + 6))));

  for (const f of files) {
    const name = f.slice(f.indexOf("/JSON/") + 6);
    it(name, () => {
      const doc = JSON.parse(readFileSync(f, "utf8"));
      const hashes = documentEventHashes(doc);
      const maps = eventsOf(doc).map((e) => provenanceActionsOf(e, { context: doc["@context"] }));
      expect(maps.map((m) => (m.recorded ? m.action.op : "-"))).toEqual(EXPECTED[name]);
      maps.forEach((m, i) => {
        expect(m.eventHash).toBe(hashes[i]!.digest);
        if (!m.recorded) expect(m.reason.length).toBeGreaterThan(20);
        else checkKeys(m.action);
      });
    });
  }

  it("maps an error declaration to a correction of its own (unchanged) event hash", () => {
    const doc = JSON.parse(readFileSync(new URL("JSON/WithErrorDeclaration/Example_9.6.1-ObjectEvent-with-error-declaration.jsonld", FIXTURES), "utf8"));
    const original = JSON.parse(readFileSync(new URL("JSON/Example_9.6.1-ObjectEvent.jsonld", FIXTURES), "utf8"));
    const m = provenanceActionsOf(eventsOf(doc)[0]!, { context: doc["@context"] });
    expect(m.recorded && m.action.op).toBe("correct");
    if (!m.recorded || m.action.op !== "correct") return;
    // errorDeclaration is not hashed: the declaration names the record of the original event.
    expect(m.action.correctsEventHash).toBe(documentEventHashes(original)[0]!.digest);
    const hashIds = m.action.correctiveEventIDs.filter((id) => id.startsWith("ni:///sha-256;"));
    expect(hashIds.length).toBeGreaterThan(0);
    expect(m.action.correctiveEventHashes).toEqual(hashIds.map((id) => "0x" + id.slice(14, 78)));
  });
});

/** Every key in an action is keccak256 of the canonical identifier next to it. */
function checkKeys(a: ProvenanceAction) {
  const pairs: [readonly string[], readonly string[]][] = [];
  if ("identifiers" in a) pairs.push([a.identifiers, a.keys]);
  if (a.op === "transform") pairs.push([a.inputs.identifiers, a.inputs.keys], [a.outputs.identifiers, a.outputs.keys]);
  if (a.op === "assemble" || a.op === "disassemble") pairs.push([[a.parent.identifier], [a.parent.key]], [a.children.identifiers, a.children.keys]);
  for (const [ids, keys] of pairs) {
    expect(keys).toHaveLength(ids.length);
    ids.forEach((id, i) => expect(keys[i]).toBe(itemKey(id)));
  }
}

// ------------------------------------------------------------------------- synthetic events

const CONTEXT = ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld", { ex: "https://ns.example.com/" }];
const T = { eventTime: "2024-03-01T08:00:00.000+01:00", eventTimeZoneOffset: "+01:00" };
const B1 = "urn:epc:id:sgtin:4012345.011111.B1";
const B2 = "https://mill.example/01/04012345111118/21/B2";
const map = (e: Record<string, unknown>): ProvenanceMapping => provenanceActionsOf(e, { context: CONTEXT });
const action = (e: Record<string, unknown>): ProvenanceAction => {
  const m = map(e);
  if (!m.recorded) throw new Error(`not recorded: ${m.reason}`);
  return m.action;
};
const reason = (e: Record<string, unknown>): string => {
  const m = map(e);
  if (m.recorded) throw new Error(`recorded as ${m.action.op}`);
  return m.reason;
};
const obj = (extra: Record<string, unknown>): Record<string, unknown> => ({ type: "ObjectEvent", action: "OBSERVE", ...T, ...extra });

describe("mapping rules", () => {
  it("commission: items, default disposition active, a batch from the ILMD lot when the GTIN is shared", () => {
    const a = action(obj({ action: "ADD", bizStep: "commissioning", epcList: [B1, B2, B1], ilmd: { "cbvmda:lotNumber": "HEAT-42" } }));
    expect(a).toEqual({
      op: "commission",
      identifiers: ["https://id.gs1.org/01/04012345111118/21/B1", "https://id.gs1.org/01/04012345111118/21/B2"],
      keys: [itemKey(B1), itemKey(B2)],
      batch: { identifier: "https://id.gs1.org/01/04012345111118/10/HEAT-42", key: batchKey("urn:epc:class:lgtin:4012345.011111.HEAT-42") },
      disposition: ACTIVE,
      dispositionKey: dispositionKey("active"),
    });
    const mixed = action(obj({ action: "ADD", bizStep: "commissioning", epcList: [B1, "urn:epc:id:sgtin:4012345.022222.X"], ilmd: { "cbvmda:lotNumber": "L" }, disposition: "encoded" }));
    expect(mixed.op === "commission" && [mixed.batch, mixed.disposition]).toEqual([undefined, "https://ref.gs1.org/cbv/Disp-encoded"]);
    expect(reason(obj({ action: "ADD", bizStep: "commissioning" }))).toMatch(/^commissioning names neither items \(epcList\) nor a lot quantity/);
    expect(reason(obj({ action: "ADD", bizStep: "commissioning", epcList: [B1], ilmd: { "cbvmda:lotNumber": "bad lot" } }))).toMatch(/ILMD lot number "bad lot" is not a valid GS1 lot/);
  });

  it("ship: consignee parties, and ownership moves only to a different owner", () => {
    const dest = [
      { type: "owning_party", destination: "urn:epc:id:pgln:4000001.00000" },
      { type: "possessing_party", destination: "urn:epc:id:pgln:4000001.00000" },
      { type: "location", destination: "urn:epc:id:sgln:4000001.00001.0" },
    ];
    const a = action(obj({ bizStep: "shipping", epcList: [B1], sourceList: [{ type: "owning_party", source: "urn:epc:id:pgln:4012345.00000" }], destinationList: dest }));
    expect(a).toEqual({
      op: "ship",
      identifiers: ["https://id.gs1.org/01/04012345111118/21/B1"],
      keys: [itemKey(B1)],
      consignee: { owningParty: "https://id.gs1.org/417/4000001000005", possessingParty: "https://id.gs1.org/417/4000001000005", location: "https://id.gs1.org/414/4000001000012" },
      transferOwnership: true,
    });
    const keepOwner = action(obj({ bizStep: "departing", epcList: [B1], destinationList: [dest[1]] }));
    expect(keepOwner.op === "ship" && keepOwner.transferOwnership).toBe(false);
    const sameOwner = action(obj({ bizStep: "shipping", epcList: [B1], sourceList: [{ type: "owning_party", source: "https://x.example/417/4000001000005" }], destinationList: dest }));
    expect(sameOwner.op === "ship" && sameOwner.transferOwnership).toBe(false);
  });

  it("lots by quantity: commission, ship, receive and void one LGTIN quantity in its unit", () => {
    const L = "urn:epc:class:lgtin:4012345.011111.L";
    const batch = { identifier: "https://id.gs1.org/01/04012345111118/10/L", key: batchKey(L) };
    const q = (quantity?: number, uom?: string) => ({ quantityList: [{ epcClass: L, ...(quantity !== undefined ? { quantity } : {}), ...(uom ? { uom } : {}) }] });
    const mill = "urn:epc:id:pgln:4012345.00000";
    const foundry = "urn:epc:id:pgln:4000001.00000";
    expect(action(obj({ action: "ADD", bizStep: "commissioning", ...q(5) }))).toEqual({
      op: "commissionLot",
      batch,
      quantity: 5n,
      unit: "",
      disposition: ACTIVE,
      dispositionKey: dispositionKey("active"),
    });
    expect(action(obj({ bizStep: "shipping", ...q(40, "KGM"), destinationList: [{ type: "possessing_party", destination: foundry }] }))).toEqual({
      op: "shipLot",
      batch,
      quantity: 40n,
      unit: "KGM",
      consignee: { possessingParty: "https://id.gs1.org/417/4000001000005" },
    });
    expect(action(obj({ bizStep: "arriving", ...q(38, "KGM"), sourceList: [{ type: "owning_party", source: mill }] }))).toEqual({
      op: "receiveLot",
      batch,
      quantity: 38n,
      unit: "KGM",
      sender: { owningParty: "https://id.gs1.org/417/4012345000009" },
    });
    expect(action(obj({ bizStep: "void_shipping", ...q(2, "KGM"), destinationList: [{ type: "possessing_party", destination: foundry }] })).op).toBe("cancelLotShipment");
    // Items named beside quantities: the items are shipped, as before.
    expect(action(obj({ bizStep: "shipping", epcList: [B1], ...q(1), destinationList: [{ type: "possessing_party", destination: foundry }] })).op).toBe("ship");
    expect(reason(obj({ bizStep: "shipping", ...q() }))).toMatch(/the quantity of https:\/\/id\.gs1\.org\/01\/04012345111118\/10\/L is missing/);
    expect(reason(obj({ bizStep: "shipping", ...q(0) }))).toMatch(/quantity 0 .* is not a whole positive number/);
    expect(reason(obj({ bizStep: "shipping", ...q(-3) }))).toMatch(/quantity -3 .* is not a whole positive number/);
    expect(reason(obj({ bizStep: "shipping", ...q(1.5, "KGM") }))).toMatch(/state fractions in a smaller unit/);
    expect(reason(obj({ bizStep: "shipping", ...q(1, "kilo") }))).toMatch(/uom "kilo" is not a UN\/ECE Rec 20 code/);
    expect(reason(obj({ bizStep: "receiving", quantityList: [{ epcClass: L, quantity: 1 }, { epcClass: L, quantity: 2 }] }))).toMatch(/names 2 quantities; Provenance records one lot quantity per event/);
    expect(reason(obj({ action: "ADD", bizStep: "commissioning", quantityList: [{ epcClass: "urn:epc:idpat:sgtin:4012345.011111.*", quantity: 3 }] }))).toMatch(
      /quantity class "urn:epc:idpat:sgtin:4012345.011111.\*" is not a lot \(LGTIN\)/,
    );
  });

  it("receive, inspect, setDisposition, and nothing for a step with no state", () => {
    expect(action(obj({ bizStep: "arriving", epcList: [B2] })).op).toBe("receive");
    expect(action(obj({ action: "ADD", bizStep: "urn:epcglobal:cbv:bizstep:receiving", epcList: [B2] })).op).toBe("receive");
    const failed = action(obj({ bizStep: "inspecting", epcList: [B1], disposition: "non_conformant" }));
    expect(failed.op === "inspect" && failed.passed).toBe(false);
    const passed = action(obj({ bizStep: "inspecting", epcList: [B1], disposition: "conformant" }));
    expect(passed.op === "inspect" && passed.passed).toBe(true);
    const noVerdict = action(obj({ bizStep: "inspecting", epcList: [B1] }));
    expect(noVerdict.op === "inspect" && noVerdict.passed).toBe(true);
    expect(action(obj({ bizStep: "storing", epcList: [B1], disposition: "sellable_accessible" }))).toEqual({
      op: "setDisposition",
      identifiers: ["https://id.gs1.org/01/04012345111118/21/B1"],
      keys: [itemKey(B1)],
      disposition: "https://ref.gs1.org/cbv/Disp-sellable_accessible",
      dispositionKey: dispositionKey("sellable_accessible"),
    });
    expect(reason(obj({ bizStep: "sensor_reporting", epcList: [B1] }))).toBe(
      'ObjectEvent with bizStep "https://ref.gs1.org/cbv/BizStep-sensor_reporting" and no disposition changes nothing Provenance records',
    );
    expect(reason(obj({ epcList: [B1] }))).toMatch(/bizStep \(none\)/);
  });

  it("recall: items, one lot, or refused when ambiguous", () => {
    expect(action(obj({ bizStep: "urn:example:recalling", epcList: [B1], disposition: "recalled" })).op).toBe("recall");
    expect(action(obj({ bizStep: "https://ref.gs1.org/cbv/BizStep-recalling", epcList: [B1] })).op).toBe("recall");
    expect(action(obj({ epcList: [B1], persistentDisposition: { set: ["recalled"] } })).op).toBe("recall");
    expect(action(obj({ disposition: "recalled", quantityList: [{ epcClass: "urn:epc:class:lgtin:4012345.011111.HEAT-42" }] }))).toEqual({
      op: "recallBatch",
      batch: { identifier: "https://id.gs1.org/01/04012345111118/10/HEAT-42", key: batchKey("https://id.gs1.org/01/04012345111118/10/HEAT-42") },
    });
    expect(
      reason(obj({ disposition: "recalled", quantityList: [{ epcClass: "urn:epc:class:lgtin:4012345.011111.A" }, { epcClass: "urn:epc:class:lgtin:4012345.011111.B" }] })),
    ).toBe("recall event names 2 lots; Provenance.recallBatch takes one lot per event");
    expect(reason(obj({ disposition: "recalled", quantityList: [{ epcClass: "urn:epc:idpat:sgtin:4012345.011111.*" }] }))).toBe(
      "recall event names no items and no lot (LGTIN)",
    );
  });

  it("transform, assemble, disassemble", () => {
    const t = action({ type: "TransformationEvent", ...T, inputEPCList: [B1, B2], outputEPCList: ["urn:epc:id:sgtin:4000001.022222.C1"], ilmd: { "cbvmda:lotNumber": "CAST-7" }, bizStep: "commissioning" });
    expect(t).toEqual(
      expect.objectContaining({
        op: "transform",
        inputs: { identifiers: ["https://id.gs1.org/01/04012345111118/21/B1", "https://id.gs1.org/01/04012345111118/21/B2"], keys: [itemKey(B1), itemKey(B2)] },
        outputBatch: { identifier: "https://id.gs1.org/01/04000001222223/10/CAST-7", key: batchKey("urn:epc:class:lgtin:4000001.022222.CAST-7") },
        disposition: ACTIVE,
      }),
    );
    expect(reason({ type: "TransformationEvent", ...T, inputQuantityList: [{ epcClass: "urn:epc:class:lgtin:4012345.011111.L", quantity: 3 }], outputEPCList: [B1] })).toMatch(
      /^transformation without individually identified inputs and outputs/,
    );
    const agg = { type: "AggregationEvent", ...T, parentID: "urn:epc:id:sscc:4000001.0000000001", childEPCs: [B1] };
    expect(action({ ...agg, action: "ADD" })).toEqual({
      op: "assemble",
      parent: { identifier: "https://id.gs1.org/00/040000010000000012", key: itemKey("urn:epc:id:sscc:4000001.0000000001") },
      children: { identifiers: ["https://id.gs1.org/01/04012345111118/21/B1"], keys: [itemKey(B1)] },
    });
    const all = action({ ...agg, action: "DELETE", childEPCs: [] });
    expect(all.op === "disassemble" && [all.allChildren, all.children.keys]).toEqual([true, []]);
    expect(reason({ ...agg, action: "ADD", childEPCs: [], childQuantityList: [{ epcClass: "urn:epc:class:lgtin:4012345.011111.L" }] })).toMatch(/quantities cannot be assembled/);
    expect(reason({ ...agg, action: "ADD", childEPCs: ["https://x.example/00/040000010000000012"] })).toBe("AggregationEvent lists the parent among its children");
    expect(reason({ ...agg, action: "ADD", parentID: undefined })).toBe("AggregationEvent ADD without parentID");
    expect(action({ ...agg, action: "OBSERVE", bizStep: "shipping" })).toEqual(expect.objectContaining({ op: "ship", keys: [itemKey("urn:epc:id:sscc:4000001.0000000001")] }));
  });

  it("refuses identifiers it cannot key, naming them", () => {
    expect(reason(obj({ bizStep: "receiving", epcList: ["urn:example:part:1"] }))).toBe(
      'item "urn:example:part:1" cannot be keyed: "urn:example:part:1" is neither an EPC URI (urn:epc:...) nor a GS1 Digital Link (https://...)',
    );
    expect(reason(obj({ bizStep: "receiving", epcList: ["urn:epc:class:lgtin:4012345.011111.L"] }))).toMatch(/is a LGTIN, not an individually identified item; it is a batch/);
    expect(reason(obj({ bizStep: "receiving", epcList: ["https://x.example/01/04012345111117/21/1"] }))).toMatch(/GTIN check digit is 7, expected 8/);
  });

  it("corrections: hash IDs of corrective events become bytes32, other IDs stay for a lookup", () => {
    const h = `ni:///sha-256;${"cd".repeat(32)}?ver=CBV2.0`;
    const e = obj({ bizStep: "shipping", epcList: [B1], errorDeclaration: { declarationTime: "2024-03-02T00:00:00Z", correctiveEventIDs: [h, "urn:uuid:1"] } });
    const m = map(e);
    expect(m.recorded && m.action).toEqual({ op: "correct", correctsEventHash: m.eventHash, correctiveEventIDs: [h, "urn:uuid:1"], correctiveEventHashes: ["0x" + "cd".repeat(32)] });
    // The declaration does not change the event's hash.
    const { errorDeclaration: _, ...plain } = e;
    expect(map(plain).eventHash).toBe(m.eventHash);
    expect(reason(obj({ bizStep: "shipping", epcList: [B1], errorDeclaration: { declarationTime: "2024-03-02T00:00:00Z", reason: "did_not_occur" } }))).toMatch(
      /^error declaration without correctiveEventIDs/,
    );
  });

  it("gives the same keys and event hash whatever identifier spelling the event uses", () => {
    const a = map(obj({ bizStep: "receiving", epcList: [B1, B2] }));
    const b = map(obj({ bizStep: "receiving", epcList: ["https://other.example/gtin/04012345111118/ser/B1", "https://id.gs1.org/01/04012345111118/21/B2"] }));
    expect(b).toEqual(a);
  });

  it("accepts typed events and raw ones alike", () => {
    const raw = obj({ bizStep: "receiving", epcList: [B1] });
    const typed: EpcisEvent = toEpcisEvent(raw);
    expect(provenanceActionsOf(typed, { context: CONTEXT })).toEqual(map(raw));
  });
});
