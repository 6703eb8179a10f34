/**
 * The Ignition module is the one deployment definition for tests, the demo and real networks:
 * deploy it on a fresh chain and check every proxy is wired to the Consortium, initialised once,
 * and its implementation cannot be taken over.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { network } from "hardhat";
import { type BaseContract, getAddress } from "ethers";
import TracemeshModule, { BOUND_CONTRACTS } from "../../ignition/modules/Tracemesh.ts";
import TracemeshOnConsortium from "../../ignition/modules/TracemeshOnConsortium.ts";
import { connectContracts, type ContractAddresses, type TracemeshContracts } from "../../lib/deployment.ts";
import { Role, roleMask } from "../../lib/consortium.ts";
import { IdentifierNamespaces__factory } from "../../lib/contracts/types/index.js";
import { NamespacePolicy } from "../../lib/namespaces.ts";
import { type Conn, expectRevert } from "../helpers/fixture.ts";

// ERC-1967: bytes32(uint256(keccak256("eip1967.proxy.implementation")) - 1)
const IMPLEMENTATION_SLOT = "0x360894a13ba1a3210667c828492db98dca3e2076cc3735a920a3ca505d382bbc";

describe("Tracemesh Ignition module", () => {
  let conn: Conn;
  let addresses: ContractAddresses;
  let c: TracemeshContracts;
  const namespaces = () => IdentifierNamespaces__factory.connect(addresses.identifierNamespaces!, conn.ethers.provider);

  beforeAll(async () => {
    conn = await network.create();
    const signers = await conn.ethers.getSigners();
    const founders = [
      { name: "Mill", roles: roleMask(Role.Supplier), accounts: [signers[1]!.address], nodes: [] },
      { name: "Authority", roles: roleMask(Role.Regulator), accounts: [signers[2]!.address], nodes: [] },
    ];
    const deployed = await conn.ignition.deploy(TracemeshModule, {
      displayUi: false,
      parameters: { Tracemesh: { founders: founders as never, quorumBps: 10_000, votingPeriod: 3600 } },
    });
    addresses = {
      consortium: await deployed.consortium.getAddress(),
      provenance: await deployed.provenance.getAddress(),
      certificates: await deployed.certificates.getAddress(),
      accessGrants: await deployed.accessGrants.getAddress(),
      dataAnchors: await deployed.dataAnchors.getAddress(),
      identifierNamespaces: await deployed.identifierNamespaces.getAddress(),
    };
    c = connectContracts(addresses, conn.ethers.provider);
  });
  afterAll(async () => conn.close());

  it("initialises the Consortium with the founders and the governance parameters", async () => {
    expect(await c.consortium.orgCount()).toBe(2n);
    expect(await c.consortium.quorumBps()).toBe(10_000n);
    expect(await c.consortium.votingPeriod()).toBe(3600n);
    const [name, , roles] = await c.consortium.org(1);
    expect(name).toBe("Mill");
    expect(roles).toBe(roleMask(Role.Supplier));
  });

  it("binds every member-facing contract to the same Consortium", async () => {
    const bound = [namespaces(), c.provenance, c.certificates, c.accessGrants, c.dataAnchors];
    expect(bound.length).toBe(BOUND_CONTRACTS.length);
    expect(getAddress(await c.provenance.namespaces())).toBe(getAddress(addresses.identifierNamespaces!));
    // Identifiers under no registered prefix are refused unless the consortium decides otherwise.
    expect(await namespaces().policy()).toBe(BigInt(NamespacePolicy.Enforced));
    for (const contract of bound) {
      expect(getAddress(await contract.consortium())).toBe(getAddress(addresses.consortium));
    }
  });

  it("puts each contract behind its own proxy and refuses a second initialisation", async () => {
    const [deployer] = await conn.ethers.getSigners();
    const seen = new Set<string>();
    // Each contract with the arguments its initialiser takes after the consortium.
    const contracts: [BaseContract, unknown[]][] = [
      [namespaces(), [[], [], NamespacePolicy.Enforced]],
      [c.provenance, [addresses.identifierNamespaces]],
      [c.certificates, []],
      [c.accessGrants, []],
      [c.dataAnchors, []],
    ];
    for (const [contract, rest] of contracts) {
      const slot = await conn.ethers.provider.getStorage(await contract.getAddress(), IMPLEMENTATION_SLOT);
      const impl = getAddress("0x" + slot.slice(26));
      expect(await conn.ethers.provider.getCode(impl)).not.toBe("0x");
      seen.add(impl);
      const initialize = (target: BaseContract, consortium: string) =>
        (target.connect(deployer!) as BaseContract).getFunction("initialize")(consortium, ...rest);
      await expectRevert(initialize(contract, addresses.consortium), contract, "InvalidInitialization");
      // The implementation itself was locked by its constructor, so nobody can initialise it
      // with a consortium of their own and call upgradeToAndCall on it.
      await expectRevert(initialize(contract.attach(impl) as BaseContract, deployer!.address), contract, "InvalidInitialization");
    }
    expect(seen.size).toBe(5);
  });

  it("leaves the deployer without any rights", async () => {
    const [deployer] = await conn.ethers.getSigners();
    expect(await c.consortium.isActiveMember(deployer!.address)).toBe(false);
    await expectRevert(
      c.provenance.connect(deployer!).commission(`0x${"11".repeat(32)}`, `0x${"22".repeat(32)}`, `0x${"33".repeat(32)}`),
      c.provenance,
      "NotActiveMember",
      [deployer!.address],
    );
  });

  it("deploys the member-facing contracts next to an existing Consortium (a Besu predeploy)", async () => {
    const deployed = await conn.ignition.deploy(TracemeshOnConsortium, {
      displayUi: false,
      parameters: { TracemeshOnConsortium: { consortium: addresses.consortium } },
    });
    const provenance = await deployed.provenance.getAddress();
    expect(provenance).not.toBe(addresses.provenance);
    const fresh = connectContracts({ ...addresses, provenance }, conn.ethers.provider);
    expect(getAddress(await fresh.provenance.consortium())).toBe(getAddress(addresses.consortium));
  });
});
