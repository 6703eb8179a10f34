/**
 * The one revert decoder of the member tool: every custom error of every Tracemesh contract has
 * a plain-words message, decoding round-trips names and arguments, errors that share a name in
 * two contracts are told apart, and real reverts from a chain decode as expected.
 */
import type { ErrorFragment, ParamType } from "ethers";
import { AbiCoder, Interface, ZeroHash, keccak256, toUtf8Bytes } from "ethers";
import { network } from "hardhat";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import TracemeshModule from "../../ignition/modules/Tracemesh.ts";
import { Role, roleMask } from "../../lib/consortium.ts";
import { connectContracts, type TracemeshContracts } from "../../lib/deployment.ts";
import { ScopeKind } from "../../lib/registry.ts";
import { CONTRACTS, INTERFACES, type ContractName, decodeRevert, messageFor, revertDataOf } from "../../scripts/cli/errors.ts";
import type { Namer } from "../../scripts/cli/describe.ts";
import type { Conn } from "../helpers/fixture.ts";

const names: Namer = {
  org: (id) => ({ 1: "Nordstahl Steel Mill (#1)", 2: "Market Surveillance Authority (#2)" })[id] ?? `organisation #${id}`,
};

/** A plausible value of an ABI type, for encoding every error once. */
function sample(p: ParamType): unknown {
  if (p.baseType === "array") return [sample(p.arrayChildren!)];
  if (p.baseType === "tuple") return p.components!.map(sample);
  if (p.type === "address") return "0x00000000000000000000000000000000000000aa";
  if (p.type === "bool") return true;
  if (p.type === "string") return "text";
  if (p.type.startsWith("bytes")) return p.type === "bytes" ? "0x1234" : "0x" + "ab".repeat(Number(p.type.slice(5)));
  if (p.type.startsWith("uint") || p.type.startsWith("int")) return 2n;
  throw new Error(`no sample for ${p.type}`);
}

function fragments(contract: ContractName): ErrorFragment[] {
  const list: ErrorFragment[] = [];
  INTERFACES[contract].forEachError((f) => list.push(f));
  return list;
}

describe("the message table", () => {
  it.each(CONTRACTS)("has a plain-words message for every custom error %s declares", (contract) => {
    const missing = fragments(contract)
      .filter((f) => !messageFor(contract, f.name))
      .map((f) => f.format());
    expect(missing).toEqual([]);
    expect(fragments(contract).length).toBeGreaterThan(10);
  });

  it.each(CONTRACTS)("decodes every error of %s with its name, arguments and a complete sentence", (contract) => {
    for (const f of fragments(contract)) {
      const values = f.inputs.map(sample);
      const data = INTERFACES[contract].encodeErrorResult(f, values);
      const d = decodeRevert(data, contract, names);
      expect(d.name, f.format()).toBe(f.name);
      expect(d.signature).toBe(f.format("sighash"));
      expect(Object.keys(d.args)).toEqual(f.inputs.map((p, i) => p.name || `arg${i}`));
      expect(d.message, f.format()).not.toMatch(/undefined|NaN|\[object/);
      expect(d.message.length).toBeGreaterThan(10);
    }
  });
});

describe("decodeRevert", () => {
  it("names the custom error, its arguments (enums in words) and says what was wrong", () => {
    const data = INTERFACES.Certificates.encodeErrorResult("MissingRole", [1, Role.Regulator]);
    expect(decodeRevert(data, "Certificates", names)).toMatchObject({
      contract: "Certificates",
      name: "MissingRole",
      signature: "MissingRole(uint32,uint8)",
      args: { orgId: 1, role: 4 },
      display: "MissingRole(orgId=1, role=4 Regulator)",
      message: "Nordstahl Steel Mill (#1) does not hold the Regulator role needed for this",
    });
  });

  it("tells apart two errors of the same name in different contracts", () => {
    const grants = INTERFACES.AccessGrants.encodeErrorResult("InvalidTimeRange", [ScopeKind.AnchorWindowRange, 5, 5]);
    const anchors = INTERFACES.DataAnchors.encodeErrorResult("InvalidTimeRange", [5000, 1000]);
    expect(grants.slice(0, 10)).not.toBe(anchors.slice(0, 10));
    const g = decodeRevert(grants);
    const a = decodeRevert(anchors);
    expect([g.contract, g.message]).toEqual(["AccessGrants", "a window-range grant needs --from before --to (got 5 and 5)"]);
    expect(a.contract).toBe("DataAnchors");
    expect(a.message).toBe("the window ends (1970-01-01 00:00:01 UTC) before or when it starts (1970-01-01 00:00:05 UTC)");
  });

  it("prefers the called contract when several declare the same error", () => {
    const data = INTERFACES.Consortium.encodeErrorResult("NotActiveMember", ["0x00000000000000000000000000000000000000aa"]);
    expect(decodeRevert(data, "DataAnchors").contract).toBe("DataAnchors");
    expect(decodeRevert(data, "Consortium").contract).toBe("Consortium");
  });

  it("decodes Error(string) and Panic(uint256), and says so when it cannot", () => {
    const abi = AbiCoder.defaultAbiCoder();
    const reason = "0x08c379a0" + abi.encode(["string"], ["not allowed"]).slice(2);
    expect(decodeRevert(reason)).toMatchObject({ name: "Error", message: "not allowed" });
    const panic = "0x4e487b71" + abi.encode(["uint256"], [0x11]).slice(2);
    expect(decodeRevert(panic)).toMatchObject({
      name: "Panic",
      args: { code: 17 },
      message: "the contract failed with an arithmetic overflow or underflow",
    });
    const foreign = new Interface(["error Nope(uint256)"]).encodeErrorResult("Nope", [1]);
    expect(decodeRevert(foreign)).toMatchObject({
      name: "unknown",
      message: expect.stringContaining("an error this tool does not know"),
    });
    expect(decodeRevert("0x")).toMatchObject({
      name: "unknown",
      message: "the contract refused without saying why (no revert data)",
    });
  });

  it("finds revert data wherever a provider nested it", () => {
    const data = INTERFACES.Consortium.encodeErrorResult("UnknownOrg", [9]);
    expect(revertDataOf({ code: "CALL_EXCEPTION", info: { error: { data: { data } } } })).toBe(data);
    expect(revertDataOf({ error: { cause: { data } } })).toBe(data);
    expect(revertDataOf(new Error("network down"))).toBeUndefined();
  });
});

describe("real reverts from a chain", () => {
  let conn: Conn;
  let c: TracemeshContracts;
  let supplier: Awaited<ReturnType<Conn["ethers"]["getSigners"]>>[number];
  let outsider: typeof supplier;

  beforeAll(async () => {
    conn = await network.create();
    const signers = await conn.ethers.getSigners();
    [, supplier, , outsider] = signers as [typeof supplier, typeof supplier, typeof supplier, typeof supplier];
    const founders = [
      { name: "Nordstahl Steel Mill", roles: roleMask(Role.Supplier), accounts: [supplier.address], nodes: [] },
      { name: "Market Surveillance Authority", roles: roleMask(Role.Regulator), accounts: [signers[2]!.address], nodes: [] },
    ];
    const deployed = await conn.ignition.deploy(TracemeshModule, {
      displayUi: false,
      parameters: { Tracemesh: { founders: founders as never, quorumBps: 5001, votingPeriod: 3600 } },
    });
    c = connectContracts(
      {
        consortium: await deployed.consortium.getAddress(),
        provenance: await deployed.provenance.getAddress(),
        certificates: await deployed.certificates.getAddress(),
        accessGrants: await deployed.accessGrants.getAddress(),
        dataAnchors: await deployed.dataAnchors.getAddress(),
      },
      conn.ethers.provider,
    );
  });
  afterAll(async () => conn?.close());

  async function refusal(action: Promise<unknown>): Promise<string> {
    try {
      await action;
    } catch (e) {
      const data = revertDataOf(e);
      if (data) return data;
      throw e;
    }
    throw new Error("expected a revert");
  }

  it("a supplier accrediting a certifier: MissingRole with the Regulator role", async () => {
    const data = await refusal(c.certificates.connect(supplier).accredit.staticCall(2, keccak256(toUtf8Bytes("EN10204-3.1")), 0));
    expect(decodeRevert(data, "Certificates", names)).toMatchObject({
      name: "MissingRole",
      args: { orgId: 1, role: Role.Regulator },
      message: "Nordstahl Steel Mill (#1) does not hold the Regulator role needed for this",
    });
  });

  it("an outsider voting: NotActiveMember naming the account", async () => {
    const data = await refusal(c.consortium.connect(outsider).vote.staticCall(1, true));
    const d = decodeRevert(data, "Consortium", names);
    expect(d.name).toBe("NotActiveMember");
    expect(d.message).toContain(`account ${outsider.address} does not sign for an active member organisation`);
  });

  it("a sent transaction refused by the node's gas estimate: UnknownOrg from Consortium.propose", async () => {
    const data = await refusal(c.consortium.connect(supplier).propose(1, AbiCoder.defaultAbiCoder().encode(["uint32"], [7])));
    expect(decodeRevert(data, "Consortium", names)).toMatchObject({
      name: "UnknownOrg",
      args: { orgId: 7 },
      message: "there is no organisation #7",
    });
  });

  it("a grant with a zero purpose: ZeroPurpose from AccessGrants", async () => {
    const data = await refusal(
      c.accessGrants.connect(supplier).grantAccess.staticCall(2, ScopeKind.Item, keccak256("0x01"), ZeroHash, 0, 0, 2n ** 40n),
    );
    expect(decodeRevert(data, "AccessGrants", names)).toMatchObject({ name: "ZeroPurpose", message: "the purpose is zero" });
  });
});
