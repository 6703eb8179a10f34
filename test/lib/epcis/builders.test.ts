/**
 * lib/epcis/builders.ts: every plain action becomes an EPCIS 2.0 event that the GS1 schema
 * accepts and that maps onto the Provenance record the action means (what capture will record).
 */
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import * as build from "../../../lib/epcis/builders.ts";
import { provenanceActionsOf } from "../../../lib/epcis/events.ts";
import { createEpcisValidator, loadEpcisSchema } from "../../../lib/epcis/validate.ts";
import { batchKey, itemKey } from "../../../lib/identifiers/canonical.ts";

const validator = createEpcisValidator({
  schema: loadEpcisSchema(fileURLToPath(new URL("../../../../shared/fixtures/epcis/EPCIS-JSON-Schema.json", import.meta.url))),
});
const site = { companyPrefix: "9521002", location: "00001" };
const AT = build.gln(site);
const OEM = build.gln({ companyPrefix: "9521004", location: "00001" });
const G = build.gtin(site, "00021");
const items = ["C-1", "C-2", "C-3"].map((s) => build.sgtin(G, s));
const when = { time: "2026-12-01T08:00:00.000Z", at: AT };

/** The event is valid EPCIS in a document and maps onto this Provenance operation. */
function mapped(event: Record<string, unknown>) {
  const doc = build.epcisDocument([event], when.time);
  const v = validator.validate(doc);
  expect(v.errors).toEqual([]);
  const m = provenanceActionsOf(event, { context: doc["@context"] as unknown[] });
  if (!m.recorded) throw new Error(`not recorded: ${m.reason}`);
  return m.action;
}

describe("EPCIS builders", () => {
  it("site helpers write GS1 keys with check digits", () => {
    expect(AT).toBe("9521002000016");
    expect(G).toBe("09521002000214");
    expect(build.sgtin(G, "A/1 x")).toBe("https://id.gs1.org/01/09521002000214/21/A%2F1%20x");
  });

  it("commissions serials, as one batch when a lot is named, with the production date", () => {
    const plain = mapped(build.commission({ ...when, items }));
    expect(plain).toMatchObject({ op: "commission", keys: items.map((i) => itemKey(i)) });
    expect(plain).not.toHaveProperty("batch");
    const e = build.commission({ ...when, items, lot: "L7", productionDate: "2026-11-30" });
    expect(e["ilmd"]).toEqual({ "cbvmda:lotNumber": "L7", "cbvmda:productionDate": "2026-11-30" });
    expect(mapped(e)).toMatchObject({ op: "commission", batch: { key: batchKey(build.lgtin(G, "L7")) } });
  });

  it("ships to the partner's party with the dispatch document, and transfers ownership", () => {
    const e = build.ship({ ...when, to: OEM, items, despatchAdvice: "DA 42" });
    expect(e["bizTransactionList"]).toEqual([{ type: "desadv", bizTransaction: "urn:tracemesh:desadv:DA%2042" }]);
    const a = mapped(e);
    expect(a).toMatchObject({ op: "ship", transferOwnership: true, consignee: { owningParty: "https://id.gs1.org/417/" + OEM } });
  });

  it("receives some of a shipment and names what was missing", () => {
    const e = build.receive({ time: when.time, at: OEM, from: AT, items: items.slice(0, 2), missing: [items[2]!], note: "one broken in transit" });
    expect(e["tm:discrepancy"]).toEqual({ "tm:missing": [items[2]], "tm:note": "one broken in transit" });
    expect(mapped(e)).toMatchObject({ op: "receive", keys: items.slice(0, 2).map((i) => itemKey(i)) });
    expect(build.receive({ time: when.time, at: OEM, from: AT, items })).not.toHaveProperty("tm:discrepancy");
  });

  it("cancels a shipment with CBV's void_shipping step", () => {
    expect(mapped(build.cancelShipment({ ...when, items }))).toMatchObject({ op: "cancelShipment", keys: items.map((i) => itemKey(i)) });
  });

  it("transforms, assembles, inspects, changes a disposition, recalls items and lots", () => {
    const out = build.sgtin(build.gtin(site, "00031"), "M-1");
    expect(mapped(build.transform({ ...when, inputs: items, outputs: [out] }))).toMatchObject({ op: "transform" });
    expect(mapped(build.assemble({ ...when, parent: out, children: items }))).toMatchObject({ op: "assemble", parent: { key: itemKey(out) } });
    expect(mapped(build.inspect({ ...when, items, passed: false }))).toMatchObject({ op: "inspect", passed: false });
    expect(mapped(build.inspect({ ...when, items, passed: true }))).toMatchObject({ op: "inspect", passed: true });
    expect(mapped(build.setDisposition({ ...when, items, disposition: "damaged" }))).toMatchObject({ op: "setDisposition" });
    expect(mapped(build.recall({ ...when, items }))).toMatchObject({ op: "recall" });
    expect(mapped(build.recall({ ...when, lot: build.lgtin(G, "L7") }))).toMatchObject({ op: "recallBatch", batch: { key: batchKey(build.lgtin(G, "L7")) } });
  });

  it("registers, ships, receives short and withdraws a lot by quantity, mapped to the lot calls", () => {
    const coil = build.lgtin(G, "COIL-7");
    const lot = { identifier: `https://id.gs1.org/01/${G}/10/COIL-7`, key: batchKey(coil) };
    expect(mapped(build.commissionLot({ ...when, lot: coil, quantity: 1200, unit: "KGM", productionDate: "2026-11-30" }))).toMatchObject({ op: "commissionLot", batch: lot, quantity: 1200n, unit: "KGM" });
    const consignee = { owningParty: build.party(OEM), location: build.place(OEM) };
    expect(mapped(build.shipLot({ ...when, lot: coil, quantity: 500, unit: "KGM", to: OEM, despatchAdvice: "DA-9" }))).toEqual({ op: "shipLot", batch: lot, quantity: 500n, unit: "KGM", consignee });
    const received = build.receiveLot({ ...when, at: OEM, from: AT, lot: coil, quantity: 480, unit: "KGM", shipped: 500, note: "one coil bent" });
    expect(received["tm:discrepancy"]).toEqual({ "tm:note": "one coil bent", "tm:shortQuantity": 20 });
    expect(mapped(received)).toEqual({ op: "receiveLot", batch: lot, quantity: 480n, unit: "KGM", sender: { owningParty: build.party(AT) } });
    expect(mapped(build.cancelLotShipment({ ...when, lot: coil, quantity: 20, unit: "KGM", to: OEM }))).toEqual({ op: "cancelLotShipment", batch: lot, quantity: 20n, unit: "KGM", consignee: { owningParty: build.party(OEM) } });
    expect(mapped(build.commissionLot({ ...when, lot: coil, quantity: 3 }))).toMatchObject({ op: "commissionLot", unit: "" });
    expect(() => build.shipLot({ ...when, lot: coil, quantity: 2.5, unit: "KGM", to: OEM })).toThrow(/quantity of .* must be a whole number above 0, got 2.5/);
    expect(() => build.commissionLot({ ...when, lot: coil, quantity: 0 })).toThrow(/must be a whole number above 0, got 0/);
    expect(() => build.commissionLot({ ...when, lot: coil, quantity: 1, unit: "kg" })).toThrow(/unit "kg" is not a UN\/ECE Rec 20 code/);
  });

  it("is a pure function of its arguments (a retried step sends the same bytes)", () => {
    expect(JSON.stringify(build.ship({ ...when, to: OEM, items }))).toBe(JSON.stringify(build.ship({ ...when, to: OEM, items })));
  });
});
