/**
 * Provenance lots by quantity: a lot's owner registers a quantity, holders ship parts of their
 * own balance, consignees receive what arrived (a short receipt leaves the rest in transit until
 * received or withdrawn by the sender). Every member is treated as hostile.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { network } from "hardhat";
import type { ContractTransactionResponse } from "ethers";
import { ZeroHash, encodeBytes32String, id, keccak256, toUtf8Bytes } from "ethers";
import type { Provenance } from "../../lib/contracts/types/index.js";
import { type ConsortiumFixture, type Conn, type OrgKey, deployConsortium, deployProvenance, expectRevert } from "../helpers/fixture.ts";

const hash = (s: string) => keccak256(toUtf8Bytes(s));
const ACTIVE = hash("https://ref.gs1.org/cbv/Disp-active");
/** A UN/ECE Rec 20 unit code as the contract's left-aligned bytes8. */
const unit = (code: string) => encodeBytes32String(code).slice(0, 18);
const KGM = unit("KGM");
const COUNT = "0x0000000000000000";

let n = 0;
const ev = () => id(`lot-event:${++n}`);
const freshLot = () => hash(`https://id.gs1.org/01/04012345000025/10/Q${++n}`);

describe("Provenance lots by quantity", () => {
  let conn: Conn;
  let fx: ConsortiumFixture;
  let prov: Provenance;
  const org = (k: OrgKey) => fx.orgs[k].id;
  const as = (k: OrgKey) => prov.connect(fx.orgs[k].signer);
  const mined = async (p: Promise<ContractTransactionResponse>) => (await (await p).wait())!;
  const balance = async (lot: string, k: OrgKey) => prov.lotBalanceOf(lot, org(k));

  async function registered(by: OrgKey, quantity: bigint, u = KGM): Promise<string> {
    const lot = freshLot();
    await mined(as(by).commissionLot(lot, quantity, u, ACTIVE, ev()));
    return lot;
  }

  beforeAll(async () => {
    conn = await network.create();
    fx = await deployConsortium(conn);
    ({ prov } = await deployProvenance(conn, await fx.consortium.getAddress()));
  });
  afterAll(async () => conn.close());

  it("registers a quantity into its maker's balance, creating the lot it owns; the owner adds more", async () => {
    const lot = freshLot();
    const rc = await mined(as("steel").commissionLot(lot, 500n, KGM, ACTIVE, ev()));
    const names = rc.logs.map((l) => prov.interface.parseLog(l)?.name);
    expect(names).toEqual(["Recorded", "BatchCreated", "LotCommissioned"]);
    expect(await balance(lot, "steel")).toBe(500n);
    const b = await prov.batchState(lot);
    expect([b.exists, Number(b.ownerOrg), b.itemCount]).toEqual([true, org("steel"), 0n]);
    expect([...(await prov.lotUnit(lot))]).toEqual([KGM, true]);
    await mined(as("steel").commissionLot(lot, 250n, KGM, ACTIVE, ev()));
    expect(await balance(lot, "steel")).toBe(750n);
    await expectRevert(as("steel").commissionLot(lot, 1n, unit("TNE"), ACTIVE, ev()), prov, "UnitMismatch", [lot, unit("TNE"), KGM]);
  });

  it("refuses zero quantities and keys, other makers' lots, non-makers and reused event hashes", async () => {
    const lot = await registered("steel", 10n);
    await expectRevert(as("steel").commissionLot(lot, 0n, KGM, ACTIVE, ev()), prov, "ZeroQuantity", [lot]);
    await expectRevert(as("steel").commissionLot(ZeroHash, 1n, KGM, ACTIVE, ev()), prov, "ZeroKey");
    await expectRevert(as("steel").commissionLot(lot, 1n, KGM, ZeroHash, ev()), prov, "ZeroDisposition");
    await expectRevert(as("foundry").commissionLot(lot, 1n, KGM, ACTIVE, ev()), prov, "NotBatchOwner", [lot, org("foundry"), org("steel")]);
    await expectRevert(as("carrier").commissionLot(freshLot(), 1n, KGM, ACTIVE, ev()), prov, "MissingRole");
    await expectRevert(prov.connect(fx.outsider).commissionLot(freshLot(), 1n, KGM, ACTIVE, ev()), prov, "NotActiveMember", [fx.outsider.address]);
    const eh = ev();
    await mined(as("steel").commissionLot(lot, 1n, KGM, ACTIVE, eh));
    await expectRevert(as("steel").commissionLot(lot, 1n, KGM, ACTIVE, eh), prov, "DuplicateEventHash", [eh, await prov.recordOfEvent(eh)]);
    // Quantities cannot be negative on chain: the ABI refuses to encode them.
    await expect(as("steel").commissionLot(lot, -1n, KGM, ACTIVE, ev())).rejects.toThrow();
  });

  it("ships part of a balance, receives it short, and the sender withdraws the rest", async () => {
    const lot = await registered("steel", 100n);
    await mined(as("steel").shipLot(lot, 40n, KGM, org("foundry"), ev()));
    expect(await balance(lot, "steel")).toBe(60n);
    expect(await prov.lotInTransit(lot, org("steel"), org("foundry"))).toBe(40n);
    // 38 arrived: the discrepancy of 2 stays in transit, visible to both.
    await mined(as("foundry").receiveLot(lot, org("steel"), 38n, KGM, ev()));
    expect(await balance(lot, "foundry")).toBe(38n);
    expect(await prov.lotInTransit(lot, org("steel"), org("foundry"))).toBe(2n);
    await mined(as("steel").cancelLotShipment(lot, org("foundry"), 2n, KGM, ev()));
    expect(await balance(lot, "steel")).toBe(62n);
    expect(await prov.lotInTransit(lot, org("steel"), org("foundry"))).toBe(0n);
    // The receiver now holds its own balance and ships it on; the maker still owns the lot.
    await mined(as("foundry").shipLot(lot, 38n, KGM, org("oem"), ev()));
    await mined(as("oem").receiveLot(lot, org("foundry"), 38n, KGM, ev()));
    expect([await balance(lot, "steel"), await balance(lot, "foundry"), await balance(lot, "oem")]).toEqual([62n, 0n, 38n]);
    expect(Number((await prov.batchState(lot)).ownerOrg)).toBe(org("steel"));
  });

  it("lets only a holder ship its own balance, never more, to another active member", async () => {
    const lot = await registered("steel", 10n);
    await expectRevert(as("foundry").shipLot(lot, 1n, KGM, org("oem"), ev()), prov, "InsufficientQuantity", [lot, org("foundry"), 1n, 0n]);
    await expectRevert(as("steel").shipLot(lot, 11n, KGM, org("oem"), ev()), prov, "InsufficientQuantity", [lot, org("steel"), 11n, 10n]);
    await expectRevert(as("steel").shipLot(lot, 0n, KGM, org("oem"), ev()), prov, "ZeroQuantity", [lot]);
    await expectRevert(as("steel").shipLot(lot, 1n, COUNT, org("oem"), ev()), prov, "UnitMismatch", [lot, COUNT, KGM]);
    await expectRevert(as("steel").shipLot(lot, 1n, KGM, org("steel"), ev()), prov, "InvalidConsignee", [org("steel")]);
    await expectRevert(as("steel").shipLot(lot, 1n, KGM, 999, ev()), prov, "InvalidConsignee", [999]);
    const unknown = freshLot();
    await expectRevert(as("steel").shipLot(unknown, 1n, KGM, org("oem"), ev()), prov, "UnknownBatch", [unknown]);
    await expectRevert(as("auditor").shipLot(lot, 1n, KGM, org("oem"), ev()), prov, "NoWriteRights", [org("auditor")]);
    await expectRevert(prov.connect(fx.outsider).shipLot(lot, 1n, KGM, org("oem"), ev()), prov, "NotActiveMember", [fx.outsider.address]);
    expect(await balance(lot, "steel")).toBe(10n);
  });

  it("lets only the consignee receive, never more than in transit, never twice", async () => {
    const lot = await registered("steel", 10n);
    await mined(as("steel").shipLot(lot, 5n, KGM, org("foundry"), ev()));
    // Another member claims the shipment addressed to the foundry: nothing is in transit to it.
    await expectRevert(as("oem").receiveLot(lot, org("steel"), 5n, KGM, ev()), prov, "InsufficientQuantity", [lot, org("oem"), 5n, 0n]);
    await expectRevert(as("foundry").receiveLot(lot, org("steel"), 6n, KGM, ev()), prov, "InsufficientQuantity", [lot, org("foundry"), 6n, 5n]);
    await expectRevert(as("foundry").receiveLot(lot, org("steel"), 0n, KGM, ev()), prov, "ZeroQuantity", [lot]);
    await expectRevert(as("foundry").receiveLot(lot, org("oem"), 5n, KGM, ev()), prov, "InsufficientQuantity", [lot, org("foundry"), 5n, 0n]);
    const eh = ev();
    await mined(as("foundry").receiveLot(lot, org("steel"), 5n, KGM, eh));
    await expectRevert(as("foundry").receiveLot(lot, org("steel"), 5n, KGM, eh), prov, "DuplicateEventHash", [eh, await prov.recordOfEvent(eh)]);
    await expectRevert(as("foundry").receiveLot(lot, org("steel"), 5n, KGM, ev()), prov, "InsufficientQuantity", [lot, org("foundry"), 5n, 0n]);
    expect([await balance(lot, "steel"), await balance(lot, "foundry"), await balance(lot, "oem")]).toEqual([5n, 5n, 0n]);
  });

  it("lets only the sender withdraw, only what is still in transit", async () => {
    const lot = await registered("steel", 10n);
    await mined(as("steel").shipLot(lot, 4n, KGM, org("foundry"), ev()));
    // The consignee cannot pull the goods into the sender's balance, nor another member into its own.
    await expectRevert(as("foundry").cancelLotShipment(lot, org("steel"), 4n, KGM, ev()), prov, "InsufficientQuantity", [lot, org("foundry"), 4n, 0n]);
    await expectRevert(as("oem").cancelLotShipment(lot, org("foundry"), 4n, KGM, ev()), prov, "InsufficientQuantity", [lot, org("oem"), 4n, 0n]);
    await expectRevert(as("steel").cancelLotShipment(lot, org("foundry"), 5n, KGM, ev()), prov, "InsufficientQuantity", [lot, org("steel"), 5n, 4n]);
    await mined(as("steel").cancelLotShipment(lot, org("foundry"), 4n, KGM, ev()));
    await expectRevert(as("foundry").receiveLot(lot, org("steel"), 1n, KGM, ev()), prov, "InsufficientQuantity", [lot, org("foundry"), 1n, 0n]);
    expect(await balance(lot, "steel")).toBe(10n);
  });

  it("lets a holder of a lot's quantity record observations of it; a member holding none stays refused", async () => {
    const lot = await registered("steel", 10n);
    await expectRevert(as("foundry").observe([lot], ev()), prov, "NotPartyTo", [lot, org("foundry")]);
    await mined(as("steel").shipLot(lot, 3n, KGM, org("foundry"), ev()));
    await mined(as("foundry").receiveLot(lot, org("steel"), 3n, KGM, ev()));
    await mined(as("foundry").observe([lot], ev()));
    await expectRevert(as("oem").observe([lot], ev()), prov, "NotPartyTo", [lot, org("oem")]);
  });

  it("registers counted lots without a unit, and many lots in one multicall document", async () => {
    const a = freshLot();
    const b = freshLot();
    const i = prov.interface;
    await mined(
      as("oem").multicall([
        i.encodeFunctionData("commissionLot", [a, 3n, COUNT, ACTIVE, ev()]),
        i.encodeFunctionData("commissionLot", [b, 7n, COUNT, ACTIVE, ev()]),
        i.encodeFunctionData("shipLot", [b, 2n, COUNT, org("machining"), ev()]),
      ]),
    );
    expect([await balance(a, "oem"), await balance(b, "oem")]).toEqual([3n, 5n]);
    expect([...(await prov.lotUnit(b))]).toEqual([COUNT, true]);
  });
});
