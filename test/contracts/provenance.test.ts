import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { network } from "hardhat";
import type { ContractTransactionReceipt, ContractTransactionResponse } from "ethers";
import { ZeroAddress, ZeroHash, getAddress, id, keccak256, toUtf8Bytes } from "ethers";
import type { Provenance } from "../../lib/contracts/types/index.js";
import { ProposalKind, Role, proposalData } from "../../lib/consortium.ts";
import {
  type ConsortiumFixture,
  type Conn,
  type OrgKey,
  deployBound,
  deployProvenance,
  deployConsortium,
  expectRevert,
  now,
  passProposal,
  reinstateOrg,
  removeOrg,
  suspendOrg,
} from "../helpers/fixture.ts";
import { ItemStatus as Status, RecordKind as Kind } from "../../lib/registry.ts";


const hash = (s: string) => keccak256(toUtf8Bytes(s));
/** Item keys: keccak256 of the GS1 Digital Link URI. */
const sgtin = (serial: string) => hash(`https://id.gs1.org/01/04012345000018/21/${serial}`);
const lgtin = (lot: string) => hash(`https://id.gs1.org/01/04012345000025/10/${lot}`);
const DISP = {
  active: hash("https://ref.gs1.org/cbv/Disp-active"),
  inProgress: hash("https://ref.gs1.org/cbv/Disp-in_progress"),
  damaged: hash("https://ref.gs1.org/cbv/Disp-damaged"),
  recalled: hash("https://ref.gs1.org/cbv/Disp-recalled"),
};
const UNKNOWN_ORG = 999;

let evCounter = 0;
/** A fresh CBV event hash (the 32-byte digest of a distinct EPCIS event). */
const ev = () => id(`epcis-event:${++evCounter}`);
let keyCounter = 0;
/** A fresh item key. */
const fresh = (label = "item") => sgtin(`${label}-${++keyCounter}`);
const freshBatch = (label = "lot") => lgtin(`${label}-${++keyCounter}`);

type Ev = [string, unknown[]];

function plain(v: unknown): unknown {
  if (typeof v === "number") return BigInt(v);
  if (Array.isArray(v)) return Array.from(v, plain);
  return v;
}

describe("Provenance", () => {
  let conn: Conn;
  let fx: ConsortiumFixture;
  let prov: Provenance;

  const org = (k: OrgKey) => fx.orgs[k].id;
  const as = (k: OrgKey) => prov.connect(fx.orgs[k].signer);

  async function mined(p: Promise<ContractTransactionResponse>): Promise<ContractTransactionReceipt> {
    const rc = await (await p).wait();
    if (!rc) throw new Error("no receipt");
    return rc;
  }

  function eventsOf(rc: ContractTransactionReceipt): Ev[] {
    const out: Ev[] = [];
    for (const log of rc.logs) {
      const parsed = prov.interface.parseLog(log);
      if (parsed) out.push([parsed.name, plain([...parsed.args]) as unknown[]]);
    }
    return out;
  }

  function expectEvents(rc: ContractTransactionReceipt, expected: Ev[]) {
    expect(eventsOf(rc)).toEqual(expected.map(([n, a]) => [n, plain(a)]));
  }

  const nextRid = async () => (await prov.recordCount()) + 1n;

  async function state(key: string) {
    const s = await prov.itemState(key);
    return {
      exists: s.exists,
      status: Number(s.status) as Status,
      owner: Number(s.ownerOrg),
      custodian: Number(s.custodianOrg),
      consignee: Number(s.consigneeOrg),
      transfersOwnership: s.transfersOwnership,
      recalled: s.recalled,
      parent: s.parent,
      batch: s.batch,
      disposition: s.disposition,
      createdAt: Number(s.createdAt),
      lastRecord: s.lastRecord,
    };
  }

  async function commissioned(by: OrgKey, label = "item"): Promise<string> {
    const k = fresh(label);
    await mined(as(by).commission(k, DISP.active, ev()));
    return k;
  }

  /** Ships from `from` to `to` and receives there; ownership moves with it. */
  async function handOver(keys: string[], from: OrgKey, to: OrgKey, transfer = true) {
    await mined(as(from).ship(keys, org(to), transfer, ev()));
    await mined(as(to).receiveShipment(keys, ev()));
  }

  beforeAll(async () => {
    conn = await network.create();
    fx = await deployConsortium(conn);
    ({ prov } = await deployProvenance(conn, await fx.consortium.getAddress()));
  });
  afterAll(async () => conn.close());

  describe("initialisation", () => {
    it("is bound to the consortium and cannot be initialised twice", async () => {
      expect(await prov.consortium()).toBe(await fx.consortium.getAddress());
      expect(await prov.recordCount()).toBe(0n);
      await expectRevert(prov.initialize(await fx.consortium.getAddress(), await prov.namespaces()), prov, "InvalidInitialization");
    });

    it("refuses a zero consortium or namespace registry and initialising the bare implementation", async () => {
      const namespaces = await prov.namespaces();
      await expectRevert(deployBound<Provenance>(conn, "Provenance", ZeroAddress, namespaces), prov, "ZeroConsortium");
      await expectRevert(deployBound<Provenance>(conn, "Provenance", await fx.consortium.getAddress(), ZeroAddress), prov, "ZeroNamespaces");
      const impl = await conn.ethers.deployContract("Provenance");
      await expectRevert(
        impl.getFunction("initialize")(await fx.consortium.getAddress(), namespaces),
        prov,
        "InvalidInitialization",
      );
    });
  });

  describe("commission", () => {
    it("registers an item held and owned by a Supplier, with a record and events", async () => {
      const k = fresh();
      const eh = ev();
      const rid = await nextRid();
      expect(await as("steel").commission.staticCall(k, DISP.active, eh)).toBe(rid);
      const rc = await mined(as("steel").commission(k, DISP.active, eh));
      expectEvents(rc, [
        ["Recorded", [rid, org("steel"), eh, Kind.Commission, 0]],
        ["ItemCreated", [k, ZeroHash, rid, DISP.active]],
      ]);
      const s = await state(k);
      expect(s).toEqual({
        exists: true,
        status: Status.Active,
        owner: org("steel"),
        custodian: org("steel"),
        consignee: 0,
        transfersOwnership: false,
        recalled: false,
        parent: ZeroHash,
        batch: ZeroHash,
        disposition: DISP.active,
        createdAt: await now(conn),
        lastRecord: rid,
      });
      expect(await prov.recordOfEvent(eh)).toBe(rid);
      const r = await prov.record(rid);
      expect([r.eventHash, Number(r.orgId), Number(r.kind), Number(r.timestamp), r.corrects]).toEqual([
        eh,
        org("steel"),
        Kind.Commission,
        await now(conn),
        0n,
      ]);
      expect(await prov.ownerOf(k)).toBe(BigInt(org("steel")));
      expect(await prov.custodianOf(k)).toBe(BigInt(org("steel")));
      expect(await prov.isRecalled(k)).toBe(false);
    });

    it("lets a Manufacturer and any signing account of a Supplier commission", async () => {
      const k1 = await commissioned("oem");
      expect((await state(k1)).owner).toBe(org("oem"));
      const k2 = fresh();
      await mined(prov.connect(fx.orgs.steel.accounts[1]!).commission(k2, DISP.active, ev()));
      expect((await state(k2)).owner).toBe(org("steel"));
    });

    it("refuses outsiders and organisations without the Supplier or Manufacturer role", async () => {
      await expectRevert(prov.connect(fx.outsider).commission(fresh(), DISP.active, ev()), prov, "NotActiveMember", [
        fx.outsider.address,
      ]);
      for (const k of ["carrier", "lab", "regulator", "auditor"] as OrgKey[]) {
        await expectRevert(as(k).commission(fresh(), DISP.active, ev()), prov, "MissingRole", [org(k), Role.Supplier]);
      }
    });

    it("refuses a zero disposition, zero event hash, zero key, an existing key and a reused event hash", async () => {
      await expectRevert(as("steel").commission(fresh(), ZeroHash, ev()), prov, "ZeroDisposition");
      await expectRevert(as("steel").commission(fresh(), DISP.active, ZeroHash), prov, "ZeroEventHash");
      await expectRevert(as("steel").commission(ZeroHash, DISP.active, ev()), prov, "ZeroKey");
      const k = await commissioned("steel");
      await expectRevert(as("foundry").commission(k, DISP.active, ev()), prov, "ItemExists", [k]);
      const eh = ev();
      await mined(as("steel").commission(fresh(), DISP.active, eh));
      const rid = await prov.recordOfEvent(eh);
      // The same EPCIS event again (a replay, or a retry after a lost receipt) changes nothing.
      const k2 = fresh();
      await expectRevert(as("steel").commission(k2, DISP.active, eh), prov, "DuplicateEventHash", [eh, rid]);
      expect((await state(k2)).exists).toBe(false);
      // Another organisation's record of the hash is its own (see "event-hash squatting").
    });
  });

  describe("commissionBatch", () => {
    it("creates a batch with its items in one record, and its owner can add more", async () => {
      const b = freshBatch();
      const keys = [fresh(), fresh(), fresh()];
      const eh = ev();
      const rid = await nextRid();
      const rc = await mined(as("steel").commissionBatch(b, keys, DISP.active, eh));
      expectEvents(rc, [
        ["Recorded", [rid, org("steel"), eh, Kind.Commission, 0]],
        ["BatchCreated", [b, org("steel"), rid, DISP.active]],
        ...keys.map((k): Ev => ["ItemCreated", [k, b, rid, DISP.active]]),
      ]);
      const t = await now(conn);
      for (const k of keys) {
        const s = await state(k);
        expect([s.status, s.owner, s.custodian, s.batch, s.disposition, s.lastRecord]).toEqual([
          Status.Active,
          org("steel"),
          org("steel"),
          b,
          DISP.active,
          rid,
        ]);
      }
      let bs = await prov.batchState(b);
      expect([bs.exists, Number(bs.ownerOrg), bs.recalled, Number(bs.createdAt), bs.itemCount, bs.disposition]).toEqual(
        [true, org("steel"), false, t, 3n, DISP.active],
      );

      // A later call adds members; a different disposition is kept per item.
      const more = [fresh(), fresh()];
      const rid2 = await nextRid();
      const eh2 = ev();
      const rc2 = await mined(as("steel").commissionBatch(b, more, DISP.inProgress, eh2));
      expectEvents(rc2, [
        ["Recorded", [rid2, org("steel"), eh2, Kind.Commission, 0]],
        ...more.map((k): Ev => ["ItemCreated", [k, b, rid2, DISP.inProgress]]),
      ]);
      bs = await prov.batchState(b);
      expect(bs.itemCount).toBe(5n);
      expect(bs.disposition).toBe(DISP.active);
      expect((await state(more[0]!)).disposition).toBe(DISP.inProgress);
      expect((await state(keys[0]!)).disposition).toBe(DISP.active);
    });

    it("registers many items without a batch when the batch key is zero", async () => {
      const keys = [fresh(), fresh()];
      const rid = await nextRid();
      const eh = ev();
      const rc = await mined(as("oem").commissionBatch(ZeroHash, keys, DISP.active, eh));
      expectEvents(rc, [
        ["Recorded", [rid, org("oem"), eh, Kind.Commission, 0]],
        ...keys.map((k): Ev => ["ItemCreated", [k, ZeroHash, rid, DISP.active]]),
      ]);
      const s = await state(keys[1]!);
      expect([s.batch, s.disposition, s.owner]).toEqual([ZeroHash, DISP.active, org("oem")]);
      expect((await prov.batchState(ZeroHash)).exists).toBe(false);
    });

    it("commissions a batch of 100 items and reports gas per item", async () => {
      const one = await mined(as("steel").commissionBatch(freshBatch(), [fresh()], DISP.active, ev()));
      const b = freshBatch("heat");
      const keys = Array.from({ length: 100 }, () => fresh("bar"));
      const rc = await mined(as("steel").commissionBatch(b, keys, DISP.active, ev()));
      expect(eventsOf(rc).filter(([n]) => n === "ItemCreated")).toHaveLength(100);
      expect((await prov.batchState(b)).itemCount).toBe(100n);
      for (const k of [keys[0]!, keys[57]!, keys[99]!]) expect((await state(k)).batch).toBe(b);
      const perItem = Number(rc.gasUsed - one.gasUsed) / 99;
      console.log(
        `commissionBatch: 100 items ${rc.gasUsed} gas, 1 item ${one.gasUsed} gas, ` +
          `marginal ${perItem.toFixed(0)} gas per item, average ${(Number(rc.gasUsed) / 100).toFixed(0)}`,
      );
      // Per item: one new packed slot (22.1k), its ItemCreated log (~2.1k), 32 bytes of calldata
      // (~0.5k) and the loop. A second slot per item would add 22k and fail this bound.
      expect(perItem).toBeLessThan(28_000);
    });

    it("refuses bad input, foreign and recalled batches, existing and repeated keys", async () => {
      await expectRevert(as("lab").commissionBatch(freshBatch(), [fresh()], DISP.active, ev()), prov, "MissingRole", [
        org("lab"),
        Role.Supplier,
      ]);
      await expectRevert(
        prov.connect(fx.outsider).commissionBatch(freshBatch(), [fresh()], DISP.active, ev()),
        prov,
        "NotActiveMember",
        [fx.outsider.address],
      );
      await expectRevert(as("steel").commissionBatch(freshBatch(), [], DISP.active, ev()), prov, "EmptyKeyList");
      await expectRevert(as("steel").commissionBatch(freshBatch(), [fresh()], ZeroHash, ev()), prov, "ZeroDisposition");
      await expectRevert(
        as("steel").commissionBatch(freshBatch(), [fresh()], DISP.active, ZeroHash),
        prov,
        "ZeroEventHash",
      );
      await expectRevert(
        as("steel").commissionBatch(freshBatch(), [fresh(), ZeroHash], DISP.active, ev()),
        prov,
        "ZeroKey",
      );
      const dup = fresh();
      await expectRevert(as("steel").commissionBatch(freshBatch(), [dup, dup], DISP.active, ev()), prov, "ItemExists", [
        dup,
      ]);
      const existing = await commissioned("steel");
      const b = freshBatch();
      await expectRevert(as("steel").commissionBatch(b, [fresh(), existing], DISP.active, ev()), prov, "ItemExists", [
        existing,
      ]);
      // Nothing of the failed call remains: neither the batch nor the first item.
      expect((await prov.batchState(b)).exists).toBe(false);

      await mined(as("steel").commissionBatch(b, [fresh()], DISP.active, ev()));
      await expectRevert(as("foundry").commissionBatch(b, [fresh()], DISP.active, ev()), prov, "NotBatchOwner", [
        b,
        org("foundry"),
        org("steel"),
      ]);
      const eh = ev();
      await mined(as("steel").commissionBatch(freshBatch(), [fresh()], DISP.active, eh));
      await expectRevert(as("steel").commissionBatch(b, [fresh()], DISP.active, eh), prov, "DuplicateEventHash", [
        eh,
        await prov.recordOfEvent(eh),
      ]);
      await mined(as("steel").recallBatch(b, ev()));
      await expectRevert(as("steel").commissionBatch(b, [fresh()], DISP.active, ev()), prov, "BatchIsRecalled", [b]);
    });
  });

  describe("ship, cancelShipment, receiveShipment", () => {
    it("ships to a consignee who receives custody only, then custody and ownership", async () => {
      const k = await commissioned("steel");
      let eh = ev();
      let rid = await nextRid();
      let rc = await mined(as("steel").ship([k], org("carrier"), false, eh));
      expectEvents(rc, [
        ["Recorded", [rid, org("steel"), eh, Kind.Ship, 0]],
        ["Shipped", [k, org("steel"), org("carrier"), rid, false]],
      ]);
      let s = await state(k);
      expect([s.status, s.custodian, s.consignee, s.owner, s.transfersOwnership, s.lastRecord]).toEqual([
        Status.InTransit,
        org("steel"),
        org("carrier"),
        org("steel"),
        false,
        rid,
      ]);

      eh = ev();
      rid = await nextRid();
      rc = await mined(as("carrier").receiveShipment([k], eh));
      expectEvents(rc, [
        ["Recorded", [rid, org("carrier"), eh, Kind.Receive, 0]],
        ["Received", [k, org("steel"), org("carrier"), rid, org("steel")]],
      ]);
      s = await state(k);
      expect([s.status, s.custodian, s.consignee, s.owner, s.lastRecord]).toEqual([
        Status.Active,
        org("carrier"),
        0,
        org("steel"),
        rid,
      ]);

      // The carrier holds but does not own it: it may pass custody on, not ownership.
      await expectRevert(as("carrier").ship([k], org("foundry"), true, ev()), prov, "NotOwner", [
        k,
        org("carrier"),
        org("steel"),
      ]);
      await mined(as("carrier").ship([k], org("foundry"), false, ev()));
      await mined(as("foundry").receiveShipment([k], ev()));
      expect([(await state(k)).custodian, (await state(k)).owner]).toEqual([org("foundry"), org("steel")]);

      // Back to the owner, who sells it to the OEM.
      await handOver([k], "foundry", "steel", false);
      rid = await nextRid();
      rc = await mined(as("steel").ship([k], org("oem"), true, ev()));
      expect(eventsOf(rc)[1]).toEqual(["Shipped", plain([k, org("steel"), org("oem"), rid, true])]);
      expect((await state(k)).transfersOwnership).toBe(true);
      rid = await nextRid();
      rc = await mined(as("oem").receiveShipment([k], ev()));
      expect(eventsOf(rc)[1]).toEqual(["Received", plain([k, org("steel"), org("oem"), rid, org("oem")])]);
      s = await state(k);
      expect([s.custodian, s.owner, s.transfersOwnership, s.consignee]).toEqual([org("oem"), org("oem"), false, 0]);
    });

    it("moves several items in one record", async () => {
      const keys = [await commissioned("steel"), await commissioned("steel")];
      const rid = await nextRid();
      const rc = await mined(as("steel").ship(keys, org("oem"), true, ev()));
      expect(eventsOf(rc).map(([n]) => n)).toEqual(["Recorded", "Shipped", "Shipped"]);
      const rid2 = await nextRid();
      await mined(as("oem").receiveShipment(keys, ev()));
      for (const k of keys) expect((await state(k)).lastRecord).toBe(rid2);
      expect(rid2).toBe(rid + 1n);
    });

    it("lets the sender cancel a pending shipment", async () => {
      const k = await commissioned("steel");
      await mined(as("steel").ship([k], org("oem"), true, ev()));
      const eh = ev();
      const rid = await nextRid();
      const rc = await mined(as("steel").cancelShipment([k], eh));
      expectEvents(rc, [
        ["Recorded", [rid, org("steel"), eh, Kind.CancelShipment, 0]],
        ["ShipmentCancelled", [k, org("steel"), org("oem"), rid]],
      ]);
      const s = await state(k);
      expect([s.status, s.custodian, s.owner, s.consignee, s.transfersOwnership]).toEqual([
        Status.Active,
        org("steel"),
        org("steel"),
        0,
        false,
      ]);
      await expectRevert(as("oem").receiveShipment([k], ev()), prov, "InvalidStatus", [k, Status.Active]);
    });

    it("lets only the custodian ship, only to another active organisation", async () => {
      const k = await commissioned("steel");
      await expectRevert(as("foundry").ship([k], org("oem"), false, ev()), prov, "NotCustodian", [
        k,
        org("foundry"),
        org("steel"),
      ]);
      await expectRevert(as("steel").ship([k], org("steel"), false, ev()), prov, "InvalidConsignee", [org("steel")]);
      await expectRevert(as("steel").ship([k], 0, false, ev()), prov, "InvalidConsignee", [0]);
      await expectRevert(as("steel").ship([k], UNKNOWN_ORG, false, ev()), prov, "InvalidConsignee", [UNKNOWN_ORG]);
      await expectRevert(as("steel").ship([], org("oem"), false, ev()), prov, "EmptyKeyList");
      const unknown = fresh();
      await expectRevert(as("steel").ship([unknown], org("oem"), false, ev()), prov, "UnknownItem", [unknown]);
      await expectRevert(as("steel").ship([k], org("oem"), false, ZeroHash), prov, "ZeroEventHash");
      await expectRevert(prov.connect(fx.outsider).ship([k], org("oem"), false, ev()), prov, "NotActiveMember", [
        fx.outsider.address,
      ]);
      await expectRevert(as("auditor").ship([k], org("oem"), false, ev()), prov, "NoWriteRights", [org("auditor")]);
      const eh = ev();
      await mined(as("steel").commission(fresh(), DISP.active, eh));
      await expectRevert(as("steel").ship([k], org("oem"), false, eh), prov, "DuplicateEventHash", [
        eh,
        await prov.recordOfEvent(eh),
      ]);
    });

    it("never ships or consumes an item in transit, and never ships it twice in one call", async () => {
      const k = await commissioned("steel");
      await expectRevert(as("steel").ship([k, k], org("oem"), false, ev()), prov, "InvalidStatus", [
        k,
        Status.InTransit,
      ]);
      await mined(as("steel").ship([k], org("oem"), false, ev()));
      await expectRevert(as("steel").ship([k], org("foundry"), false, ev()), prov, "InvalidStatus", [
        k,
        Status.InTransit,
      ]);
      await expectRevert(as("oem").ship([k], org("foundry"), false, ev()), prov, "InvalidStatus", [
        k,
        Status.InTransit,
      ]);
      await expectRevert(as("steel").transform([k], [fresh()], ZeroHash, DISP.active, ev()), prov, "InvalidStatus", [
        k,
        Status.InTransit,
      ]);
      const parent = await commissioned("steel");
      await expectRevert(as("steel").assemble(parent, [k], ev()), prov, "InvalidStatus", [k, Status.InTransit]);
      await expectRevert(as("steel").assemble(k, [parent], ev()), prov, "InvalidStatus", [k, Status.InTransit]);
    });

    it("lets only the consignee receive, only items in transit", async () => {
      const k = await commissioned("steel");
      await expectRevert(as("oem").receiveShipment([k], ev()), prov, "InvalidStatus", [k, Status.Active]);
      await mined(as("steel").ship([k], org("oem"), false, ev()));
      await expectRevert(as("foundry").receiveShipment([k], ev()), prov, "NotConsignee", [
        k,
        org("foundry"),
        org("oem"),
      ]);
      await expectRevert(as("steel").receiveShipment([k], ev()), prov, "NotConsignee", [k, org("steel"), org("oem")]);
      await expectRevert(as("oem").receiveShipment([], ev()), prov, "EmptyKeyList");
      const unknown = fresh();
      await expectRevert(as("oem").receiveShipment([unknown], ev()), prov, "UnknownItem", [unknown]);
      await expectRevert(as("auditor").receiveShipment([k], ev()), prov, "NoWriteRights", [org("auditor")]);
      await expectRevert(prov.connect(fx.outsider).receiveShipment([k], ev()), prov, "NotActiveMember", [
        fx.outsider.address,
      ]);
      await expectRevert(as("oem").receiveShipment([k, k], ev()), prov, "InvalidStatus", [k, Status.Active]);
      await mined(as("oem").receiveShipment([k], ev()));
    });

    it("lets only the sender cancel, only items in transit", async () => {
      const k = await commissioned("steel");
      await expectRevert(as("steel").cancelShipment([k], ev()), prov, "InvalidStatus", [k, Status.Active]);
      await mined(as("steel").ship([k], org("oem"), false, ev()));
      await expectRevert(as("oem").cancelShipment([k], ev()), prov, "NotCustodian", [k, org("oem"), org("steel")]);
      await expectRevert(as("steel").cancelShipment([], ev()), prov, "EmptyKeyList");
      const unknown = fresh();
      await expectRevert(as("steel").cancelShipment([unknown], ev()), prov, "UnknownItem", [unknown]);
      await expectRevert(as("auditor").cancelShipment([k], ev()), prov, "NoWriteRights", [org("auditor")]);
      await expectRevert(prov.connect(fx.outsider).cancelShipment([k], ev()), prov, "NotActiveMember", [
        fx.outsider.address,
      ]);
      await expectRevert(as("steel").cancelShipment([k], ZeroHash), prov, "ZeroEventHash");
    });
  });

  describe("transform", () => {
    it("consumes inputs and creates outputs in a batch, with genealogy edges", async () => {
      const a = await commissioned("foundry");
      const b = await commissioned("foundry");
      const outs = [fresh("casting"), fresh("casting"), fresh("casting")];
      const lot = freshBatch("cast");
      const eh = ev();
      const rid = await nextRid();
      const rc = await mined(as("foundry").transform([a, b], outs, lot, DISP.inProgress, eh));
      expectEvents(rc, [
        ["Recorded", [rid, org("foundry"), eh, Kind.Transform, 0]],
        ["ItemConsumed", [a, rid]],
        ["ItemConsumed", [b, rid]],
        ["BatchCreated", [lot, org("foundry"), rid, DISP.inProgress]],
        ...outs.map((k): Ev => ["ItemCreated", [k, lot, rid, DISP.inProgress]]),
        ["Transformed", [rid, org("foundry"), [a, b], outs]],
      ]);
      for (const k of [a, b]) {
        const s = await state(k);
        expect([s.status, s.custodian, s.lastRecord]).toEqual([Status.Consumed, org("foundry"), rid]);
      }
      for (const k of outs) {
        const s = await state(k);
        expect([s.status, s.owner, s.custodian, s.batch, s.disposition]).toEqual([
          Status.Active,
          org("foundry"),
          org("foundry"),
          lot,
          DISP.inProgress,
        ]);
      }
      expect((await prov.batchState(lot)).itemCount).toBe(3n);
    });

    it("adds outputs to an existing batch of the caller, or to none", async () => {
      const lot = freshBatch();
      await mined(as("oem").commissionBatch(lot, [fresh()], DISP.active, ev()));
      const input = await commissioned("oem");
      const out = fresh();
      await mined(as("oem").transform([input], [out], lot, DISP.damaged, ev()));
      expect([(await state(out)).batch, (await state(out)).disposition]).toEqual([lot, DISP.damaged]);
      expect((await prov.batchState(lot)).itemCount).toBe(2n);
      const input2 = await commissioned("oem");
      const out2 = fresh();
      await mined(as("oem").transform([input2], [out2], ZeroHash, DISP.active, ev()));
      expect((await state(out2)).batch).toBe(ZeroHash);
    });

    it("never consumes an input twice, and outputs must be new", async () => {
      const a = await commissioned("foundry");
      await expectRevert(
        as("foundry").transform([a, a], [fresh()], ZeroHash, DISP.active, ev()),
        prov,
        "InvalidStatus",
        [a, Status.Consumed],
      );
      await mined(as("foundry").transform([a], [fresh()], ZeroHash, DISP.active, ev()));
      await expectRevert(as("foundry").transform([a], [fresh()], ZeroHash, DISP.active, ev()), prov, "InvalidStatus", [
        a,
        Status.Consumed,
      ]);
      await expectRevert(as("foundry").ship([a], org("oem"), false, ev()), prov, "InvalidStatus", [a, Status.Consumed]);
      const b = await commissioned("foundry");
      await expectRevert(as("foundry").transform([b], [b], ZeroHash, DISP.active, ev()), prov, "ItemExists", [b]);
      const existing = await commissioned("oem");
      await expectRevert(as("foundry").transform([b], [existing], ZeroHash, DISP.active, ev()), prov, "ItemExists", [
        existing,
      ]);
      const o = fresh();
      await expectRevert(as("foundry").transform([b], [o, o], ZeroHash, DISP.active, ev()), prov, "ItemExists", [o]);
      await expectRevert(as("foundry").transform([b], [ZeroHash], ZeroHash, DISP.active, ev()), prov, "ZeroKey");
      expect((await state(b)).status).toBe(Status.Active);
    });

    it("refuses callers without the role or custody, bad lists and foreign or recalled batches", async () => {
      const a = await commissioned("foundry");
      await expectRevert(as("carrier").transform([a], [fresh()], ZeroHash, DISP.active, ev()), prov, "MissingRole", [
        org("carrier"),
        Role.Supplier,
      ]);
      await expectRevert(
        prov.connect(fx.outsider).transform([a], [fresh()], ZeroHash, DISP.active, ev()),
        prov,
        "NotActiveMember",
        [fx.outsider.address],
      );
      await expectRevert(as("steel").transform([a], [fresh()], ZeroHash, DISP.active, ev()), prov, "NotCustodian", [
        a,
        org("steel"),
        org("foundry"),
      ]);
      await expectRevert(as("foundry").transform([], [fresh()], ZeroHash, DISP.active, ev()), prov, "EmptyKeyList");
      await expectRevert(as("foundry").transform([a], [], ZeroHash, DISP.active, ev()), prov, "EmptyKeyList");
      await expectRevert(as("foundry").transform([a], [fresh()], ZeroHash, ZeroHash, ev()), prov, "ZeroDisposition");
      await expectRevert(
        as("foundry").transform([a], [fresh()], ZeroHash, DISP.active, ZeroHash),
        prov,
        "ZeroEventHash",
      );
      const unknown = fresh();
      await expectRevert(
        as("foundry").transform([unknown], [fresh()], ZeroHash, DISP.active, ev()),
        prov,
        "UnknownItem",
        [unknown],
      );
      const steelLot = freshBatch();
      await mined(as("steel").commissionBatch(steelLot, [fresh()], DISP.active, ev()));
      await expectRevert(as("foundry").transform([a], [fresh()], steelLot, DISP.active, ev()), prov, "NotBatchOwner", [
        steelLot,
        org("foundry"),
        org("steel"),
      ]);
      const ownLot = freshBatch();
      await mined(as("foundry").commissionBatch(ownLot, [fresh()], DISP.active, ev()));
      await mined(as("regulator").recallBatch(ownLot, ev()));
      await expectRevert(as("foundry").transform([a], [fresh()], ownLot, DISP.active, ev()), prov, "BatchIsRecalled", [
        ownLot,
      ]);
      const eh = ev();
      await mined(as("foundry").commission(fresh(), DISP.active, eh));
      await expectRevert(
        as("foundry").transform([a], [fresh()], ZeroHash, DISP.active, eh),
        prov,
        "DuplicateEventHash",
        [eh, await prov.recordOfEvent(eh)],
      );
    });
  });

  describe("assemble and disassemble", () => {
    it("assembles children into a parent; they move with it and resolve to its owner and custodian", async () => {
      const parent = await commissioned("oem", "product");
      const c1 = await commissioned("oem", "part");
      const c2 = await commissioned("oem", "part");
      const eh = ev();
      const rid = await nextRid();
      const rc = await mined(as("oem").assemble(parent, [c1, c2], eh));
      expectEvents(rc, [
        ["Recorded", [rid, org("oem"), eh, Kind.Assemble, 0]],
        ["Assembled", [c1, parent, rid]],
        ["Assembled", [c2, parent, rid]],
      ]);
      expect((await state(parent)).lastRecord).toBe(rid);
      const s = await state(c1);
      expect([s.status, s.parent, s.custodian, s.owner, s.lastRecord]).toEqual([
        Status.Assembled,
        parent,
        org("oem"),
        org("oem"),
        rid,
      ]);
      // An assembled child cannot move, be consumed or become a parent on its own.
      await expectRevert(as("oem").ship([c1], org("steel"), false, ev()), prov, "InvalidStatus", [
        c1,
        Status.Assembled,
      ]);
      await expectRevert(as("oem").transform([c1], [fresh()], ZeroHash, DISP.active, ev()), prov, "InvalidStatus", [
        c1,
        Status.Assembled,
      ]);
      const other = await commissioned("oem");
      await expectRevert(as("oem").assemble(other, [c1], ev()), prov, "InvalidStatus", [c1, Status.Assembled]);
      await expectRevert(as("oem").assemble(c1, [other], ev()), prov, "InvalidStatus", [c1, Status.Assembled]);
      // A cycle would need the parent to go into its own child: the child is not a top-level item.
      await expectRevert(as("oem").assemble(c2, [parent], ev()), prov, "InvalidStatus", [c2, Status.Assembled]);

      // Ship the product with ownership: the parts follow without records of their own.
      await handOver([parent], "oem", "carrier", false);
      expect([await prov.custodianOf(c1), await prov.ownerOf(c1)]).toEqual([
        BigInt(org("carrier")),
        BigInt(org("oem")),
      ]);
      expect((await state(c2)).custodian).toBe(org("carrier"));
    });

    it("resolves owner and custodian through several assembly levels", async () => {
      const product = await commissioned("oem", "product");
      const sub = await commissioned("oem", "sub");
      const part = await commissioned("oem", "part");
      await mined(as("oem").assemble(sub, [part], ev()));
      await mined(as("oem").assemble(product, [sub], ev()));
      await handOver([product], "oem", "steel", true);
      const s = await state(part);
      expect([s.owner, s.custodian, s.parent, s.status]).toEqual([org("steel"), org("steel"), sub, Status.Assembled]);
      expect(await prov.ownerOf(part)).toBe(BigInt(org("steel")));
    });

    it("disassembles children into the caller's custody and the parent's ownership", async () => {
      const parent = await commissioned("oem", "product");
      const c1 = await commissioned("oem", "part");
      const c2 = await commissioned("oem", "part");
      await mined(as("oem").assemble(parent, [c1, c2], ev()));
      // The product goes to a repair shop (custody only) which takes one part out.
      await handOver([parent], "oem", "machining", false);
      const eh = ev();
      const rid = await nextRid();
      const rc = await mined(as("machining").disassemble(parent, [c1], eh));
      expectEvents(rc, [
        ["Recorded", [rid, org("machining"), eh, Kind.Disassemble, 0]],
        ["Disassembled", [c1, parent, rid]],
      ]);
      const s = await state(c1);
      expect([s.status, s.parent, s.custodian, s.owner, s.lastRecord]).toEqual([
        Status.Active,
        ZeroHash,
        org("machining"),
        org("oem"),
        rid,
      ]);
      expect((await state(c2)).status).toBe(Status.Assembled);
      expect((await state(parent)).lastRecord).toBe(rid);
      await expectRevert(as("machining").disassemble(parent, [c1], ev()), prov, "NotChildOf", [c1, parent, ZeroHash]);
      // Released, the part can move on its own again.
      await mined(as("machining").ship([c1], org("oem"), false, ev()));
    });

    it("never makes a custodian the owner: no assembly of others' parts, no transformation of others' goods", async () => {
      // The steel mill sends a bar to machining for work, custody only.
      const bar = await commissioned("steel", "bar");
      await handOver([bar], "steel", "machining", false);
      const product = await commissioned("machining", "product");
      // Assembling it into machining's own product and taking it out again would make it machining's.
      await expectRevert(as("machining").assemble(product, [bar], ev()), prov, "OwnerMismatch", [
        bar,
        org("steel"),
        org("machining"),
      ]);
      // Nor may machining turn it into outputs of its own.
      await expectRevert(as("machining").transform([bar], [fresh()], ZeroHash, DISP.active, ev()), prov, "NotOwner", [
        bar,
        org("machining"),
        org("steel"),
      ]);
      // The bar is still steel's: machining cannot sell it on, steel can recall it.
      expect(await prov.ownerOf(bar)).toBe(BigInt(org("steel")));
      await expectRevert(as("machining").ship([bar], org("oem"), true, ev()), prov, "NotOwner", [
        bar,
        org("machining"),
        org("steel"),
      ]);
      await mined(as("steel").recall([bar], ev()));
      // Parts of the product's owner may still go in at a custodian's (contract assembly).
      const steelProduct = await commissioned("steel", "product");
      await handOver([steelProduct], "steel", "machining", false);
      await mined(as("machining").assemble(steelProduct, [bar], ev()));
      await mined(as("machining").disassemble(steelProduct, [bar], ev()));
      expect([await prov.ownerOf(bar), await prov.custodianOf(bar)]).toEqual([BigInt(org("steel")), BigInt(org("machining"))]);
    });

    it("refuses bad parents and children", async () => {
      const parent = await commissioned("oem");
      const child = await commissioned("oem");
      const foreign = await commissioned("steel");
      await expectRevert(as("carrier").assemble(parent, [child], ev()), prov, "MissingRole", [
        org("carrier"),
        Role.Supplier,
      ]);
      await expectRevert(prov.connect(fx.outsider).assemble(parent, [child], ev()), prov, "NotActiveMember", [
        fx.outsider.address,
      ]);
      await expectRevert(as("oem").assemble(parent, [], ev()), prov, "EmptyKeyList");
      const unknown = fresh();
      await expectRevert(as("oem").assemble(unknown, [child], ev()), prov, "UnknownItem", [unknown]);
      await expectRevert(as("oem").assemble(parent, [unknown], ev()), prov, "UnknownItem", [unknown]);
      await expectRevert(as("oem").assemble(foreign, [child], ev()), prov, "NotCustodian", [
        foreign,
        org("oem"),
        org("steel"),
      ]);
      await expectRevert(as("oem").assemble(parent, [foreign], ev()), prov, "NotCustodian", [
        foreign,
        org("oem"),
        org("steel"),
      ]);
      await expectRevert(as("oem").assemble(parent, [child, parent], ev()), prov, "AssemblyCycle", [parent]);
      await expectRevert(as("oem").assemble(parent, [child, child], ev()), prov, "InvalidStatus", [
        child,
        Status.Assembled,
      ]);
      await expectRevert(as("oem").assemble(parent, [child], ZeroHash), prov, "ZeroEventHash");
      const consumed = await commissioned("oem");
      await mined(as("oem").transform([consumed], [fresh()], ZeroHash, DISP.active, ev()));
      await expectRevert(as("oem").assemble(consumed, [child], ev()), prov, "InvalidStatus", [
        consumed,
        Status.Consumed,
      ]);
      await expectRevert(as("oem").assemble(parent, [consumed], ev()), prov, "InvalidStatus", [
        consumed,
        Status.Consumed,
      ]);
      expect((await state(child)).status).toBe(Status.Active);
    });

    it("refuses disassembly by others, of wrong children, and of parents not at hand", async () => {
      const parent = await commissioned("oem");
      const child = await commissioned("oem");
      const loose = await commissioned("oem");
      await mined(as("oem").assemble(parent, [child], ev()));
      await expectRevert(as("lab").disassemble(parent, [child], ev()), prov, "MissingRole", [
        org("lab"),
        Role.Supplier,
      ]);
      await expectRevert(prov.connect(fx.outsider).disassemble(parent, [child], ev()), prov, "NotActiveMember", [
        fx.outsider.address,
      ]);
      await expectRevert(as("oem").disassemble(parent, [], ev()), prov, "EmptyKeyList");
      const unknown = fresh();
      await expectRevert(as("oem").disassemble(unknown, [child], ev()), prov, "UnknownItem", [unknown]);
      await expectRevert(as("steel").disassemble(parent, [child], ev()), prov, "NotCustodian", [
        parent,
        org("steel"),
        org("oem"),
      ]);
      await expectRevert(as("oem").disassemble(parent, [loose], ev()), prov, "NotChildOf", [loose, parent, ZeroHash]);
      await expectRevert(as("oem").disassemble(parent, [child], ZeroHash), prov, "ZeroEventHash");
      // A parent that is itself assembled, or in transit, is not at hand.
      const top = await commissioned("oem");
      await mined(as("oem").assemble(top, [parent], ev()));
      await expectRevert(as("oem").disassemble(parent, [child], ev()), prov, "InvalidStatus", [
        parent,
        Status.Assembled,
      ]);
      await mined(as("oem").ship([top], org("steel"), false, ev()));
      await expectRevert(as("oem").disassemble(top, [parent], ev()), prov, "InvalidStatus", [top, Status.InTransit]);
    });
  });

  describe("inspect", () => {
    it("records results by the custodian and by a Certifier that does not hold the item", async () => {
      const k = await commissioned("machining");
      let eh = ev();
      let rid = await nextRid();
      let rc = await mined(as("machining").inspect([k], true, eh));
      expectEvents(rc, [
        ["Recorded", [rid, org("machining"), eh, Kind.Inspect, 0]],
        ["Inspected", [k, rid, org("machining"), true]],
      ]);
      const k2 = await commissioned("machining");
      eh = ev();
      rid = await nextRid();
      rc = await mined(as("lab").inspect([k, k2], false, eh));
      expectEvents(rc, [
        ["Recorded", [rid, org("lab"), eh, Kind.Inspect, 0]],
        ["Inspected", [k, rid, org("lab"), false]],
        ["Inspected", [k2, rid, org("lab"), false]],
      ]);
      expect((await state(k)).lastRecord).toBe(rid);
    });

    it("lets the custodian of the top-level item inspect an assembled part", async () => {
      const parent = await commissioned("oem");
      const part = await commissioned("oem");
      await mined(as("oem").assemble(parent, [part], ev()));
      await handOver([parent], "oem", "carrier", false);
      await mined(as("carrier").inspect([part], true, ev()));
      await expectRevert(as("oem").inspect([part], true, ev()), prov, "NotCustodianOrCertifier", [part, org("oem")]);
    });

    it("refuses others, empty lists and unknown items", async () => {
      const k = await commissioned("machining");
      await expectRevert(as("regulator").inspect([k], true, ev()), prov, "NotCustodianOrCertifier", [
        k,
        org("regulator"),
      ]);
      await expectRevert(as("auditor").inspect([k], true, ev()), prov, "NoWriteRights", [org("auditor")]);
      await expectRevert(prov.connect(fx.outsider).inspect([k], true, ev()), prov, "NotActiveMember", [
        fx.outsider.address,
      ]);
      await expectRevert(as("lab").inspect([], true, ev()), prov, "EmptyKeyList");
      const unknown = fresh();
      await expectRevert(as("lab").inspect([unknown], true, ev()), prov, "UnknownItem", [unknown]);
      await expectRevert(as("lab").inspect([k], true, ZeroHash), prov, "ZeroEventHash");
    });
  });

  describe("setDisposition", () => {
    it("changes the disposition of items held by the caller, overriding the batch default", async () => {
      const lot = freshBatch();
      const k = fresh();
      await mined(as("steel").commissionBatch(lot, [k], DISP.active, ev()));
      await mined(as("steel").ship([k], org("oem"), false, ev()));
      // The sender still holds an item in transit.
      const eh = ev();
      const rid = await nextRid();
      const rc = await mined(as("steel").setDisposition([k], DISP.damaged, eh));
      expectEvents(rc, [
        ["Recorded", [rid, org("steel"), eh, Kind.Disposition, 0]],
        ["DispositionChanged", [k, rid, DISP.damaged]],
      ]);
      const s = await state(k);
      expect([s.disposition, s.lastRecord, s.status]).toEqual([DISP.damaged, rid, Status.InTransit]);
      expect((await prov.batchState(lot)).disposition).toBe(DISP.active);
    });

    it("lets the top-level custodian change an assembled part's disposition", async () => {
      const parent = await commissioned("oem");
      const part = await commissioned("oem");
      await mined(as("oem").assemble(parent, [part], ev()));
      await mined(as("oem").setDisposition([part], DISP.inProgress, ev()));
      expect((await state(part)).disposition).toBe(DISP.inProgress);
    });

    it("refuses others, consumed items, zero dispositions, empty lists and unknown items", async () => {
      const k = await commissioned("steel");
      await expectRevert(as("oem").setDisposition([k], DISP.damaged, ev()), prov, "NotCustodian", [
        k,
        org("oem"),
        org("steel"),
      ]);
      await expectRevert(as("auditor").setDisposition([k], DISP.damaged, ev()), prov, "NoWriteRights", [
        org("auditor"),
      ]);
      await expectRevert(prov.connect(fx.outsider).setDisposition([k], DISP.damaged, ev()), prov, "NotActiveMember", [
        fx.outsider.address,
      ]);
      await expectRevert(as("steel").setDisposition([k], ZeroHash, ev()), prov, "ZeroDisposition");
      await expectRevert(as("steel").setDisposition([], DISP.damaged, ev()), prov, "EmptyKeyList");
      const unknown = fresh();
      await expectRevert(as("steel").setDisposition([unknown], DISP.damaged, ev()), prov, "UnknownItem", [unknown]);
      await expectRevert(as("steel").setDisposition([k], DISP.damaged, ZeroHash), prov, "ZeroEventHash");
      await mined(as("steel").transform([k], [fresh()], ZeroHash, DISP.active, ev()));
      await expectRevert(as("steel").setDisposition([k], DISP.damaged, ev()), prov, "InvalidStatus", [
        k,
        Status.Consumed,
      ]);
    });
  });

  describe("recall and recallBatch", () => {
    it("recalls items by their owner or a Regulator, without freezing them", async () => {
      const k = await commissioned("steel");
      await handOver([k], "steel", "carrier", false);
      let eh = ev();
      let rid = await nextRid();
      let rc = await mined(as("steel").recall([k], eh));
      expectEvents(rc, [
        ["Recorded", [rid, org("steel"), eh, Kind.Recall, 0]],
        ["Recalled", [k, rid, org("steel")]],
      ]);
      expect(await prov.isRecalled(k)).toBe(true);
      expect([(await state(k)).recalled, (await state(k)).lastRecord]).toEqual([true, rid]);
      // It must still be able to travel back to the owner.
      await handOver([k], "carrier", "steel", false);

      const k2 = await commissioned("oem");
      eh = ev();
      rid = await nextRid();
      rc = await mined(as("regulator").recall([k2], eh));
      expect(eventsOf(rc)[1]).toEqual(["Recalled", plain([k2, rid, org("regulator")])]);
      expect(await prov.isRecalled(k2)).toBe(true);
    });

    it("lets the owner of the top-level item recall an assembled part", async () => {
      const parent = await commissioned("oem");
      const part = await commissioned("oem");
      await mined(as("oem").assemble(parent, [part], ev()));
      await handOver([parent], "oem", "machining", true);
      await expectRevert(as("oem").recall([part], ev()), prov, "NotOwnerOrRegulator", [part, org("oem")]);
      await mined(as("machining").recall([part], ev()));
      expect(await prov.isRecalled(part)).toBe(true);
      expect(await prov.isRecalled(parent)).toBe(false);
    });

    it("recalls a whole batch, present and past members, by its owner or a Regulator", async () => {
      const lot = freshBatch();
      const keys = [fresh(), fresh()];
      await mined(as("steel").commissionBatch(lot, keys, DISP.active, ev()));
      await handOver([keys[0]!], "steel", "oem", true);
      const eh = ev();
      const rid = await nextRid();
      const rc = await mined(as("steel").recallBatch(lot, eh));
      expectEvents(rc, [
        ["Recorded", [rid, org("steel"), eh, Kind.RecallBatch, 0]],
        ["BatchRecalled", [lot, rid, org("steel")]],
      ]);
      for (const k of keys) {
        expect(await prov.isRecalled(k)).toBe(true);
        expect((await state(k)).recalled).toBe(true);
      }
      expect((await prov.batchState(lot)).recalled).toBe(true);
      await expectRevert(as("oem").recall([keys[0]!], ev()), prov, "AlreadyRecalled", [keys[0]]);
      await expectRevert(as("regulator").recallBatch(lot, ev()), prov, "BatchIsRecalled", [lot]);

      const lot2 = freshBatch();
      await mined(as("foundry").commissionBatch(lot2, [fresh()], DISP.active, ev()));
      await mined(as("regulator").recallBatch(lot2, ev()));
      expect((await prov.batchState(lot2)).recalled).toBe(true);
    });

    it("refuses others, repeated recalls, empty lists and unknown items or batches", async () => {
      const k = await commissioned("steel");
      await expectRevert(as("lab").recall([k], ev()), prov, "NotOwnerOrRegulator", [k, org("lab")]);
      await expectRevert(as("auditor").recall([k], ev()), prov, "NoWriteRights", [org("auditor")]);
      await expectRevert(prov.connect(fx.outsider).recall([k], ev()), prov, "NotActiveMember", [fx.outsider.address]);
      await expectRevert(as("steel").recall([], ev()), prov, "EmptyKeyList");
      const unknown = fresh();
      await expectRevert(as("steel").recall([unknown], ev()), prov, "UnknownItem", [unknown]);
      await expectRevert(as("steel").recall([k, k], ev()), prov, "AlreadyRecalled", [k]);
      await expectRevert(as("steel").recall([k], ZeroHash), prov, "ZeroEventHash");
      await mined(as("steel").recall([k], ev()));
      await expectRevert(as("regulator").recall([k], ev()), prov, "AlreadyRecalled", [k]);

      const lot = freshBatch();
      await mined(as("steel").commissionBatch(lot, [fresh()], DISP.active, ev()));
      await expectRevert(as("foundry").recallBatch(lot, ev()), prov, "NotOwnerOrRegulator", [lot, org("foundry")]);
      await expectRevert(as("auditor").recallBatch(lot, ev()), prov, "NoWriteRights", [org("auditor")]);
      await expectRevert(prov.connect(fx.outsider).recallBatch(lot, ev()), prov, "NotActiveMember", [
        fx.outsider.address,
      ]);
      const unknownLot = freshBatch();
      await expectRevert(as("regulator").recallBatch(unknownLot, ev()), prov, "UnknownBatch", [unknownLot]);
      await expectRevert(as("steel").recallBatch(lot, ZeroHash), prov, "ZeroEventHash");
    });
  });

  describe("correct", () => {
    it("adds a corrective record pointing to the corrected one, which stays", async () => {
      const eh0 = ev();
      await mined(as("steel").commission(fresh(), DISP.active, eh0));
      const original = await prov.recordOfEvent(eh0);
      const eh = ev();
      const rid = await nextRid();
      expect(await as("steel").correct.staticCall(original, eh)).toBe(rid);
      const rc = await mined(as("steel").correct(original, eh));
      expectEvents(rc, [["Recorded", [rid, org("steel"), eh, Kind.Correction, original]]]);
      const r = await prov.record(rid);
      expect([Number(r.kind), r.corrects, Number(r.orgId), r.eventHash]).toEqual([
        Kind.Correction,
        original,
        org("steel"),
        eh,
      ]);
      expect(Number((await prov.record(original)).kind)).toBe(Kind.Commission);
      // A correction can itself be corrected.
      await mined(as("steel").correct(rid, ev()));
      expect((await prov.record(rid + 1n)).corrects).toBe(rid);
    });

    it("refuses corrections by another organisation, of unknown records, and reused event hashes", async () => {
      const eh0 = ev();
      await mined(as("steel").commission(fresh(), DISP.active, eh0));
      const original = await prov.recordOfEvent(eh0);
      await expectRevert(as("foundry").correct(original, ev()), prov, "NotRecordAuthor", [
        original,
        org("foundry"),
        org("steel"),
      ]);
      await expectRevert(as("steel").correct(0, ev()), prov, "UnknownRecord", [0]);
      const beyond = (await prov.recordCount()) + 1n;
      await expectRevert(as("steel").correct(beyond, ev()), prov, "UnknownRecord", [beyond]);
      await expectRevert(as("steel").correct(original, eh0), prov, "DuplicateEventHash", [eh0, original]);
      await expectRevert(as("steel").correct(original, ZeroHash), prov, "ZeroEventHash");
      await expectRevert(as("auditor").correct(original, ev()), prov, "NoWriteRights", [org("auditor")]);
      await expectRevert(prov.connect(fx.outsider).correct(original, ev()), prov, "NotActiveMember", [
        fx.outsider.address,
      ]);
    });
  });

  describe("observe", () => {
    it("records an event hash that changes no state, with one log per named key, known or not", async () => {
      const known = await commissioned("steel");
      await handOver([known], "steel", "carrier", false);
      const before = await state(known);
      const unknown = fresh("never-commissioned");
      const eh = ev();
      const rid = await nextRid();
      // The carrier holds the item: it is a party to events about it.
      expect(await as("carrier").observe.staticCall([known, unknown], eh)).toBe(rid);
      const rc = await mined(as("carrier").observe([known, unknown], eh));
      expectEvents(rc, [
        ["Recorded", [rid, org("carrier"), eh, Kind.Observation, 0n]],
        ["Observed", [known, rid]],
        ["Observed", [unknown, rid]],
      ]);
      const r = await prov.record(rid);
      expect([Number(r.kind), Number(r.orgId), r.eventHash, r.corrects]).toEqual([Kind.Observation, org("carrier"), eh, 0n]);
      expect(await prov.recordOfEvent(eh)).toBe(rid);
      // Nothing about the items changed, and the unknown item was not created.
      expect(await state(known)).toEqual(before);
      expect((await state(unknown)).exists).toBe(false);
      // An event naming no item at all (e.g. quantities only) is still recorded.
      const bare = ev();
      expectEvents(await mined(as("lab").observe([], bare)), [["Recorded", [rid + 1n, org("lab"), bare, Kind.Observation, 0n]]]);
      // An observation can be corrected like any record.
      await mined(as("carrier").correct(rid, ev()));
      expect((await prov.record(rid + 2n)).corrects).toBe(rid);
    });

    it("costs one record plus a log per key", async () => {
      const keys = Array.from({ length: 10 }, () => fresh("observed"));
      await commissioned("steel"); // the record counter is no longer zero, as on any live chain
      const one = await mined(as("oem").observe([keys[0]!], ev()));
      const ten = await mined(as("oem").observe(keys, ev()));
      const perKey = Number(ten.gasUsed - one.gasUsed) / 9;
      // A log and the check that the caller is a party: two cold reads (item, batch) for an unknown key.
      expect(perKey).toBeLessThan(7_000);
      // The record itself (two slots, the hash index, the counter) is what an observation pays for,
      // with one read of the namespace policy (another contract).
      expect(Number(one.gasUsed)).toBeLessThan(145_000);
    });

    it("refuses a reused or zero event hash, a zero key, Auditors and outsiders", async () => {
      const eh = ev();
      await mined(as("steel").commission(fresh(), DISP.active, eh));
      const rid = await prov.recordOfEvent(eh);
      await expectRevert(as("steel").observe([], eh), prov, "DuplicateEventHash", [eh, rid]);
      await expectRevert(as("foundry").observe([fresh()], ZeroHash), prov, "ZeroEventHash");
      await expectRevert(as("foundry").observe([fresh(), ZeroHash], ev()), prov, "ZeroKey");
      await expectRevert(as("auditor").observe([fresh()], ev()), prov, "NoWriteRights", [org("auditor")]);
      await expectRevert(prov.connect(fx.outsider).observe([], ev()), prov, "NotActiveMember", [fx.outsider.address]);
      // The observed hash is then taken, for the same organisation, for every other kind of record too.
      const seen = ev();
      await mined(as("foundry").observe([], seen));
      await expectRevert(as("foundry").commission(fresh(), DISP.active, seen), prov, "DuplicateEventHash", [seen, await prov.recordOfEvent(seen)]);
    });
  });

  describe("multicall: one document, one transaction", () => {
    it("fits a document of 100 observed events (the node's capture limit) well inside a block", async () => {
      const calls = Array.from({ length: 100 }, () => prov.interface.encodeFunctionData("observe", [[fresh("doc")], ev()]));
      const rc = await mined(as("oem").multicall(calls));
      expect(eventsOf(rc).filter(([n]) => n === "Recorded")).toHaveLength(100);
      // Measured 7.9M: about a quarter of a 30M block.
      expect(Number(rc.gasUsed)).toBeLessThan(10_000_000);
    });

    it("runs every call as the sender, all or nothing, with the single calls' custom errors", async () => {
      const a = fresh("mc");
      const b = fresh("mc");
      const [e1, e2, e3] = [ev(), ev(), ev()];
      const calls = [
        prov.interface.encodeFunctionData("commission", [a, DISP.active, e1]),
        prov.interface.encodeFunctionData("ship", [[a], org("foundry"), true, e2]),
        prov.interface.encodeFunctionData("observe", [[b], e3]),
      ];
      const rid = await nextRid();
      const rc = await mined(as("steel").multicall(calls));
      expect(eventsOf(rc).filter(([n]) => n === "Recorded").map(([, args]) => [args[0], args[1], args[3]])).toEqual(
        plain([
          [rid, org("steel"), Kind.Commission],
          [rid + 1n, org("steel"), Kind.Ship],
          [rid + 2n, org("steel"), Kind.Observation],
        ]),
      );
      expect((await state(a)).status).toBe(Status.InTransit);

      // A failing call reverts the whole batch with its own error; nothing of it stays.
      const c = fresh("mc");
      const [f1, f2] = [ev(), ev()];
      const count = await prov.recordCount();
      await expectRevert(
        as("steel").multicall([
          prov.interface.encodeFunctionData("commission", [c, DISP.active, f1]),
          prov.interface.encodeFunctionData("receiveShipment", [[a], f2]),
        ]),
        prov,
        "NotConsignee",
        [a, org("steel"), org("foundry")],
      );
      expect(await prov.recordCount()).toBe(count);
      expect((await state(c)).exists).toBe(false);
      expect(await prov.recordOfEvent(f1)).toBe(0n);
      // The consignee's own multicall passes its identity through.
      await mined(as("foundry").multicall([prov.interface.encodeFunctionData("receiveShipment", [[a], f2])]));
      expect((await state(a)).owner).toBe(org("foundry"));
    });
  });

  describe("event hashes", () => {
    it("every writing function refuses a zero or reused event hash, and succeeds with a fresh one", async () => {
      const used = ev();
      await mined(as("steel").commission(fresh(), DISP.active, used));
      const usedRid = await prov.recordOfEvent(used);
      // Reused means by the same organisation: each has its own record of the hash.
      await mined(as("oem").commission(fresh(), DISP.active, used));
      const usedBy = { steel: usedRid, oem: await prov.recordOfEventBy(used, org("oem")) };
      expect(usedBy.oem).toBe(usedRid + 1n);
      // Subjects that make each call valid, so the event hash is the only fault.
      const subject = () => fresh("subject");
      const [toShip, toTransform, toInspect, toMark, toRecall] = [
        subject(),
        subject(),
        subject(),
        subject(),
        subject(),
      ];
      const [parent, child, holder, held] = [subject(), subject(), subject(), subject()];
      await mined(
        as("oem").commissionBatch(
          ZeroHash,
          [toShip, toTransform, toInspect, toMark, toRecall, parent, child, holder, held],
          DISP.active,
          ev(),
        ),
      );
      await mined(as("oem").assemble(holder, [held], ev()));
      const [toCancel, toReceive] = [fresh(), fresh()];
      await mined(as("steel").commissionBatch(ZeroHash, [toCancel, toReceive], DISP.active, ev()));
      await mined(as("steel").ship([toCancel, toReceive], org("oem"), false, ev()));
      const lot = freshBatch();
      await mined(as("steel").commissionBatch(lot, [fresh()], DISP.active, ev()));
      const qtyLot = freshBatch("qty");
      const KGM = "0x4b474d0000000000";
      await mined(as("steel").commissionLot(qtyLot, 10n, KGM, DISP.active, ev()));
      await mined(as("steel").shipLot(qtyLot, 4n, KGM, org("oem"), ev()));

      const calls: [string, "steel" | "oem", (eh: string) => Promise<ContractTransactionResponse>][] = [
        ["commission", "oem", (eh) => as("oem").commission(fresh(), DISP.active, eh)],
        ["commissionBatch", "oem", (eh) => as("oem").commissionBatch(freshBatch(), [fresh()], DISP.active, eh)],
        ["ship", "oem", (eh) => as("oem").ship([toShip], org("steel"), false, eh)],
        ["cancelShipment", "steel", (eh) => as("steel").cancelShipment([toCancel], eh)],
        ["receiveShipment", "oem", (eh) => as("oem").receiveShipment([toReceive], eh)],
        ["transform", "oem", (eh) => as("oem").transform([toTransform], [fresh()], ZeroHash, DISP.active, eh)],
        ["assemble", "oem", (eh) => as("oem").assemble(parent, [child], eh)],
        ["disassemble", "oem", (eh) => as("oem").disassemble(holder, [held], eh)],
        ["inspect", "oem", (eh) => as("oem").inspect([toInspect], true, eh)],
        ["setDisposition", "oem", (eh) => as("oem").setDisposition([toMark], DISP.damaged, eh)],
        ["recall", "oem", (eh) => as("oem").recall([toRecall], eh)],
        ["recallBatch", "steel", (eh) => as("steel").recallBatch(lot, eh)],
        ["correct", "steel", (eh) => as("steel").correct(usedRid, eh)],
        ["commissionLot", "steel", (eh) => as("steel").commissionLot(qtyLot, 1n, KGM, DISP.active, eh)],
        ["shipLot", "steel", (eh) => as("steel").shipLot(qtyLot, 1n, KGM, org("oem"), eh)],
        ["receiveLot", "oem", (eh) => as("oem").receiveLot(qtyLot, org("steel"), 1n, KGM, eh)],
        ["cancelLotShipment", "steel", (eh) => as("steel").cancelLotShipment(qtyLot, org("oem"), 1n, KGM, eh)],
      ];
      const before = await prov.recordCount();
      for (const [, caller, call] of calls) {
        await expectRevert(call(ZeroHash), prov, "ZeroEventHash");
        await expectRevert(call(used), prov, "DuplicateEventHash", [used, usedBy[caller]]);
      }
      expect(await prov.recordCount()).toBe(before);
      const kinds: number[] = [];
      for (const [name, , call] of calls) {
        const eh = ev();
        const rc = await mined(call(eh));
        expect(eventsOf(rc)[0]![0], name).toBe("Recorded");
        kinds.push(Number((await prov.record(await prov.recordOfEvent(eh))).kind));
      }
      expect(kinds).toEqual([
        Kind.Commission,
        Kind.Commission,
        Kind.Ship,
        Kind.CancelShipment,
        Kind.Receive,
        Kind.Transform,
        Kind.Assemble,
        Kind.Disassemble,
        Kind.Inspect,
        Kind.Disposition,
        Kind.Recall,
        Kind.RecallBatch,
        Kind.Correction,
        Kind.Commission,
        Kind.Ship,
        Kind.Receive,
        Kind.CancelShipment,
      ]);
    });

    it("a hash squatted through a state change on the squatter's own goods never blocks the entitled organisation's record", async () => {
      // The OEM learns the steel mill's coming event hash and records it first, on its own part.
      const own = await commissioned("oem");
      const hashOfSteel = ev();
      await mined(as("oem").setDisposition([own], DISP.damaged, hashOfSteel));
      const squatted = await prov.recordOfEventBy(hashOfSteel, org("oem"));
      expect(squatted).not.toBe(0n);

      // The steel mill's own commissioning still records, under its own record of the hash.
      const k = fresh();
      const rid = await nextRid();
      const rc = await mined(as("steel").commission(k, DISP.active, hashOfSteel));
      expect(eventsOf(rc)[0]).toEqual(["Recorded", plain([rid, org("steel"), hashOfSteel, Kind.Commission, 0])]);
      expect((await state(k)).owner).toBe(org("steel"));
      expect(await prov.recordOfEventBy(hashOfSteel, org("steel"))).toBe(rid);
      expect(await prov.recordOfEventBy(hashOfSteel, org("oem"))).toBe(squatted);
      expect(await prov.recordOfEventBy(hashOfSteel, org("foundry"))).toBe(0n);
      // recordOfEvent is the first record, whoever made it: not an answer to "whose event".
      expect(await prov.recordOfEvent(hashOfSteel)).toBe(squatted);

      // Each organisation's replay is refused, naming its own record.
      await expectRevert(as("steel").commission(fresh(), DISP.active, hashOfSteel), prov, "DuplicateEventHash", [hashOfSteel, rid]);
      await expectRevert(as("oem").observe([own], hashOfSteel), prov, "DuplicateEventHash", [hashOfSteel, squatted]);
    });
  });

  describe("views", () => {
    it("answer zero for unknown keys, batches, events and records", async () => {
      const unknown = fresh();
      const s = await state(unknown);
      expect(s).toEqual({
        exists: false,
        status: Status.None,
        owner: 0,
        custodian: 0,
        consignee: 0,
        transfersOwnership: false,
        recalled: false,
        parent: ZeroHash,
        batch: ZeroHash,
        disposition: ZeroHash,
        createdAt: 0,
        lastRecord: 0n,
      });
      expect(await prov.ownerOf(unknown)).toBe(0n);
      expect(await prov.custodianOf(unknown)).toBe(0n);
      expect(await prov.isRecalled(unknown)).toBe(false);
      const bs = await prov.batchState(freshBatch());
      expect([bs.exists, bs.ownerOrg, bs.itemCount]).toEqual([false, 0n, 0n]);
      expect(await prov.recordOfEvent(ev())).toBe(0n);
      const r = await prov.record((await prov.recordCount()) + 1n);
      expect([Number(r.kind), r.eventHash, r.orgId]).toEqual([Kind.None, ZeroHash, 0n]);
      expect(Number((await prov.record(0)).kind)).toBe(Kind.None);
    });

    it("numbers records sequentially from 1", async () => {
      const before = await prov.recordCount();
      const e1 = ev();
      const e2 = ev();
      await mined(as("steel").commission(fresh(), DISP.active, e1));
      await mined(as("steel").commission(fresh(), DISP.active, e2));
      expect([await prov.recordOfEvent(e1), await prov.recordOfEvent(e2), await prov.recordCount()]).toEqual([
        before + 1n,
        before + 2n,
        before + 2n,
      ]);
    });
  });

  describe("six-tier genealogy: steel heat -> bar -> casting -> machined part -> sub-assembly -> product", () => {
    it("records every step with its events, and the log alone rebuilds the graph", async () => {
      const heat = lgtin("HEAT-4711");
      const bars = [sgtin("BAR-1"), sgtin("BAR-2")];
      const castLot = lgtin("CAST-0815");
      const castings = [sgtin("CAST-1"), sgtin("CAST-2")];
      const machined = [sgtin("SHAFT-1"), sgtin("SHAFT-2")];
      const housing = sgtin("HOUSING-1");
      const gearbox = sgtin("GEARBOX-1");
      const vehicle = sgtin("VEHICLE-1");
      const fromBlock = await conn.ethers.provider.getBlockNumber();

      // Tier 1-2: the steel mill pours a heat and registers its bars as the heat's batch.
      let rid = await nextRid();
      let eh = ev();
      let rc = await mined(as("steel").commissionBatch(heat, bars, DISP.active, eh));
      expectEvents(rc, [
        ["Recorded", [rid, org("steel"), eh, Kind.Commission, 0]],
        ["BatchCreated", [heat, org("steel"), rid, DISP.active]],
        ["ItemCreated", [bars[0], heat, rid, DISP.active]],
        ["ItemCreated", [bars[1], heat, rid, DISP.active]],
      ]);

      // Sold to the foundry: custody and ownership move on receipt.
      rid = await nextRid();
      rc = await mined(as("steel").ship(bars, org("foundry"), true, ev()));
      expect(eventsOf(rc).slice(1)).toEqual(
        bars.map((b) => ["Shipped", plain([b, org("steel"), org("foundry"), rid, true])]),
      );
      rid = await nextRid();
      rc = await mined(as("foundry").receiveShipment(bars, ev()));
      expect(eventsOf(rc).slice(1)).toEqual(
        bars.map((b) => ["Received", plain([b, org("steel"), org("foundry"), rid, org("foundry")])]),
      );

      // Tier 3: the foundry casts both bars into two castings of one casting lot.
      rid = await nextRid();
      eh = ev();
      rc = await mined(as("foundry").transform(bars, castings, castLot, DISP.inProgress, eh));
      expectEvents(rc, [
        ["Recorded", [rid, org("foundry"), eh, Kind.Transform, 0]],
        ["ItemConsumed", [bars[0], rid]],
        ["ItemConsumed", [bars[1], rid]],
        ["BatchCreated", [castLot, org("foundry"), rid, DISP.inProgress]],
        ["ItemCreated", [castings[0], castLot, rid, DISP.inProgress]],
        ["ItemCreated", [castings[1], castLot, rid, DISP.inProgress]],
        ["Transformed", [rid, org("foundry"), bars, castings]],
      ]);
      await handOver(castings, "foundry", "machining");

      // Tier 4: each casting is machined into a shaft.
      for (let i = 0; i < 2; i++) {
        rid = await nextRid();
        rc = await mined(as("machining").transform([castings[i]!], [machined[i]!], ZeroHash, DISP.active, ev()));
        expect(eventsOf(rc).map(([n]) => n)).toEqual(["Recorded", "ItemConsumed", "ItemCreated", "Transformed"]);
        expect(eventsOf(rc)[3]).toEqual(["Transformed", plain([rid, org("machining"), [castings[i]], [machined[i]]])]);
      }
      await mined(as("lab").inspect(machined, true, ev()));
      await handOver(machined, "machining", "oem");

      // Tier 5: the OEM builds a gearbox sub-assembly around a housing; tier 6: the vehicle.
      await mined(as("oem").commissionBatch(ZeroHash, [housing, gearbox, vehicle], DISP.active, ev()));
      rid = await nextRid();
      rc = await mined(as("oem").assemble(gearbox, [housing, ...machined], ev()));
      expect(eventsOf(rc).slice(1)).toEqual([housing, ...machined].map((c) => ["Assembled", plain([c, gearbox, rid])]));
      rid = await nextRid();
      rc = await mined(as("oem").assemble(vehicle, [gearbox], ev()));
      expect(eventsOf(rc).slice(1)).toEqual([["Assembled", plain([gearbox, vehicle, rid])]]);

      // The vehicle is sold: everything inside now belongs to and sits with the dealer.
      await handOver([vehicle], "oem", "machining");
      expect(await prov.ownerOf(machined[0]!)).toBe(BigInt(org("machining")));

      // Rebuild the genealogy graph from events only (what the indexer does).
      const edges = new Set<string>();
      for (const log of await prov.queryFilter(prov.filters.Transformed(), fromBlock)) {
        for (const i of log.args.inputs) for (const o of log.args.outputs) edges.add(`${i}>${o}`);
      }
      for (const log of await prov.queryFilter(prov.filters.Assembled(), fromBlock)) {
        edges.add(`${log.args.child}>${log.args.parent}`);
      }
      for (const log of await prov.queryFilter(prov.filters.Disassembled(), fromBlock)) {
        edges.delete(`${log.args.child}>${log.args.parent}`);
      }
      const members = (await prov.queryFilter(prov.filters.ItemCreated(undefined, heat), fromBlock)).map(
        (l) => l.args.key,
      );
      expect(members).toEqual(bars);
      const pairs = [...edges].map((e) => e.split(">") as [string, string]);
      const reach = (from: string[], backward: boolean) => {
        const seen = new Set<string>(from);
        const stack = [...from];
        while (stack.length > 0) {
          const n = stack.pop()!;
          for (const [a, b] of pairs) {
            const [src, dst] = backward ? [b, a] : [a, b];
            if (src === n && !seen.has(dst)) {
              seen.add(dst);
              stack.push(dst);
            }
          }
        }
        return seen;
      };
      // Forward from the heat (recall scope) reaches the vehicle through all six tiers.
      const scope = reach(members, false);
      for (const k of [...castings, ...machined, gearbox, vehicle]) expect(scope.has(k)).toBe(true);
      expect(scope.has(housing)).toBe(false);
      // Backward from the vehicle (where did it come from) reaches the bars of the heat.
      const origin = reach([vehicle], true);
      for (const k of [gearbox, housing, ...machined, ...castings, ...bars]) expect(origin.has(k)).toBe(true);

      // An item's history by its key alone: every event that names it, in order.
      const history = await conn.ethers.provider.getLogs({
        address: await prov.getAddress(),
        topics: [null, machined[0]!],
        fromBlock,
      });
      expect(history.map((l) => prov.interface.parseLog(l)?.name)).toEqual([
        "ItemCreated",
        "Inspected",
        "Shipped",
        "Received",
        "Assembled",
      ]);

      // The mill finds a defect in the heat: a regulator recalls the batch.
      await mined(as("regulator").recallBatch(heat, ev()));
      expect(await prov.isRecalled(bars[0]!)).toBe(true);
      expect(await prov.isRecalled(vehicle)).toBe(false); // forward scope is the indexer's answer
    });
  });

  describe("upgrades", () => {
    it("only the consortium upgrades, through a passed proposal, and state survives", async () => {
      const k = await commissioned("steel");
      const impl2 = await conn.ethers.deployContract("Provenance");
      await expectRevert(as("steel").upgradeToAndCall(await impl2.getAddress(), "0x"), prov, "UpgradeNotByConsortium", [
        fx.orgs.steel.signer.address,
      ]);
      await passProposal(
        fx,
        ProposalKind.Upgrade,
        proposalData.upgrade(await prov.getAddress(), await impl2.getAddress()),
      );
      const slot = "0x360894a13ba1a3210667c828492db98dca3e2076cc3735a920a3ca505d382bbc";
      const raw = await conn.ethers.provider.getStorage(await prov.getAddress(), slot);
      expect(getAddress("0x" + raw.slice(26))).toBe(await impl2.getAddress());
      expect((await state(k)).owner).toBe(org("steel"));
    });
  });
});

describe("Provenance with suspended and removed organisations", () => {
  let conn: Conn;
  let fx: ConsortiumFixture;
  let prov: Provenance;
  const org = (k: OrgKey) => fx.orgs[k].id;
  const as = (k: OrgKey) => prov.connect(fx.orgs[k].signer);
  const mined = async (p: Promise<ContractTransactionResponse>) => (await p).wait();

  beforeAll(async () => {
    conn = await network.create();
    fx = await deployConsortium(conn);
    ({ prov } = await deployProvenance(conn, await fx.consortium.getAddress()));
  });
  afterAll(async () => conn.close());

  it("a suspended organisation can neither act nor be shipped to; the sender takes a stuck shipment back", async () => {
    const k = fresh();
    const held = fresh();
    const eh = ev();
    await mined(as("steel").commission(k, DISP.active, eh));
    await mined(as("foundry").commission(held, DISP.active, ev()));
    await mined(as("steel").ship([k], org("foundry"), true, ev()));
    await suspendOrg(fx, "foundry");

    const f = as("foundry");
    const who = [fx.orgs.foundry.signer.address];
    await expectRevert(f.receiveShipment([k], ev()), prov, "NotActiveMember", who);
    await expectRevert(f.commission(fresh(), DISP.active, ev()), prov, "NotActiveMember", who);
    await expectRevert(f.commissionBatch(freshBatch(), [fresh()], DISP.active, ev()), prov, "NotActiveMember", who);
    await expectRevert(f.ship([held], org("oem"), false, ev()), prov, "NotActiveMember", who);
    await expectRevert(f.cancelShipment([held], ev()), prov, "NotActiveMember", who);
    await expectRevert(f.transform([held], [fresh()], ZeroHash, DISP.active, ev()), prov, "NotActiveMember", who);
    await expectRevert(f.assemble(held, [fresh()], ev()), prov, "NotActiveMember", who);
    await expectRevert(f.disassemble(held, [fresh()], ev()), prov, "NotActiveMember", who);
    await expectRevert(f.inspect([held], true, ev()), prov, "NotActiveMember", who);
    await expectRevert(f.setDisposition([held], DISP.damaged, ev()), prov, "NotActiveMember", who);
    await expectRevert(f.recall([held], ev()), prov, "NotActiveMember", who);
    await expectRevert(f.correct(1, ev()), prov, "NotActiveMember", who);
    await expectRevert(f.observe([held], ev()), prov, "NotActiveMember", who);
    await expectRevert(f.multicall([prov.interface.encodeFunctionData("observe", [[], ev()])]), prov, "NotActiveMember", who);

    await expectRevert(as("steel").ship([fresh()], org("foundry"), false, ev()), prov, "InvalidConsignee", [
      org("foundry"),
    ]);
    await mined(as("steel").cancelShipment([k], ev()));
    expect(Number((await prov.itemState(k)).status)).toBe(Status.Active);
    // A regulator can still recall what the suspended organisation owns.
    await mined(as("regulator").recall([held], ev()));
    expect(await prov.isRecalled(held)).toBe(true);

    await reinstateOrg(fx, "foundry");
    await mined(as("steel").ship([k], org("foundry"), true, ev()));
    await mined(as("foundry").receiveShipment([k], ev()));
    expect(await prov.ownerOf(k)).toBe(BigInt(org("foundry")));
  });

  it("a removed organisation can no longer act, and nothing it recorded disappears", async () => {
    const k = fresh();
    const eh = ev();
    await mined(as("machining").commission(k, DISP.active, eh));
    const rid = await prov.recordOfEvent(eh);
    await removeOrg(fx, "machining");
    await expectRevert(as("machining").ship([k], org("oem"), false, ev()), prov, "NotActiveMember", [
      fx.orgs.machining.signer.address,
    ]);
    await expectRevert(as("oem").ship([fresh()], org("machining"), false, ev()), prov, "InvalidConsignee", [
      org("machining"),
    ]);
    expect(Number((await prov.record(rid)).orgId)).toBe(org("machining"));
    expect(await prov.ownerOf(k)).toBe(BigInt(org("machining")));
  });
});
