/**
 * End to end: EPCIS documents as partners would send them are validated, hashed and mapped, and
 * the mapping is executed against the real Provenance contract; the chain's state must then be
 * what the events say. Proves the mapping's keys, dispositions and arguments fit the contract.
 */
import { fileURLToPath } from "node:url";
import type { ContractTransactionResponse } from "ethers";
import { ZeroHash } from "ethers";
import { network } from "hardhat";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Provenance } from "../../../lib/contracts/types/index.js";
import { batchKey, canonicalIdentifier, itemKey } from "../../../lib/identifiers/canonical.ts";
import { documentEventHashes, hashIdOfDigest } from "../../../lib/epcis/event-hash.ts";
import { type Consignee, type ProvenanceMapping, dispositionKey, eventsOf, provenanceActionsOf } from "../../../lib/epcis/events.ts";
import { createEpcisValidator, loadEpcisSchema } from "../../../lib/epcis/validate.ts";
import { lotUnitBytes } from "../../../lib/registry.ts";
import { type ConsortiumFixture, type Conn, type OrgKey, deployConsortium, deployProvenance, expectRevert } from "../../helpers/fixture.ts";

const validator = createEpcisValidator({
  schema: loadEpcisSchema(fileURLToPath(new URL("../../../../shared/fixtures/epcis/EPCIS-JSON-Schema.json", import.meta.url))),
});

/** Party GLNs of the consortium's organisations, as partners write them in EPCIS. */
const PGLN: Partial<Record<OrgKey, string>> = {
  steel: "urn:epc:id:pgln:4012345.00000",
  foundry: "urn:epc:id:pgln:4000001.00000",
  oem: "urn:epc:id:pgln:0614141.00000",
};
const CONTEXT = ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld", { ex: "https://ns.example.com/tracemesh/" }];

let time = Date.UTC(2024, 2, 1, 7);
function doc(...events: Record<string, unknown>[]) {
  return {
    "@context": CONTEXT,
    type: "EPCISDocument",
    schemaVersion: "2.0",
    creationDate: new Date(time).toISOString(),
    epcisBody: {
      eventList: events.map((e): Record<string, unknown> => ({ eventTime: new Date((time += 60_000)).toISOString().replace("Z", "+00:00"), eventTimeZoneOffset: "+00:00", ...e })),
    },
  };
}

const B1 = "urn:epc:id:sgtin:4012345.011111.B1";
const B2 = "urn:epc:id:sgtin:4012345.011111.B2";
const C1 = "urn:epc:id:sgtin:4000001.022222.C1";
const PALLET = "urn:epc:id:sscc:4000001.0000000001";

describe("EPCIS events recorded on Provenance", () => {
  let conn: Conn;
  let fx: ConsortiumFixture;
  let prov: Provenance;

  beforeAll(async () => {
    conn = await network.create();
    fx = await deployConsortium(conn);
    ({ prov } = await deployProvenance(conn, await fx.consortium.getAddress()));
  });
  afterAll(async () => {
    await conn?.close();
  });

  const orgId = (k: OrgKey) => fx.orgs[k].id;
  const consigneeOrg = (c: Consignee): number => {
    const party = c.possessingParty ?? c.owningParty;
    // A member node would look the party's GLN up in its consortium directory.
    const hit = (Object.keys(PGLN) as OrgKey[]).find((k) => party !== undefined && canonicalIdentifier(PGLN[k]!) === party);
    if (hit === undefined) throw new Error(`no organisation for consignee ${JSON.stringify(c)}`);
    return orgId(hit);
  };

  /** Validates, hashes and maps one single-event document; returns the mapping. */
  function mapped(d: ReturnType<typeof doc>): ProvenanceMapping {
    const v = validator.validate(d);
    expect(v.errors).toEqual([]);
    const [h] = documentEventHashes(d);
    const [ev] = eventsOf(d);
    const m = provenanceActionsOf(ev!, { context: d["@context"] });
    expect(m.eventHash).toBe(h!.digest);
    return m;
  }

  /** Executes a mapping as organisation `by`, the way a member node would. */
  async function record(by: OrgKey, m: ProvenanceMapping): Promise<bigint> {
    if (!m.recorded) throw new Error(`not recorded: ${m.reason}`);
    const p = prov.connect(fx.orgs[by].signer);
    const a = m.action;
    let tx: ContractTransactionResponse;
    switch (a.op) {
      case "commission":
        tx = a.keys.length === 1 && a.batch === undefined
          ? await p.commission(a.keys[0]!, a.dispositionKey, m.eventHash)
          : await p.commissionBatch(a.batch?.key ?? ZeroHash, [...a.keys], a.dispositionKey, m.eventHash);
        break;
      case "ship":
        tx = await p.ship([...a.keys], consigneeOrg(a.consignee), a.transferOwnership, m.eventHash);
        break;
      case "receive":
        tx = await p.receiveShipment([...a.keys], m.eventHash);
        break;
      case "cancelShipment":
        tx = await p.cancelShipment([...a.keys], m.eventHash);
        break;
      case "transform":
        tx = await p.transform([...a.inputs.keys], [...a.outputs.keys], a.outputBatch?.key ?? ZeroHash, a.dispositionKey, m.eventHash);
        break;
      case "assemble":
        tx = await p.assemble(a.parent.key, [...a.children.keys], m.eventHash);
        break;
      case "disassemble":
        tx = await p.disassemble(a.parent.key, [...a.children.keys], m.eventHash);
        break;
      case "inspect":
        tx = await p.inspect([...a.keys], a.passed, m.eventHash);
        break;
      case "setDisposition":
        tx = await p.setDisposition([...a.keys], a.dispositionKey, m.eventHash);
        break;
      case "recall":
        tx = await p.recall([...a.keys], m.eventHash);
        break;
      case "recallBatch":
        tx = await p.recallBatch(a.batch.key, m.eventHash);
        break;
      case "commissionLot":
        tx = await p.commissionLot(a.batch.key, a.quantity, lotUnitBytes(a.unit), a.dispositionKey, m.eventHash);
        break;
      case "shipLot":
        tx = await p.shipLot(a.batch.key, a.quantity, lotUnitBytes(a.unit), consigneeOrg(a.consignee), m.eventHash);
        break;
      case "receiveLot":
        tx = await p.receiveLot(a.batch.key, consigneeOrg(a.sender), a.quantity, lotUnitBytes(a.unit), m.eventHash);
        break;
      case "cancelLotShipment":
        tx = await p.cancelLotShipment(a.batch.key, consigneeOrg(a.consignee), a.quantity, lotUnitBytes(a.unit), m.eventHash);
        break;
      case "correct":
        throw new Error("corrections are recorded by the test itself (see below)");
    }
    await tx.wait();
    return p.recordOfEvent(m.eventHash);
  }

  const state = async (id: string) => {
    const s = await prov.itemState(itemKey(id));
    return { status: Number(s.status), owner: Number(s.ownerOrg), custodian: Number(s.custodianOrg), recalled: s.recalled, parent: s.parent, batch: s.batch, disposition: s.disposition };
  };

  it("follows two steel billets into a casting, onto a pallet, to the OEM, through inspection and recall", async () => {
    // 1. The mill commissions two billets of heat HEAT-42 (the ILMD lot makes the batch).
    await record("steel", mapped(doc({ type: "ObjectEvent", action: "ADD", bizStep: "commissioning", epcList: [B1, B2], readPoint: { id: "urn:epc:id:sgln:4012345.00001.0" }, ilmd: { "cbvmda:lotNumber": "HEAT-42" } })));
    const heat = batchKey("urn:epc:class:lgtin:4012345.011111.HEAT-42");
    expect(await state(B1)).toEqual(expect.objectContaining({ status: 1, owner: orgId("steel"), batch: heat, disposition: dispositionKey("active") }));
    expect((await prov.batchState(heat)).itemCount).toBe(2n);

    // 2. Shipped to the foundry with ownership, 3. received there (written as Digital Links on another host).
    const ship = mapped(
      doc({
        type: "ObjectEvent",
        action: "OBSERVE",
        bizStep: "shipping",
        disposition: "in_transit",
        epcList: [B1, B2],
        sourceList: [{ type: "owning_party", source: PGLN.steel }],
        destinationList: [
          { type: "owning_party", destination: PGLN.foundry },
          { type: "possessing_party", destination: PGLN.foundry },
        ],
      }),
    );
    await record("steel", ship);
    expect(await state(B2)).toEqual(expect.objectContaining({ status: 2, owner: orgId("steel") }));
    await record("foundry", mapped(doc({ type: "ObjectEvent", action: "OBSERVE", bizStep: "receiving", epcList: ["https://foundry.example/01/04012345111118/21/B2", "https://foundry.example/01/04012345111118/21/B1"] })));
    expect(await state(B1)).toEqual(expect.objectContaining({ status: 1, owner: orgId("foundry"), custodian: orgId("foundry") }));

    // 4. The foundry casts them into C1, 5. commissions a pallet and 6. packs C1 onto it.
    await record("foundry", mapped(doc({ type: "TransformationEvent", bizStep: "commissioning", inputEPCList: [B1, B2], outputEPCList: [C1] })));
    expect((await state(B1)).status).toBe(3);
    await record("foundry", mapped(doc({ type: "ObjectEvent", action: "ADD", bizStep: "commissioning", epcList: [PALLET] })));
    await record("foundry", mapped(doc({ type: "AggregationEvent", action: "ADD", bizStep: "packing", parentID: PALLET, childEPCs: [C1] })));
    expect(await state(C1)).toEqual(expect.objectContaining({ status: 4, parent: itemKey(PALLET) }));

    // 7. The pallet goes to the OEM (departing), 8. arrives, 9. is unpacked.
    await record(
      "foundry",
      mapped(doc({ type: "ObjectEvent", action: "OBSERVE", bizStep: "departing", epcList: [PALLET], destinationList: [{ type: "owning_party", destination: PGLN.oem }, { type: "possessing_party", destination: PGLN.oem }] })),
    );
    await record("oem", mapped(doc({ type: "ObjectEvent", action: "OBSERVE", bizStep: "arriving", epcList: ["https://id.gs1.org/00/040000010000000012"] })));
    expect(await state(C1)).toEqual(expect.objectContaining({ owner: orgId("oem"), custodian: orgId("oem") }));
    await record("oem", mapped(doc({ type: "AggregationEvent", action: "DELETE", bizStep: "unpacking", parentID: PALLET, childEPCs: [C1] })));
    expect(await state(C1)).toEqual(expect.objectContaining({ status: 1, parent: ZeroHash, owner: orgId("oem") }));

    // 10. The lab inspects C1: non-conformant; 11. the OEM marks it damaged.
    const inspection = mapped(doc({ type: "ObjectEvent", action: "OBSERVE", bizStep: "inspecting", disposition: "non_conformant", epcList: [C1] }));
    expect(inspection.recorded && inspection.action.op === "inspect" && inspection.action.passed).toBe(false);
    await record("lab", inspection);
    const damagedDoc = doc({ type: "ObjectEvent", action: "OBSERVE", bizStep: "storing", disposition: "damaged", epcList: [C1] });
    const damaged = mapped(damagedDoc);
    const damagedRecord = await record("oem", damaged);
    expect((await state(C1)).disposition).toBe(dispositionKey("damaged"));

    // 12. The regulator recalls the whole heat; 13. the OEM recalls its casting.
    await record("regulator", mapped(doc({ type: "ObjectEvent", action: "OBSERVE", disposition: "recalled", quantityList: [{ epcClass: "urn:epc:class:lgtin:4012345.011111.HEAT-42" }] })));
    expect((await prov.batchState(heat)).recalled).toBe(true);
    expect((await state(B1)).recalled).toBe(true);
    await record("oem", mapped(doc({ type: "ObjectEvent", action: "OBSERVE", bizStep: "https://ref.gs1.org/cbv/BizStep-recalling", disposition: "recalled", epcList: [C1] })));
    expect((await state(C1)).recalled).toBe(true);

    // 14. The OEM declares event 11 wrong: the same event with an errorDeclaration. Its hash is
    // event 11's (errorDeclaration is not hashed), so it names the record to correct; the
    // correction record carries the corrective event's hash.
    const declared = structuredClone(damagedDoc);
    declared.epcisBody.eventList[0]!["errorDeclaration"] = {
      declarationTime: "2024-03-02T00:00:00+00:00",
      reason: "incorrect_data",
      correctiveEventIDs: [hashIdOfDigest("0x" + "77".repeat(32)), "urn:uuid:6f1c1b6e-0d7b-4a3c-9a55-0b7e9f1d2c3a"],
    };
    const declaration = mapped(declared);
    if (!declaration.recorded || declaration.action.op !== "correct") throw new Error("expected a correction");
    expect(declaration.action.correctsEventHash).toBe((damaged as { eventHash: string }).eventHash);
    const target = await prov.recordOfEvent(declaration.action.correctsEventHash);
    expect(target).toBe(damagedRecord);
    const corrective = declaration.action.correctiveEventHashes[0]!;
    await (await prov.connect(fx.orgs.oem.signer).correct(target, corrective)).wait();
    const rec = await prov.record(await prov.recordOfEvent(corrective));
    expect([Number(rec.kind), rec.corrects, Number(rec.orgId)]).toEqual([12, damagedRecord, orgId("oem")]);
    // Recording the declaration as an ordinary event would reuse event 11's hash, and is refused.
    await expectRevert(prov.connect(fx.orgs.oem.signer).setDisposition([itemKey(C1)], dispositionKey("damaged"), declaration.eventHash), prov, "DuplicateEventHash", [
      declaration.eventHash,
      damagedRecord,
    ]);

    // Replaying any recorded event is refused: the event hash is the event's identity.
    await expectRevert(record("steel", ship), prov, "DuplicateEventHash", [(ship as { eventHash: string }).eventHash, 2n]);
  });

  it("a shipment voided by its sender (CBV void_shipping) puts the items back in its hands; the consignee cannot void it", async () => {
    const X = "urn:epc:id:sgtin:4012345.011111.VOID-1";
    await record("steel", mapped(doc({ type: "ObjectEvent", action: "ADD", bizStep: "commissioning", epcList: [X] })));
    await record("steel", mapped(doc({ type: "ObjectEvent", action: "OBSERVE", bizStep: "shipping", epcList: [X], destinationList: [{ type: "owning_party", destination: PGLN.foundry }] })));
    expect((await state(X)).status).toBe(2);
    const voided = mapped(doc({ type: "ObjectEvent", action: "OBSERVE", bizStep: "void_shipping", epcList: [X] }));
    expect(voided.recorded && voided.action.op).toBe("cancelShipment");
    await expectRevert(record("foundry", voided), prov, "NotCustodian");
    await record("steel", voided);
    expect(await state(X)).toEqual(expect.objectContaining({ status: 1, owner: orgId("steel"), custodian: orgId("steel") }));
  });

  it("a lot by quantity: registered, shipped in part, received short, the rest withdrawn by its sender", async () => {
    const LOT = "urn:epc:class:lgtin:4012345.011111.COIL-7";
    const lot = batchKey(LOT);
    const from = (k: OrgKey) => ({ sourceList: [{ type: "possessing_party", source: PGLN[k] }] });
    const to = (k: OrgKey) => ({ destinationList: [{ type: "possessing_party", destination: PGLN[k] }] });
    const qty = (quantity: number) => ({ quantityList: [{ epcClass: LOT, quantity, uom: "KGM" }] });
    const made = mapped(doc({ type: "ObjectEvent", action: "ADD", bizStep: "commissioning", epcList: [], ...qty(1200) }));
    expect(made).toEqual(expect.objectContaining({ recorded: true, action: expect.objectContaining({ op: "commissionLot", quantity: 1200n, unit: "KGM" }) }));
    await record("steel", made);
    await record("steel", mapped(doc({ type: "ObjectEvent", action: "OBSERVE", bizStep: "shipping", epcList: [], ...qty(500), ...from("steel"), ...to("foundry") })));
    await record("foundry", mapped(doc({ type: "ObjectEvent", action: "OBSERVE", bizStep: "receiving", epcList: [], ...qty(480), ...from("steel"), ...to("foundry") })));
    expect([await prov.lotBalanceOf(lot, orgId("steel")), await prov.lotBalanceOf(lot, orgId("foundry")), await prov.lotInTransit(lot, orgId("steel"), orgId("foundry"))]).toEqual([700n, 480n, 20n]);
    // The foundry cannot void the steel mill's shipment; the mill withdraws the 20 not received.
    const voidIt = mapped(doc({ type: "ObjectEvent", action: "OBSERVE", bizStep: "void_shipping", epcList: [], ...qty(20), ...to("foundry") }));
    await expectRevert(record("foundry", voidIt), prov, "InsufficientQuantity", [lot, orgId("foundry"), 20n, 0n]);
    await record("steel", voidIt);
    expect(await prov.lotBalanceOf(lot, orgId("steel"))).toBe(720n);
    // A quantity in another unit than the lot's is refused by the chain, a fraction by the mapping.
    const grams = mapped(doc({ type: "ObjectEvent", action: "OBSERVE", bizStep: "shipping", epcList: [], quantityList: [{ epcClass: LOT, quantity: 5, uom: "GRM" }], ...to("oem") }));
    await expectRevert(record("steel", grams), prov, "UnitMismatch");
    const half = mapped(doc({ type: "ObjectEvent", action: "OBSERVE", bizStep: "shipping", epcList: [], ...qty(2.5), ...to("oem") }));
    expect(half).toEqual(expect.objectContaining({ recorded: false, reason: expect.stringContaining("not a whole positive number") }));
  });
});

