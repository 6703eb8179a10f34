/**
 * Consortium: membership, governance and upgrades, against the real contract behind its proxy.
 * Every external function's success path and each of its custom errors, every proposal kind's
 * validation at propose time and at execution, and the governance attacks a member that does not
 * trust the others might try.
 */
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/types";
import type { BaseContract, ContractTransactionResponse, LogDescription, TransactionReceipt } from "ethers";
import { Result, ZeroAddress, getAddress, id, keccak256, toUtf8Bytes } from "ethers";
import { network } from "hardhat";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  Ballot,
  type FounderInit,
  MAX_VOTING_PERIOD,
  MIN_QUORUM_BPS,
  MIN_VOTING_PERIOD,
  type NodeIdentityInit,
  OrgStatus,
  ProposalKind,
  ProposalStatus,
  Role,
  proposalData,
  requiredVotes,
  roleMask,
} from "../../lib/consortium.ts";
import type { Consortium, ConsortiumV2, GovernedProbe, GovernedProbeV2 } from "../../lib/contracts/types/index.js";
import {
  type ConsortiumFixture,
  type Conn,
  type OrgKey,
  QUORUM_BPS,
  type TestOrg,
  VOTING_PERIOD,
  deployBound,
  deployConsortium,
  expectRevert,
  increaseTime,
  now,
  passProposal,
  reinstateOrg,
  removeOrg,
  suspendOrg,
  chainSnapshot,
} from "../helpers/fixture.ts";

const IMPLEMENTATION_SLOT = "0x360894a13ba1a3210667c828492db98dca3e2076cc3735a920a3ca505d382bbc";

// ------------------------------------------------------------------ helpers

/** Deterministic node identities that no founder uses. */
function newNode(label: string, validator = true): NodeIdentityInit {
  const enodeId = (keccak256(toUtf8Bytes(`x-enode-a:${label}`)) + keccak256(toUtf8Bytes(`x-enode-b:${label}`)).slice(2)).slice(2);
  return {
    peerId: `12D3KooWnew${label}`,
    enodeId,
    enodeHost: "10.0.0.7",
    enodePort: 30304,
    validator: validator ? getAddress("0x" + id(`x-validator:${label}`).slice(26)) : ZeroAddress,
  };
}

/** Ethers results (nested) to plain arrays; numbers to bigint, so they compare with contract output. */
function plain(value: unknown): unknown {
  if (value instanceof Result) return [...value].map(plain);
  if (Array.isArray(value)) return value.map(plain);
  if (typeof value === "number") return BigInt(value);
  return value;
}

function logsOf(receipt: TransactionReceipt, contract: BaseContract): LogDescription[] {
  const target = receipt.logs.filter((l) => l.address.toLowerCase() === (contract.target as string).toLowerCase());
  return target.map((l) => contract.interface.parseLog(l)).filter((d): d is LogDescription => d !== null);
}

/** The events `name` emitted by `contract` in the receipt, as plain argument lists. */
function eventArgs(receipt: TransactionReceipt, contract: BaseContract, name: string): unknown[] {
  return logsOf(receipt, contract)
    .filter((e) => e.name === name)
    .map((e) => plain(e.args));
}

function expectEvent(receipt: TransactionReceipt, contract: BaseContract, name: string, args: unknown[]): void {
  expect(eventArgs(receipt, contract, name)).toContainEqual(plain(args));
}

function eventNames(receipt: TransactionReceipt, contract: BaseContract): string[] {
  return logsOf(receipt, contract).map((e) => e.name);
}

async function mined(tx: Promise<ContractTransactionResponse>): Promise<TransactionReceipt> {
  const receipt = await (await tx).wait();
  if (!receipt) throw new Error("no receipt");
  return receipt;
}

describe("Consortium", () => {
  let conn: Conn;
  let fx: ConsortiumFixture;
  let c: Consortium;
  let orgs: Record<OrgKey, TestOrg>;
  let outsider: HardhatEthersSigner;
  /** Funded accounts that belong to nobody yet (signers after the fixture's). */
  let spare: HardhatEthersSigner[];
  let fresh: { restore(): Promise<void> };

  beforeAll(async () => {
    conn = await network.create();
    fx = await deployConsortium(conn);
    ({ consortium: c, orgs, outsider } = fx);
    const signers = await conn.ethers.getSigners();
    const used = new Set([fx.deployer, outsider, ...Object.values(orgs).flatMap((o) => o.accounts)].map((s) => s.address));
    spare = signers.filter((s) => !used.has(s.address));
    fresh = await chainSnapshot(conn);
  });
  afterAll(async () => conn.close());
  // Every test starts from the freshly deployed consortium.
  beforeEach(async () => {
    await fresh.restore();
  });

  const as = (org: TestOrg) => c.connect(org.signer);

  /** Proposes as `org` and returns the new proposal's id and the receipt. */
  async function propose(org: TestOrg, kind: ProposalKind, data: string) {
    const receipt = await mined(as(org).propose(kind, data));
    const [created] = eventArgs(receipt, c, "ProposalCreated") as [bigint, ...unknown[]][];
    return { pid: created![0], receipt };
  }

  async function statusOf(pid: bigint): Promise<ProposalStatus> {
    return Number((await c.proposal(pid))[1]) as ProposalStatus;
  }

  async function orgStatus(org: TestOrg | number): Promise<OrgStatus> {
    return Number((await c.org(typeof org === "number" ? org : org.id))[1]) as OrgStatus;
  }

  /** Votes yes with the given organisations in order. */
  async function voteYes(pid: bigint, ...voters: TestOrg[]): Promise<TransactionReceipt | undefined> {
    let last: TransactionReceipt | undefined;
    for (const o of voters) last = await mined(as(o).vote(pid, true));
    return last;
  }

  /** Deploys another Consortium with the given founders (for small-membership scenarios). */
  async function deployWith(
    founders: FounderInit[],
    quorum = QUORUM_BPS,
    period = VOTING_PERIOD,
  ): Promise<Consortium> {
    const impl = await conn.ethers.deployContract("Consortium");
    const init = impl.interface.encodeFunctionData("initialize", [founders, quorum, period]);
    const proxy = await conn.ethers.deployContract("TracemeshProxy", [await impl.getAddress(), init]);
    return (await conn.ethers.getContractAt("Consortium", await proxy.getAddress())) as unknown as Consortium;
  }

  // ================================================================== initialize

  describe("initialize", () => {
    it("registers the founders with their roles, accounts and nodes, and the voting rules", async () => {
      expect(await c.orgCount()).toBe(8n);
      expect(await c.activeOrgCount()).toBe(8n);
      expect(await c.nodeCount()).toBe(8n);
      expect(await c.activeValidatorCount()).toBe(8n);
      expect(await c.quorumBps()).toBe(BigInt(QUORUM_BPS));
      expect(await c.votingPeriod()).toBe(BigInt(VOTING_PERIOD));
      expect(await c.proposalCount()).toBe(0n);
      for (const o of Object.values(orgs)) {
        expect(plain(await c.org(o.id))).toEqual([o.name, BigInt(OrgStatus.Active), roleMask(...o.roles)]);
        expect(await c.accountsOf(o.id)).toEqual(o.accounts.map((a) => a.address));
        expect(await c.nodesOf(o.id)).toEqual([BigInt(o.id)]);
        const n = await c.node(o.id);
        expect(plain(n)).toEqual([BigInt(o.id), true, 30303n, getAddress(o.validator), o.peerId, o.enodeId, "127.0.0.1"]);
      }
    });

    it("emits the founding events (indexers rebuild the directory from them)", async () => {
      const impl = await conn.ethers.deployContract("Consortium");
      const founders = [
        { name: "A", roles: roleMask(Role.Supplier, Role.Auditor), accounts: [spare[0]!.address, spare[1]!.address], nodes: [newNode("a")] },
        { name: "B", roles: roleMask(Role.Regulator), accounts: [spare[2]!.address], nodes: [] },
      ];
      const init = impl.interface.encodeFunctionData("initialize", [founders, 7000, 3600]);
      const proxy = await conn.ethers.deployContract("TracemeshProxy", [await impl.getAddress(), init]);
      const receipt = (await proxy.deploymentTransaction()!.wait())!;
      const fresh = (await conn.ethers.getContractAt("Consortium", await proxy.getAddress())) as unknown as Consortium;
      const n = newNode("a");
      expect(eventNames(receipt, fresh)).toEqual([
        "Upgraded",
        "GovernanceChanged",
        "OrgAdmitted",
        "AccountAdded",
        "AccountAdded",
        "NodeAdded",
        "OrgAdmitted",
        "AccountAdded",
        "Initialized",
      ]);
      expectEvent(receipt, fresh, "GovernanceChanged", [7000n, 3600n]);
      expectEvent(receipt, fresh, "OrgAdmitted", [1n, "A", roleMask(Role.Supplier, Role.Auditor)]);
      expectEvent(receipt, fresh, "OrgAdmitted", [2n, "B", roleMask(Role.Regulator)]);
      expectEvent(receipt, fresh, "AccountAdded", [1n, spare[1]!.address]);
      expectEvent(receipt, fresh, "AccountAdded", [2n, spare[2]!.address]);
      expectEvent(receipt, fresh, "NodeAdded", [1n, 1n, n.peerId, n.enodeId, n.enodeHost, BigInt(n.enodePort), n.validator]);
      expect(await fresh.activeValidatorCount()).toBe(1n);
    });

    it("cannot run twice, nor on the implementation", async () => {
      await expectRevert(c.initialize([], QUORUM_BPS, VOTING_PERIOD), c, "InvalidInitialization");
      const impl = await conn.ethers.deployContract("Consortium");
      await expectRevert(impl.initialize([], QUORUM_BPS, VOTING_PERIOD), c, "InvalidInitialization");
    });

    it("refuses each kind of bad founding data", async () => {
      const impl = await conn.ethers.deployContract("Consortium");
      const a = spare[0]!.address;
      const b = spare[1]!.address;
      const ok: FounderInit = { name: "A", roles: roleMask(Role.Supplier), accounts: [a], nodes: [] };
      const cases: [FounderInit[], number, number, string, unknown[]][] = [
        [[], QUORUM_BPS, VOTING_PERIOD, "NoFounders", []],
        [[ok], 0, VOTING_PERIOD, "InvalidQuorum", [0]],
        [[ok], 5000, VOTING_PERIOD, "InvalidQuorum", [5000]],
        [[ok], 10_001, VOTING_PERIOD, "InvalidQuorum", [10_001]],
        [[ok], QUORUM_BPS, MIN_VOTING_PERIOD - 1, "InvalidVotingPeriod", [MIN_VOTING_PERIOD - 1]],
        [[ok], QUORUM_BPS, MAX_VOTING_PERIOD + 1, "InvalidVotingPeriod", [MAX_VOTING_PERIOD + 1]],
        [[{ ...ok, name: "" }], QUORUM_BPS, VOTING_PERIOD, "EmptyName", []],
        [[{ ...ok, roles: 0n }], QUORUM_BPS, VOTING_PERIOD, "InvalidRoles", [0n]],
        [[{ ...ok, roles: 1n << 6n }], QUORUM_BPS, VOTING_PERIOD, "InvalidRoles", [1n << 6n]],
        [[{ ...ok, accounts: [] }], QUORUM_BPS, VOTING_PERIOD, "NoAccounts", []],
        [[{ ...ok, accounts: [ZeroAddress] }], QUORUM_BPS, VOTING_PERIOD, "ZeroAddress", []],
        [[{ ...ok, accounts: [a, a] }], QUORUM_BPS, VOTING_PERIOD, "AccountTaken", [a, 0]],
        [[ok, { ...ok, name: "B" }], QUORUM_BPS, VOTING_PERIOD, "AccountTaken", [a, 1]],
        [[{ ...ok, nodes: [{ ...newNode("a"), peerId: "" }] }], QUORUM_BPS, VOTING_PERIOD, "EmptyPeerId", []],
        [
          [{ ...ok, nodes: [newNode("a")] }, { ...ok, name: "B", accounts: [b], nodes: [newNode("a")] }],
          QUORUM_BPS,
          VOTING_PERIOD,
          "PeerIdTaken",
          [newNode("a").peerId],
        ],
        [[{ ...ok, nodes: [{ ...newNode("a"), enodeId: "AB".repeat(64) }] }], QUORUM_BPS, VOTING_PERIOD, "InvalidEnodeId", ["AB".repeat(64)]],
        [
          [{ ...ok, nodes: [newNode("a"), { ...newNode("b"), enodeId: newNode("a").enodeId }] }],
          QUORUM_BPS,
          VOTING_PERIOD,
          "EnodeTaken",
          [newNode("a").enodeId],
        ],
        [
          [{ ...ok, nodes: [newNode("a"), { ...newNode("b"), validator: newNode("a").validator }] }],
          QUORUM_BPS,
          VOTING_PERIOD,
          "ValidatorTaken",
          [newNode("a").validator],
        ],
      ];
      for (const [founders, q, period, error, args] of cases) {
        const init = impl.interface.encodeFunctionData("initialize", [founders, q, period]);
        await expectRevert(conn.ethers.deployContract("TracemeshProxy", [await impl.getAddress(), init]), c, error, args);
      }
    });
  });

  // ================================================================== views

  describe("membership views", () => {
    it("answer for members, outsiders, unknown ids and every status", async () => {
      const { steel, oem, lab, auditor, carrier } = orgs;
      for (const acct of steel.accounts) {
        expect(await c.isActiveMember(acct.address)).toBe(true);
        expect(await c.orgOf(acct.address)).toBe(BigInt(steel.id));
        expect(plain(await c.activeOrgOf(acct.address))).toEqual([BigInt(steel.id), roleMask(Role.Supplier)]);
        expect(plain(await c.accountRecord(acct.address))).toEqual([BigInt(steel.id), false]);
      }
      expect(await c.isActiveMember(outsider.address)).toBe(false);
      expect(await c.orgOf(outsider.address)).toBe(0n);
      expect(plain(await c.activeOrgOf(outsider.address))).toEqual([0n, 0n]);
      expect(plain(await c.accountRecord(outsider.address))).toEqual([0n, false]);
      expect(await c.isActiveOrg(oem.id)).toBe(true);
      expect(await c.isActiveOrg(0)).toBe(false);
      expect(await c.isActiveOrg(99)).toBe(false);
      expect(await c.hasRole(lab.id, Role.Certifier)).toBe(true);
      expect(await c.hasRole(lab.id, Role.Regulator)).toBe(false);
      expect(await c.hasRole(0, Role.Supplier)).toBe(false);
      expect(await c.isMemberPeer(oem.peerId)).toBe(true);
      expect(await c.isMemberPeer("12D3KooWunknown")).toBe(false);
      expect(await c.isMemberPeer("")).toBe(false);
      expect(await c.orgOfPeer(oem.peerId)).toBe(BigInt(oem.id));
      expect(await c.orgOfPeer("12D3KooWunknown")).toBe(0n);
      expect(await c.nodeOfEnode(oem.enodeId)).toBe(BigInt(oem.id));
      expect(await c.nodeOfEnode(oem.enodeId.toUpperCase())).toBe(BigInt(oem.id));
      expect(await c.nodeOfEnode("0x" + oem.enodeId)).toBe(BigInt(oem.id));
      expect(await c.nodeOfEnode(newNode("nobody").enodeId)).toBe(0n);
      expect(await c.nodeOfEnode("zz")).toBe(0n);

      await suspendOrg(fx, "auditor");
      await removeOrg(fx, "carrier");
      for (const o of [auditor, carrier]) {
        expect(await c.isActiveMember(o.signer.address)).toBe(false);
        // The binding stays, whatever the status: the account is never anyone else's.
        expect(await c.orgOf(o.signer.address)).toBe(BigInt(o.id));
        expect(plain(await c.activeOrgOf(o.signer.address))).toEqual([0n, 0n]);
        expect(await c.isActiveOrg(o.id)).toBe(false);
        expect(await c.isMemberPeer(o.peerId)).toBe(false);
        expect(await c.orgOfPeer(o.peerId)).toBe(BigInt(o.id));
        expect(await c.hasRole(o.id, o.roles[0]!)).toBe(true); // roles are kept, status gates them
      }
      expect(await orgStatus(auditor)).toBe(OrgStatus.Suspended);
      expect(await orgStatus(carrier)).toBe(OrgStatus.Removed);
    });

    it("org, node and proposal refuse unknown ids", async () => {
      await expectRevert(c.org(0), c, "UnknownOrg", [0]);
      await expectRevert(c.org(9), c, "UnknownOrg", [9]);
      await expectRevert(c.node(0), c, "UnknownNode", [0]);
      await expectRevert(c.node(9), c, "UnknownNode", [9]);
      await expectRevert(c.proposal(0), c, "UnknownProposal", [0]);
      await expectRevert(c.proposal(1), c, "UnknownProposal", [1]);
      expect(await c.accountsOf(99)).toEqual([]);
      expect(await c.nodesOf(99)).toEqual([]);
    });

    it("exposes the governance bounds and the required votes", async () => {
      expect(await c.MAX_BPS()).toBe(10_000n);
      expect(await c.MIN_QUORUM_BPS()).toBe(BigInt(MIN_QUORUM_BPS));
      expect(await c.MIN_VOTING_PERIOD()).toBe(BigInt(MIN_VOTING_PERIOD));
      expect(await c.MAX_VOTING_PERIOD()).toBe(BigInt(MAX_VOTING_PERIOD));
      expect(await c.requiredVotes()).toBe(5n); // ceil(8 * 50.01%)
      expect(requiredVotes(8, QUORUM_BPS)).toBe(5);
      expect(requiredVotes(7, QUORUM_BPS)).toBe(4);
      expect(requiredVotes(1, MIN_QUORUM_BPS)).toBe(1);
      expect(requiredVotes(8, 10_000)).toBe(8);
    });
  });

  // ================================================================== propose

  describe("propose", () => {
    it("records the proposal, its deadline and the proposer's yes vote, with events", async () => {
      const { steel, auditor } = orgs;
      const data = proposalData.suspend(auditor.id);
      const { pid, receipt } = await propose(steel, ProposalKind.Suspend, data);
      const ts = (await conn.ethers.provider.getBlock(receipt.blockNumber))!.timestamp;
      const deadline = BigInt(ts + VOTING_PERIOD);
      expect(pid).toBe(1n);
      expect(await c.proposalCount()).toBe(1n);
      expect(plain(await c.proposal(pid))).toEqual([BigInt(ProposalKind.Suspend), BigInt(ProposalStatus.Open), BigInt(steel.id), deadline, data]);
      expect(eventNames(receipt, c)).toEqual(["ProposalCreated", "VoteCast"]);
      expectEvent(receipt, c, "ProposalCreated", [pid, steel.id, ProposalKind.Suspend, data, deadline]);
      expectEvent(receipt, c, "VoteCast", [pid, steel.id, true]);
      expect(await c.ballotOf(pid, steel.id)).toBe(BigInt(Ballot.Yes));
      expect(await c.ballotOf(pid, auditor.id)).toBe(BigInt(Ballot.None));
      // The auditor, the subject, does not vote: 7 voters, ceil(7 x 0.5001) = 4 approvals.
      expect(plain(await c.tally(pid))).toEqual([1n, 0n, 4n]);
      expect(plain(await c.proposalSchedule(pid))).toEqual([BigInt(auditor.id), 0n]);
    });

    it("is refused to outsiders, suspended and removed organisations and retired accounts", async () => {
      const data = proposalData.suspend(orgs.oem.id);
      await expectRevert(c.connect(outsider).propose(ProposalKind.Suspend, data), c, "NotActiveMember", [outsider.address]);
      await suspendOrg(fx, "auditor");
      await removeOrg(fx, "carrier");
      for (const o of [orgs.auditor, orgs.carrier]) {
        await expectRevert(as(o).propose(ProposalKind.Suspend, data), c, "NotActiveMember", [o.signer.address]);
      }
      const retired = orgs.steel.accounts[1]!;
      await passProposal(fx, ProposalKind.RemoveAccount, proposalData.removeAccount(orgs.steel.id, retired.address));
      await expectRevert(c.connect(retired).propose(ProposalKind.Suspend, data), c, "NotActiveMember", [retired.address]);
    });

    it("reverts on undecodable proposal data (no proposal is stored)", async () => {
      await expect(as(orgs.steel).propose(ProposalKind.Admit, "0x1234")).rejects.toThrow();
      await expect(as(orgs.steel).propose(ProposalKind.Upgrade, "0x")).rejects.toThrow();
      expect(await c.proposalCount()).toBe(0n);
    });

    describe("validates each kind's arguments up front", () => {
      /** [kind, data, error, args] triples checked at propose time. */
      type Case = [ProposalKind, string, string, unknown[]];
      async function expectRefused(cases: Case[], proposer: TestOrg = orgs.steel): Promise<void> {
        const before = await c.proposalCount();
        for (const [kind, data, error, args] of cases) {
          await expectRevert(c.connect(proposer.signer).propose(kind, data), c, error, args);
        }
        expect(await c.proposalCount()).toBe(before);
      }

      it("Admit", async () => {
        const a = spare[0]!.address;
        const taken = orgs.oem.accounts[1]!.address;
        const n = newNode("n");
        const A = (o: Partial<{ name: string; roles: bigint; accounts: string[]; nodes: NodeIdentityInit[] }>) =>
          proposalData.admit(o.name ?? "New", o.roles ?? roleMask(Role.Logistics), o.accounts ?? [a], o.nodes ?? []);
        await expectRefused([
          [ProposalKind.Admit, A({ name: "" }), "EmptyName", []],
          [ProposalKind.Admit, A({ roles: 0n }), "InvalidRoles", [0n]],
          [ProposalKind.Admit, A({ roles: 0x41n }), "InvalidRoles", [0x41n]],
          [ProposalKind.Admit, A({ accounts: [] }), "NoAccounts", []],
          [ProposalKind.Admit, A({ accounts: [ZeroAddress] }), "ZeroAddress", []],
          [ProposalKind.Admit, A({ accounts: [taken] }), "AccountTaken", [taken, orgs.oem.id]],
          [ProposalKind.Admit, A({ accounts: [a, a] }), "AccountTaken", [a, 0]],
          [ProposalKind.Admit, A({ nodes: [{ ...n, peerId: "" }] }), "EmptyPeerId", []],
          [ProposalKind.Admit, A({ nodes: [{ ...n, peerId: orgs.lab.peerId }] }), "PeerIdTaken", [orgs.lab.peerId]],
          [ProposalKind.Admit, A({ nodes: [n, { ...newNode("m"), peerId: n.peerId }] }), "PeerIdTaken", [n.peerId]],
          [ProposalKind.Admit, A({ nodes: [{ ...n, enodeId: "0x" + n.enodeId.slice(2) }] }), "InvalidEnodeId", ["0x" + n.enodeId.slice(2)]],
          [ProposalKind.Admit, A({ nodes: [{ ...n, enodeId: orgs.lab.enodeId }] }), "EnodeTaken", [orgs.lab.enodeId]],
          [ProposalKind.Admit, A({ nodes: [n, { ...newNode("m"), enodeId: n.enodeId }] }), "EnodeTaken", [n.enodeId]],
          [ProposalKind.Admit, A({ nodes: [{ ...n, validator: orgs.lab.validator }] }), "ValidatorTaken", [getAddress(orgs.lab.validator)]],
          [ProposalKind.Admit, A({ nodes: [n, { ...newNode("m"), validator: n.validator }] }), "ValidatorTaken", [n.validator]],
        ]);
      });

      it("Admit refuses enode ids in any but Besu's spelling", async () => {
        const n = newNode("n");
        for (const enodeId of [n.enodeId.toUpperCase(), n.enodeId.slice(1), n.enodeId + "0", "0x" + n.enodeId, "g" + n.enodeId.slice(1), " ".repeat(128)]) {
          const data = proposalData.admit("New", roleMask(Role.Logistics), [spare[0]!.address], [{ ...n, enodeId }]);
          await expectRevert(as(orgs.steel).propose(ProposalKind.Admit, data), c, "InvalidEnodeId", [enodeId]);
        }
      });

      it("Suspend, Reinstate and Remove", async () => {
        await suspendOrg(fx, "auditor");
        await removeOrg(fx, "carrier");
        const { auditor, carrier, oem } = orgs;
        await expectRefused([
            [ProposalKind.Suspend, proposalData.suspend(0), "UnknownOrg", [0]],
            [ProposalKind.Suspend, proposalData.suspend(9), "UnknownOrg", [9]],
            [ProposalKind.Suspend, proposalData.suspend(auditor.id), "WrongOrgStatus", [auditor.id, OrgStatus.Suspended]],
            [ProposalKind.Suspend, proposalData.suspend(carrier.id), "WrongOrgStatus", [carrier.id, OrgStatus.Removed]],
            [ProposalKind.Reinstate, proposalData.reinstate(0), "UnknownOrg", [0]],
            [ProposalKind.Reinstate, proposalData.reinstate(oem.id), "WrongOrgStatus", [oem.id, OrgStatus.Active]],
            [ProposalKind.Reinstate, proposalData.reinstate(carrier.id), "WrongOrgStatus", [carrier.id, OrgStatus.Removed]],
            [ProposalKind.Remove, proposalData.remove(9), "UnknownOrg", [9]],
            [ProposalKind.Remove, proposalData.remove(carrier.id), "WrongOrgStatus", [carrier.id, OrgStatus.Removed]],
        ]);
      });

      it("GrantRole and RevokeRole", async () => {
        await removeOrg(fx, "carrier");
        const { lab, carrier } = orgs;
        const cases: Case[] = [];
        for (const [kind, enc] of [
          [ProposalKind.GrantRole, proposalData.grantRole],
          [ProposalKind.RevokeRole, proposalData.revokeRole],
        ] as const) {
          cases.push([kind, enc(0, Role.Auditor), "UnknownOrg", [0]]);
          cases.push([kind, enc(carrier.id, Role.Auditor), "WrongOrgStatus", [carrier.id, OrgStatus.Removed]]);
          cases.push([kind, enc(lab.id, 6 as Role), "UnknownRole", [6]]);
          cases.push([kind, enc(lab.id, 255 as Role), "UnknownRole", [255]]);
        }
        cases.push([ProposalKind.GrantRole, proposalData.grantRole(lab.id, Role.Certifier), "RoleAlreadyHeld", [lab.id, Role.Certifier]]);
        cases.push([ProposalKind.RevokeRole, proposalData.revokeRole(lab.id, Role.Regulator), "RoleNotHeld", [lab.id, Role.Regulator]]);
        await expectRefused(cases);
      });

      it("AddAccount and RemoveAccount", async () => {
        const retired = orgs.steel.accounts[1]!.address;
        await passProposal(fx, ProposalKind.RemoveAccount, proposalData.removeAccount(orgs.steel.id, retired));
        await removeOrg(fx, "carrier");
        const { oem, lab, carrier, steel } = orgs;
        const a = spare[0]!.address;
        const cases: Case[] = [
          [ProposalKind.AddAccount, proposalData.addAccount(0, a), "UnknownOrg", [0]],
          [ProposalKind.AddAccount, proposalData.addAccount(carrier.id, a), "WrongOrgStatus", [carrier.id, OrgStatus.Removed]],
          [ProposalKind.AddAccount, proposalData.addAccount(oem.id, ZeroAddress), "ZeroAddress", []],
          [ProposalKind.AddAccount, proposalData.addAccount(oem.id, lab.signer.address), "AccountTaken", [lab.signer.address, lab.id]],
          // A retired account stays bound to its organisation, even for that organisation.
          [ProposalKind.AddAccount, proposalData.addAccount(steel.id, retired), "AccountTaken", [retired, steel.id]],
          [ProposalKind.RemoveAccount, proposalData.removeAccount(9, a), "UnknownOrg", [9]],
          [ProposalKind.RemoveAccount, proposalData.removeAccount(carrier.id, carrier.signer.address), "WrongOrgStatus", [carrier.id, OrgStatus.Removed]],
          [ProposalKind.RemoveAccount, proposalData.removeAccount(oem.id, lab.signer.address), "AccountNotInOrg", [lab.signer.address, oem.id]],
          [ProposalKind.RemoveAccount, proposalData.removeAccount(oem.id, a), "AccountNotInOrg", [a, oem.id]],
          [ProposalKind.RemoveAccount, proposalData.removeAccount(steel.id, retired), "AccountNotInOrg", [retired, steel.id]],
          [ProposalKind.RemoveAccount, proposalData.removeAccount(lab.id, lab.signer.address), "LastAccount", [lab.id]],
          [ProposalKind.RemoveAccount, proposalData.removeAccount(steel.id, steel.signer.address), "LastAccount", [steel.id]],
        ];
        await expectRefused(cases, orgs.oem);
      });

      it("AddNode and RemoveNode", async () => {
        await removeOrg(fx, "carrier");
        const { oem, lab, carrier } = orgs;
        const n = newNode("n");
        const cases: Case[] = [
          [ProposalKind.AddNode, proposalData.addNode(0, n), "UnknownOrg", [0]],
          [ProposalKind.AddNode, proposalData.addNode(carrier.id, n), "WrongOrgStatus", [carrier.id, OrgStatus.Removed]],
          [ProposalKind.AddNode, proposalData.addNode(oem.id, { ...n, peerId: "" }), "EmptyPeerId", []],
          // A removed organisation's identities stay registered: nobody else can take them.
          [ProposalKind.AddNode, proposalData.addNode(oem.id, { ...n, peerId: carrier.peerId }), "PeerIdTaken", [carrier.peerId]],
          [ProposalKind.AddNode, proposalData.addNode(oem.id, { ...n, enodeId: "12" }), "InvalidEnodeId", ["12"]],
          [ProposalKind.AddNode, proposalData.addNode(oem.id, { ...n, enodeId: lab.enodeId }), "EnodeTaken", [lab.enodeId]],
          [ProposalKind.AddNode, proposalData.addNode(oem.id, { ...n, enodeId: carrier.enodeId }), "EnodeTaken", [carrier.enodeId]],
          [ProposalKind.AddNode, proposalData.addNode(oem.id, { ...n, validator: lab.validator }), "ValidatorTaken", [getAddress(lab.validator)]],
          [ProposalKind.RemoveNode, proposalData.removeNode(0), "UnknownNode", [0]],
          [ProposalKind.RemoveNode, proposalData.removeNode(9), "UnknownNode", [9]],
        ];
        await expectRefused(cases, oem);
        await passProposal(fx, ProposalKind.RemoveNode, proposalData.removeNode(lab.id));
        await expectRevert(as(oem).propose(ProposalKind.RemoveNode, proposalData.removeNode(lab.id)), c, "UnknownNode", [lab.id]);
      });

      it("SetGovernance", async () => {
        await expectRefused([
          [ProposalKind.SetGovernance, proposalData.setGovernance(0, VOTING_PERIOD), "InvalidQuorum", [0]],
          [ProposalKind.SetGovernance, proposalData.setGovernance(5000, VOTING_PERIOD), "InvalidQuorum", [5000]],
          [ProposalKind.SetGovernance, proposalData.setGovernance(10_001, VOTING_PERIOD), "InvalidQuorum", [10_001]],
          [ProposalKind.SetGovernance, proposalData.setGovernance(QUORUM_BPS, MIN_VOTING_PERIOD - 1), "InvalidVotingPeriod", [MIN_VOTING_PERIOD - 1]],
          [ProposalKind.SetGovernance, proposalData.setGovernance(QUORUM_BPS, MAX_VOTING_PERIOD + 1), "InvalidVotingPeriod", [MAX_VOTING_PERIOD + 1]],
        ]);
      });

      it("Upgrade", async () => {
        const cAddr = await c.getAddress();
        const v2 = await conn.ethers.deployContract("ConsortiumV2");
        const v2Addr = await v2.getAddress();
        // A Tracemesh contract governed by another consortium is not ours to upgrade.
        const other = await deployWith([{ name: "X", roles: 1n, accounts: [spare[0]!.address], nodes: [] }]);
        const foreign = await deployBound<GovernedProbe>(conn, "GovernedProbe", await other.getAddress());
        const foreignAddr = await foreign.getAddress();
        await expectRefused([
          [ProposalKind.Upgrade, proposalData.upgrade(outsider.address, v2Addr), "NotAContract", [outsider.address]],
          [ProposalKind.Upgrade, proposalData.upgrade(ZeroAddress, v2Addr), "NotAContract", [ZeroAddress]],
          [ProposalKind.Upgrade, proposalData.upgrade(cAddr, outsider.address), "NotAContract", [outsider.address]],
          // A contract without consortium(): the implementation itself.
          [ProposalKind.Upgrade, proposalData.upgrade(v2Addr, v2Addr), "NotGovernedHere", [v2Addr]],
          [ProposalKind.Upgrade, proposalData.upgrade(foreignAddr, v2Addr), "NotGovernedHere", [foreignAddr]],
          // A proxy is not an implementation (proxiableUUID refuses delegated calls).
          [ProposalKind.Upgrade, proposalData.upgrade(cAddr, foreignAddr), "NotUUPSImplementation", [foreignAddr]],
          [ProposalKind.Upgrade, proposalData.upgrade(cAddr, await other.getAddress()), "NotUUPSImplementation", [await other.getAddress()]],
        ]);
      });
    });
  });

  // ================================================================== execution of each kind

  describe("passed proposals", () => {
    it("Admit: the new organisation, its accounts and nodes take part at once", async () => {
      const [a, b] = [spare[0]!, spare[1]!];
      const n1 = newNode("n1");
      const n2 = newNode("n2", false);
      const data = proposalData.admit("Kappa Forge", roleMask(Role.Supplier, Role.Manufacturer), [a.address, b.address], [n1, n2]);
      const { pid } = await propose(orgs.steel, ProposalKind.Admit, data);
      const receipt = (await voteYes(pid, orgs.foundry, orgs.machining, orgs.oem, orgs.carrier))!;
      expect(eventNames(receipt, c)).toEqual(["VoteCast", "OrgAdmitted", "AccountAdded", "AccountAdded", "NodeAdded", "NodeAdded", "ProposalExecuted"]);
      expectEvent(receipt, c, "OrgAdmitted", [9n, "Kappa Forge", roleMask(Role.Supplier, Role.Manufacturer)]);
      expectEvent(receipt, c, "AccountAdded", [9n, a.address]);
      expectEvent(receipt, c, "AccountAdded", [9n, b.address]);
      expectEvent(receipt, c, "NodeAdded", [9n, 9n, n1.peerId, n1.enodeId, n1.enodeHost, BigInt(n1.enodePort), n1.validator]);
      expectEvent(receipt, c, "NodeAdded", [9n, 10n, n2.peerId, n2.enodeId, n2.enodeHost, BigInt(n2.enodePort), ZeroAddress]);
      expectEvent(receipt, c, "ProposalExecuted", [pid, ProposalKind.Admit]);
      expect(await statusOf(pid)).toBe(ProposalStatus.Executed);
      expect(await c.orgCount()).toBe(9n);
      expect(await c.activeOrgCount()).toBe(9n);
      expect(await c.activeValidatorCount()).toBe(9n);
      expect(await c.isActiveMember(b.address)).toBe(true);
      expect(await c.isMemberPeer(n2.peerId)).toBe(true);
      expect(await c.getValidators()).toContain(n1.validator);
      expect(await c.nodesOf(9)).toEqual([9n, 10n]);
      // The newcomer votes right away, and the quorum now counts it: ceil(9 * 50.01%) = 5.
      const next = await propose(orgs.steel, ProposalKind.Suspend, proposalData.suspend(orgs.auditor.id));
      await mined(c.connect(b).vote(next.pid, true));
      expect(await c.ballotOf(next.pid, 9)).toBe(BigInt(Ballot.Yes));
      expect(await c.requiredVotes()).toBe(5n);
    });

    it("Suspend, Reinstate, Remove: status, active count, validators and events", async () => {
      const { auditor, lab } = orgs;
      const sus = await suspendOrg(fx, "auditor");
      const susReceipt = await findExecution(sus);
      expectEvent(susReceipt, c, "OrgStatusChanged", [auditor.id, OrgStatus.Suspended]);
      expectEvent(susReceipt, c, "ProposalExecuted", [sus, ProposalKind.Suspend]);
      expect(await c.activeOrgCount()).toBe(7n);
      expect(await c.activeValidatorCount()).toBe(7n);
      expect(await c.getValidators()).not.toContain(getAddress(auditor.validator));

      const rei = await reinstateOrg(fx, "auditor");
      expectEvent(await findExecution(rei), c, "OrgStatusChanged", [auditor.id, OrgStatus.Active]);
      expect(await c.activeOrgCount()).toBe(8n);
      expect(await c.getValidators()).toContain(getAddress(auditor.validator));

      // Remove an active organisation, and a suspended one.
      const rem = await removeOrg(fx, "auditor");
      expectEvent(await findExecution(rem), c, "OrgStatusChanged", [auditor.id, OrgStatus.Removed]);
      await suspendOrg(fx, "lab");
      expect(await c.activeOrgCount()).toBe(6n);
      await removeOrg(fx, "lab");
      expect(await orgStatus(lab)).toBe(OrgStatus.Removed);
      expect(await c.activeOrgCount()).toBe(6n);
      expect(await c.activeValidatorCount()).toBe(6n);
      expect(await c.getValidators()).toHaveLength(6);
    });

    it("GrantRole and RevokeRole", async () => {
      const { lab } = orgs;
      const g = await passProposal(fx, ProposalKind.GrantRole, proposalData.grantRole(lab.id, Role.Auditor));
      expectEvent(await findExecution(g), c, "RoleGranted", [lab.id, Role.Auditor]);
      expect(await c.hasRole(lab.id, Role.Auditor)).toBe(true);
      expect(plain(await c.activeOrgOf(lab.signer.address))).toEqual([BigInt(lab.id), roleMask(Role.Certifier, Role.Auditor)]);
      const r = await passProposal(fx, ProposalKind.RevokeRole, proposalData.revokeRole(lab.id, Role.Certifier));
      expectEvent(await findExecution(r), c, "RoleRevoked", [lab.id, Role.Certifier]);
      expect(plain(await c.org(lab.id))).toEqual([lab.name, BigInt(OrgStatus.Active), roleMask(Role.Auditor)]);
      // Revoking the last role leaves a voting member without rights of its own.
      await passProposal(fx, ProposalKind.RevokeRole, proposalData.revokeRole(lab.id, Role.Auditor));
      expect((await c.org(lab.id))[2]).toBe(0n);
      expect(await c.isActiveMember(lab.signer.address)).toBe(true);
    });

    it("AddAccount and RemoveAccount: a retired account signs for nobody, and stays bound", async () => {
      const { oem, steel } = orgs;
      const fresh = spare[0]!;
      const add = await passProposal(fx, ProposalKind.AddAccount, proposalData.addAccount(oem.id, fresh.address));
      expectEvent(await findExecution(add), c, "AccountAdded", [oem.id, fresh.address]);
      expect(await c.isActiveMember(fresh.address)).toBe(true);
      expect(await c.accountsOf(oem.id)).toEqual([...oem.accounts.map((a) => a.address), fresh.address]);
      // Any account of the organisation votes for it, but the organisation votes once.
      const { pid } = await propose(steel, ProposalKind.Suspend, proposalData.suspend(orgs.auditor.id));
      await mined(c.connect(fresh).vote(pid, false));
      expect(await c.ballotOf(pid, oem.id)).toBe(BigInt(Ballot.No));
      await expectRevert(as(oem).vote(pid, true), c, "AlreadyVoted", [pid, oem.id]);

      const first = oem.accounts[0]!.address;
      const rm = await passProposal(fx, ProposalKind.RemoveAccount, proposalData.removeAccount(oem.id, first));
      expectEvent(await findExecution(rm), c, "AccountRemoved", [oem.id, first]);
      expect(await c.isActiveMember(first)).toBe(false);
      expect(await c.orgOf(first)).toBe(0n);
      expect(plain(await c.activeOrgOf(first))).toEqual([0n, 0n]);
      expect(plain(await c.accountRecord(first))).toEqual([BigInt(oem.id), true]);
      expect(await c.transactionAllowed(first, ZeroAddress, 0, 0, 21_000, "0x")).toBe(false);
      // Swap-and-pop keeps the other accounts.
      expect([...(await c.accountsOf(oem.id))].sort()).toEqual([oem.accounts[1]!.address, fresh.address].sort());
      await expectRevert(as(oem).vote(pid, true), c, "NotActiveMember", [first]);
      // Nobody may take it back, not even its own organisation.
      for (const target of [oem.id, steel.id]) {
        await expectRevert(as(steel).propose(ProposalKind.AddAccount, proposalData.addAccount(target, first)), c, "AccountTaken", [first, oem.id]);
      }
    });

    it("AddNode and RemoveNode: peers, enodes and validators follow", async () => {
      const { lab, oem } = orgs;
      const n = newNode("lab2");
      const add = await passProposal(fx, ProposalKind.AddNode, proposalData.addNode(lab.id, n));
      expectEvent(await findExecution(add), c, "NodeAdded", [lab.id, 9n, n.peerId, n.enodeId, n.enodeHost, BigInt(n.enodePort), n.validator]);
      expect(await c.nodesOf(lab.id)).toEqual([BigInt(lab.id), 9n]);
      expect(await c.isMemberPeer(n.peerId)).toBe(true);
      expect(await c.connectionAllowed(n.enodeId, "10.0.0.7", 30304)).toBe(true);
      expect(await c.getValidators()).toContain(n.validator);
      expect(await c.activeValidatorCount()).toBe(9n);

      const rm = await passProposal(fx, ProposalKind.RemoveNode, proposalData.removeNode(lab.id));
      expectEvent(await findExecution(rm), c, "NodeRemoved", [lab.id, BigInt(lab.id), lab.peerId]);
      expect(await c.nodesOf(lab.id)).toEqual([9n]);
      expect((await c.node(lab.id)).registered).toBe(false);
      expect(await c.isMemberPeer(lab.peerId)).toBe(false);
      expect(await c.orgOfPeer(lab.peerId)).toBe(0n);
      expect(await c.nodeOfEnode(lab.enodeId)).toBe(0n);
      expect(await c.connectionAllowed(lab.enodeId, "127.0.0.1", 30303)).toBe(false);
      expect(await c.getValidators()).not.toContain(getAddress(lab.validator));
      expect(await c.activeValidatorCount()).toBe(8n);
      // A released identity may be registered again.
      const back = { peerId: lab.peerId, enodeId: lab.enodeId, enodeHost: "127.0.0.1", enodePort: 30303, validator: lab.validator };
      await passProposal(fx, ProposalKind.AddNode, proposalData.addNode(oem.id, back));
      expect(await c.orgOfPeer(lab.peerId)).toBe(BigInt(oem.id));
    });

    it("SetGovernance: new quorum applies to open proposals, new period to new ones", async () => {
      const { pid: open } = await propose(orgs.steel, ProposalKind.Suspend, proposalData.suspend(orgs.auditor.id));
      const openDeadline = (await c.proposal(open))[3];
      const g = await passProposal(fx, ProposalKind.SetGovernance, proposalData.setGovernance(7500, 3600));
      expectEvent(await findExecution(g), c, "GovernanceChanged", [7500n, 3600n]);
      expect(await c.quorumBps()).toBe(7500n);
      expect(await c.votingPeriod()).toBe(3600n);
      expect(await c.requiredVotes()).toBe(6n);
      expect((await c.proposal(open))[3]).toBe(openDeadline);
      const { pid, receipt } = await propose(orgs.steel, ProposalKind.Suspend, proposalData.suspend(orgs.lab.id));
      const ts = (await conn.ethers.provider.getBlock(receipt.blockNumber))!.timestamp;
      expect((await c.proposal(pid))[3]).toBe(BigInt(ts + 3600));
      // Five approvals no longer pass a proposal.
      await voteYes(open, orgs.foundry, orgs.machining, orgs.oem, orgs.carrier);
      expect(await statusOf(open)).toBe(ProposalStatus.Open);
      await voteYes(open, orgs.lab);
      expect(await statusOf(open)).toBe(ProposalStatus.Executed);
    });

    /** The receipt of the transaction that executed proposal `pid`. */
    async function findExecution(pid: bigint): Promise<TransactionReceipt> {
      const logs = await c.queryFilter(c.filters.ProposalExecuted(pid));
      expect(logs).toHaveLength(1);
      return (await logs[0]!.getTransactionReceipt())!;
    }
  });

  // ================================================================== validation at execution

  describe("re-validation when a proposal passes", () => {
    it("a proposal overtaken by events cannot execute; it stays open until the state allows it", async () => {
      const { steel, foundry, machining, oem, auditor } = orgs;
      const first = await propose(steel, ProposalKind.Suspend, proposalData.suspend(auditor.id));
      const second = await propose(foundry, ProposalKind.Suspend, proposalData.suspend(auditor.id));
      // The auditor, the subject, does not vote: 7 voters, 4 approvals pass.
      await voteYes(first.pid, foundry, machining, oem);
      expect(await orgStatus(auditor)).toBe(OrgStatus.Suspended);
      await voteYes(second.pid, steel, machining);
      // 7 active now, 4 approvals pass: the deciding vote re-validates and reverts, since the
      // organisation is no longer active.
      await expectRevert(as(oem).vote(second.pid, true), c, "WrongOrgStatus", [auditor.id, OrgStatus.Suspended]);
      expect(await statusOf(second.pid)).toBe(ProposalStatus.Open);
      expect(await c.ballotOf(second.pid, oem.id)).toBe(BigInt(Ballot.None));
      // Once the organisation is reinstated, the same proposal can pass (7 voters besides it: 4 needed).
      await reinstateOrg(fx, "auditor");
      await voteYes(second.pid, oem);
      expect(await statusOf(second.pid)).toBe(ProposalStatus.Executed);
      expect(await orgStatus(auditor)).toBe(OrgStatus.Suspended);
    });

    it("two admissions of the same account: the second fails at execution", async () => {
      const a = spare[0]!.address;
      const p1 = await propose(orgs.steel, ProposalKind.Admit, proposalData.admit("One", 1n, [a]));
      const p2 = await propose(orgs.steel, ProposalKind.Admit, proposalData.admit("Two", 1n, [a]));
      await voteYes(p1.pid, orgs.foundry, orgs.machining, orgs.oem, orgs.carrier);
      await voteYes(p2.pid, orgs.foundry, orgs.machining, orgs.oem);
      await expectRevert(as(orgs.carrier).vote(p2.pid, true), c, "AccountTaken", [a, 9]);
    });

    it("two grants of the same role: the second fails with RoleAlreadyHeld", async () => {
      const data = proposalData.grantRole(orgs.lab.id, Role.Auditor);
      const p1 = await propose(orgs.steel, ProposalKind.GrantRole, data);
      const p2 = await propose(orgs.foundry, ProposalKind.GrantRole, data);
      await voteYes(p1.pid, orgs.foundry, orgs.machining, orgs.oem, orgs.carrier);
      await voteYes(p2.pid, orgs.steel, orgs.machining, orgs.oem);
      await expectRevert(as(orgs.carrier).vote(p2.pid, true), c, "RoleAlreadyHeld", [orgs.lab.id, Role.Auditor]);
    });

    it("mutual suspensions of the last two organisations: the first passes on its proposer's vote, the second cannot be made", async () => {
      const [x, y] = [spare[0]!, spare[1]!];
      const small = await deployWith([
        { name: "X", roles: 1n, accounts: [x.address], nodes: [] },
        { name: "Y", roles: 1n, accounts: [y.address], nodes: [] },
      ]);
      // Y, the subject, does not vote: X alone is the quorum of the one voter.
      await mined(small.connect(x).propose(ProposalKind.Suspend, proposalData.suspend(2)));
      expect(Number((await small.proposal(1))[1])).toBe(ProposalStatus.Executed);
      expect(await small.activeOrgCount()).toBe(1n);
      await expectRevert(small.connect(y).propose(ProposalKind.Suspend, proposalData.suspend(1)), small, "NotActiveMember", [y.address]);
      await expectRevert(small.connect(x).propose(ProposalKind.Suspend, proposalData.suspend(1)), small, "LastActiveOrg", [1]);
    });
  });

  // ================================================================== vote and execute

  describe("vote", () => {
    it("records a no without executing, and refuses a second ballot per organisation", async () => {
      const { steel, oem } = orgs;
      const { pid } = await propose(steel, ProposalKind.GrantRole, proposalData.grantRole(orgs.lab.id, Role.Auditor));
      const receipt = await mined(as(oem).vote(pid, false));
      expect(eventNames(receipt, c)).toEqual(["VoteCast"]);
      expectEvent(receipt, c, "VoteCast", [pid, oem.id, false]);
      expect(plain(await c.tally(pid))).toEqual([1n, 1n, 5n]);
      await expectRevert(as(steel).vote(pid, true), c, "AlreadyVoted", [pid, steel.id]);
      await expectRevert(c.connect(steel.accounts[1]!).vote(pid, false), c, "AlreadyVoted", [pid, steel.id]);
      await expectRevert(c.connect(oem.accounts[1]!).vote(pid, true), c, "AlreadyVoted", [pid, oem.id]);
    });

    it("refuses outsiders, suspended and removed organisations, and unknown or closed proposals", async () => {
      const { pid } = await propose(orgs.steel, ProposalKind.GrantRole, proposalData.grantRole(orgs.lab.id, Role.Auditor));
      await expectRevert(c.connect(outsider).vote(pid, true), c, "NotActiveMember", [outsider.address]);
      await suspendOrg(fx, "auditor");
      await removeOrg(fx, "carrier");
      await expectRevert(as(orgs.auditor).vote(pid, true), c, "NotActiveMember", [orgs.auditor.signer.address]);
      await expectRevert(as(orgs.carrier).vote(pid, true), c, "NotActiveMember", [orgs.carrier.signer.address]);
      await expectRevert(as(orgs.oem).vote(0, true), c, "UnknownProposal", [0]);
      await expectRevert(as(orgs.oem).vote(99, true), c, "UnknownProposal", [99]);
      const executed = await suspendOrg(fx, "regulator");
      await expectRevert(as(orgs.lab).vote(executed, true), c, "ProposalNotOpen", [executed, ProposalStatus.Executed]);
    });

    it("ballots past the sixth (a second storage word) are recorded, read back and counted", async () => {
      await passProposal(fx, ProposalKind.SetGovernance, proposalData.setGovernance(10_000, VOTING_PERIOD));
      const all = Object.values(orgs);
      const { pid } = await propose(orgs.steel, ProposalKind.GrantRole, proposalData.grantRole(orgs.lab.id, Role.Auditor));
      await voteYes(pid, ...all.slice(1, 7));
      expect(plain(await c.tally(pid))).toEqual([7n, 0n, 8n]);
      for (const o of all.slice(0, 7)) expect(await c.ballotOf(pid, o.id)).toBe(BigInt(Ballot.Yes));
      expect(await c.ballotOf(pid, orgs.auditor.id)).toBe(BigInt(Ballot.None));
      await expectRevert(as(orgs.regulator).vote(pid, false), c, "AlreadyVoted", [pid, orgs.regulator.id]);
      // Under unanimity the regulator approves its own suspension; its ballot then stops counting.
      await suspendOrg(fx, "regulator");
      expect(plain(await c.tally(pid))).toEqual([6n, 0n, 7n]);
      await mined(as(orgs.auditor).vote(pid, true));
      expect(await statusOf(pid)).toBe(ProposalStatus.Executed);
      expect(await c.ballotOf(pid, orgs.auditor.id)).toBe(BigInt(Ballot.Yes));
    });

    it("a suspended organisation's earlier ballot stops counting (and counts again if reinstated)", async () => {
      const { steel, foundry, machining, oem, carrier, lab } = orgs;
      const { pid } = await propose(steel, ProposalKind.GrantRole, proposalData.grantRole(lab.id, Role.Auditor));
      await voteYes(pid, foundry, machining, oem);
      expect(plain(await c.tally(pid))).toEqual([4n, 0n, 5n]);
      await suspendOrg(fx, "oem");
      expect(plain(await c.tally(pid))).toEqual([3n, 0n, 4n]); // 7 active: ceil(3.5007) = 4
      await reinstateOrg(fx, "oem");
      expect(plain(await c.tally(pid))).toEqual([4n, 0n, 5n]);
      await removeOrg(fx, "oem");
      expect(plain(await c.tally(pid))).toEqual([3n, 0n, 4n]);
      expect(await c.ballotOf(pid, oem.id)).toBe(BigInt(Ballot.Yes)); // recorded, not counted
      await mined(as(carrier).vote(pid, true));
      expect(await statusOf(pid)).toBe(ProposalStatus.Executed);
    });
  });

  describe("quorum edges", () => {
    it("exactly at the threshold passes; one short stays open", async () => {
      const { pid } = await propose(orgs.steel, ProposalKind.GrantRole, proposalData.grantRole(orgs.lab.id, Role.Auditor));
      await voteYes(pid, orgs.foundry, orgs.machining, orgs.oem);
      expect(plain(await c.tally(pid))).toEqual([4n, 0n, 5n]);
      expect(await statusOf(pid)).toBe(ProposalStatus.Open);
      await expectRevert(as(orgs.lab).execute(pid), c, "QuorumNotReached", [pid, 4, 5]);
      const receipt = (await voteYes(pid, orgs.carrier))!;
      expectEvent(receipt, c, "ProposalExecuted", [pid, ProposalKind.GrantRole]);
      expect(await statusOf(pid)).toBe(ProposalStatus.Executed);
    });

    it("rejects as soon as approval is impossible, not one vote earlier", async () => {
      const { pid } = await propose(orgs.steel, ProposalKind.Suspend, proposalData.suspend(orgs.auditor.id));
      for (const o of [orgs.foundry, orgs.machining, orgs.oem]) await mined(as(o).vote(pid, false));
      // 1 yes, 3 no: the 4 who have not voted could still make 5.
      expect(await statusOf(pid)).toBe(ProposalStatus.Open);
      const receipt = await mined(as(orgs.carrier).vote(pid, false));
      expect(eventNames(receipt, c)).toEqual(["VoteCast", "ProposalRejected"]);
      expectEvent(receipt, c, "ProposalRejected", [pid]);
      expect(await statusOf(pid)).toBe(ProposalStatus.Rejected);
      await expectRevert(as(orgs.lab).vote(pid, true), c, "ProposalNotOpen", [pid, ProposalStatus.Rejected]);
      await expectRevert(as(orgs.lab).execute(pid), c, "ProposalNotOpen", [pid, ProposalStatus.Rejected]);
    });

    it("unanimity (10000 bps) needs every active organisation", async () => {
      await passProposal(fx, ProposalKind.SetGovernance, proposalData.setGovernance(10_000, VOTING_PERIOD));
      expect(await c.requiredVotes()).toBe(8n);
      const { pid } = await propose(orgs.steel, ProposalKind.GrantRole, proposalData.grantRole(orgs.lab.id, Role.Auditor));
      await voteYes(pid, orgs.foundry, orgs.machining, orgs.oem, orgs.carrier, orgs.lab, orgs.regulator);
      expect(await statusOf(pid)).toBe(ProposalStatus.Open);
      // A single no makes it impossible.
      await mined(as(orgs.auditor).vote(pid, false));
      expect(await statusOf(pid)).toBe(ProposalStatus.Rejected);
    });

    it("execute() passes an open proposal once the active count falls", async () => {
      const { steel, foundry, machining, oem, lab } = orgs;
      const { pid } = await propose(steel, ProposalKind.GrantRole, proposalData.grantRole(lab.id, Role.Auditor));
      await voteYes(pid, foundry, machining, oem);
      await expectRevert(as(lab).execute(pid), c, "QuorumNotReached", [pid, 4, 5]);
      await suspendOrg(fx, "auditor"); // 7 active: 4 approvals suffice
      const receipt = await mined(as(lab).execute(pid));
      expect(eventNames(receipt, c)).toEqual(["RoleGranted", "ProposalExecuted"]);
      expect(await c.hasRole(lab.id, Role.Auditor)).toBe(true);
    });

    it("execute() passes an open proposal once the quorum is lowered", async () => {
      await passProposal(fx, ProposalKind.SetGovernance, proposalData.setGovernance(10_000, VOTING_PERIOD));
      const { pid } = await propose(orgs.steel, ProposalKind.GrantRole, proposalData.grantRole(orgs.lab.id, Role.Auditor));
      await voteYes(pid, orgs.foundry, orgs.machining, orgs.oem, orgs.carrier, orgs.lab);
      await expectRevert(as(orgs.lab).execute(pid), c, "QuorumNotReached", [pid, 6, 8]);
      await passProposal(fx, ProposalKind.SetGovernance, proposalData.setGovernance(QUORUM_BPS, VOTING_PERIOD));
      await mined(as(orgs.regulator).execute(pid));
      expect(await statusOf(pid)).toBe(ProposalStatus.Executed);
    });

    it("execute() rejects an open proposal once the quorum rises beyond reach", async () => {
      const { pid } = await propose(orgs.steel, ProposalKind.Suspend, proposalData.suspend(orgs.auditor.id));
      for (const o of [orgs.foundry, orgs.machining]) await mined(as(o).vote(pid, false));
      await passProposal(fx, ProposalKind.SetGovernance, proposalData.setGovernance(10_000, VOTING_PERIOD));
      const receipt = await mined(as(orgs.lab).execute(pid));
      expect(eventNames(receipt, c)).toEqual(["ProposalRejected"]);
      expect(await statusOf(pid)).toBe(ProposalStatus.Rejected);
    });

    it("execute() is for members only and only for known open proposals", async () => {
      const { pid } = await propose(orgs.steel, ProposalKind.Suspend, proposalData.suspend(orgs.auditor.id));
      await expectRevert(c.connect(outsider).execute(pid), c, "NotActiveMember", [outsider.address]);
      await expectRevert(as(orgs.lab).execute(0), c, "UnknownProposal", [0]);
      await expectRevert(as(orgs.lab).execute(42), c, "UnknownProposal", [42]);
      await suspendOrg(fx, "regulator");
      await expectRevert(as(orgs.regulator).execute(pid), c, "NotActiveMember", [orgs.regulator.signer.address]);
      const done = await suspendOrg(fx, "carrier");
      await expectRevert(as(orgs.lab).execute(done), c, "ProposalNotOpen", [done, ProposalStatus.Executed]);
    });
  });

  describe("expiry", () => {
    it("accepts votes up to the deadline second, then reads Expired and refuses votes and execute", async () => {
      const { pid } = await propose(orgs.steel, ProposalKind.Suspend, proposalData.suspend(orgs.auditor.id));
      const deadline = Number((await c.proposal(pid))[3]);
      await conn.provider.request({ method: "evm_setNextBlockTimestamp", params: [deadline] });
      await mined(as(orgs.foundry).vote(pid, true));
      expect(await statusOf(pid)).toBe(ProposalStatus.Open);
      await conn.provider.request({ method: "evm_setNextBlockTimestamp", params: [deadline + 1] });
      await conn.provider.request({ method: "evm_mine", params: [] });
      expect(await statusOf(pid)).toBe(ProposalStatus.Expired);
      await expectRevert(as(orgs.oem).vote(pid, true), c, "ProposalNotOpen", [pid, ProposalStatus.Expired]);
      await expectRevert(as(orgs.oem).execute(pid), c, "ProposalNotOpen", [pid, ProposalStatus.Expired]);
      await increaseTime(conn, VOTING_PERIOD);
      expect(await now(conn)).toBeGreaterThan(deadline + VOTING_PERIOD);
      expect(await statusOf(pid)).toBe(ProposalStatus.Expired);
    });
  });

  // ================================================================== invariants of membership

  describe("membership invariants", () => {
    it("the last active organisation can be neither suspended nor removed", async () => {
      for (const key of ["foundry", "machining", "oem", "carrier", "lab", "regulator", "auditor"] as const) {
        await suspendOrg(fx, key);
      }
      expect(await c.activeOrgCount()).toBe(1n);
      const { steel } = orgs;
      await expectRevert(as(steel).propose(ProposalKind.Suspend, proposalData.suspend(steel.id)), c, "LastActiveOrg", [steel.id]);
      await expectRevert(as(steel).propose(ProposalKind.Remove, proposalData.remove(steel.id)), c, "LastActiveOrg", [steel.id]);
      // The sole member still governs alone, with a quorum of one; removing a suspended
      // organisation leaves the active count alone.
      expect(await c.requiredVotes()).toBe(1n);
      const removal = await propose(steel, ProposalKind.Remove, proposalData.remove(orgs.lab.id));
      expect(await statusOf(removal.pid)).toBe(ProposalStatus.Executed);
      expect(await orgStatus(orgs.lab)).toBe(OrgStatus.Removed);
      expect(await c.activeOrgCount()).toBe(1n);
      const { pid } = await propose(steel, ProposalKind.Reinstate, proposalData.reinstate(orgs.oem.id));
      expect(await statusOf(pid)).toBe(ProposalStatus.Executed);
      expect(await c.activeOrgCount()).toBe(2n);
    });

    it("the last validators cannot be suspended, removed or unregistered (QBFT would halt)", async () => {
      const [x, y] = [spare[0]!, spare[1]!];
      const vx = newNode("vx");
      const small = await deployWith([
        { name: "X", roles: 1n, accounts: [x.address], nodes: [vx] },
        { name: "Y", roles: 1n, accounts: [y.address], nodes: [newNode("py", false)] },
        { name: "Z", roles: 1n, accounts: [spare[2]!.address], nodes: [] },
      ]);
      expect(await small.getValidators()).toEqual([vx.validator]);
      await expectRevert(small.connect(y).propose(ProposalKind.Suspend, proposalData.suspend(1)), small, "LastValidators", [1]);
      await expectRevert(small.connect(y).propose(ProposalKind.Remove, proposalData.remove(1)), small, "LastValidators", [1]);
      await expectRevert(small.connect(y).propose(ProposalKind.RemoveNode, proposalData.removeNode(1)), small, "LastValidators", [1]);
      // Non-validators are free to go.
      await mined(small.connect(x).propose(ProposalKind.Suspend, proposalData.suspend(2)));
      await mined(small.connect(spare[2]!).vote(1, true));
      expect(await small.isActiveOrg(2)).toBe(false);
      // With a second validator elsewhere, the first may leave.
      await mined(small.connect(x).propose(ProposalKind.AddNode, proposalData.addNode(3, newNode("vz"))));
      await mined(small.connect(spare[2]!).vote(2, true));
      await mined(small.connect(x).propose(ProposalKind.RemoveNode, proposalData.removeNode(1)));
      await mined(small.connect(spare[2]!).vote(3, true));
      expect(await small.getValidators()).toEqual([newNode("vz").validator]);
    });

    it("accounts and identities of a removed organisation cannot be reused", async () => {
      const { carrier, steel } = orgs;
      await removeOrg(fx, "carrier");
      const acct = carrier.signer.address;
      await expectRevert(as(steel).propose(ProposalKind.AddAccount, proposalData.addAccount(steel.id, acct)), c, "AccountTaken", [acct, carrier.id]);
      await expectRevert(as(steel).propose(ProposalKind.Admit, proposalData.admit("Reborn", 4n, [acct])), c, "AccountTaken", [acct, carrier.id]);
      const reuse = { peerId: "12D3KooWother", enodeId: carrier.enodeId, enodeHost: "1.2.3.4", enodePort: 1, validator: ZeroAddress };
      await expectRevert(as(steel).propose(ProposalKind.AddNode, proposalData.addNode(steel.id, reuse)), c, "EnodeTaken", [carrier.enodeId]);
      const reuseValidator = { ...newNode("r"), validator: carrier.validator };
      await expectRevert(as(steel).propose(ProposalKind.AddNode, proposalData.addNode(steel.id, reuseValidator)), c, "ValidatorTaken", [getAddress(carrier.validator)]);
      // And the removed organisation cannot come back: Reinstate is for suspended ones.
      await expectRevert(as(steel).propose(ProposalKind.Reinstate, proposalData.reinstate(carrier.id)), c, "WrongOrgStatus", [carrier.id, OrgStatus.Removed]);
    });
  });

  // ================================================================== upgrades

  describe("upgrades", () => {
    it("upgrades Consortium to V2 through governance, keeping its state", async () => {
      await suspendOrg(fx, "auditor");
      const open = await propose(orgs.steel, ProposalKind.GrantRole, proposalData.grantRole(orgs.lab.id, Role.Auditor));
      const cAddr = await c.getAddress();
      const oldImpl = await conn.ethers.provider.getStorage(cAddr, IMPLEMENTATION_SLOT);
      const v2Impl = await conn.ethers.deployContract("ConsortiumV2");
      const init = v2Impl.interface.encodeFunctionData("initializeV2", ["v2: release notes"]);
      const pid = await passProposal(fx, ProposalKind.Upgrade, proposalData.upgrade(cAddr, await v2Impl.getAddress(), init));
      const logs = await c.queryFilter(c.filters.Upgraded(await v2Impl.getAddress()));
      expect(logs).toHaveLength(1);
      const receipt = (await logs[0]!.getTransactionReceipt())!;
      expectEvent(receipt, c, "ProposalExecuted", [pid, ProposalKind.Upgrade]);
      const newImpl = await conn.ethers.provider.getStorage(cAddr, IMPLEMENTATION_SLOT);
      expect(newImpl).not.toBe(oldImpl);
      expect(getAddress("0x" + newImpl.slice(26))).toBe(await v2Impl.getAddress());

      const v2 = (await conn.ethers.getContractAt("ConsortiumV2", cAddr)) as unknown as ConsortiumV2;
      expect(await v2.version()).toBe(2n);
      expect(await v2.releaseNote()).toBe("v2: release notes");
      // State preserved: directory, statuses, open proposals, governance.
      expect(await v2.orgCount()).toBe(8n);
      expect(await v2.activeOrgCount()).toBe(7n);
      expect(await v2.isActiveOrg(orgs.auditor.id)).toBe(false);
      expect(await v2.isActiveMember(orgs.oem.accounts[1]!.address)).toBe(true);
      expect(await v2.getValidators()).toHaveLength(7);
      expect(await v2.quorumBps()).toBe(BigInt(QUORUM_BPS));
      expect(plain(await v2.tally(open.pid))).toEqual([1n, 0n, 4n]);
      // Governance keeps working on the new code.
      await voteYes(open.pid, orgs.foundry, orgs.machining, orgs.oem);
      expect(await v2.hasRole(orgs.lab.id, Role.Auditor)).toBe(true);
      // The reinitializer ran once, inside the upgrade.
      await expectRevert(v2.connect(orgs.steel.signer).initializeV2("again"), v2, "InvalidInitialization");
    });

    it("refuses a direct upgradeToAndCall by a member, an outsider or the deployer", async () => {
      const v2Impl = await conn.ethers.deployContract("ConsortiumV2");
      for (const who of [orgs.steel.signer, outsider, fx.deployer]) {
        await expectRevert(c.connect(who).upgradeToAndCall(await v2Impl.getAddress(), "0x"), c, "UpgradeNotByGovernance", [who.address]);
      }
      // The implementation contract cannot be upgraded at all (not through a proxy).
      const impl = await conn.ethers.getContractAt("Consortium", await v2Impl.getAddress());
      await expectRevert(impl.connect(outsider).upgradeToAndCall(await v2Impl.getAddress(), "0x"), c, "UUPSUnauthorizedCallContext");
    });

    it("upgrades a governed Tracemesh contract through governance only; suspended members cannot act in it", async () => {
      const probe = await deployBound<GovernedProbe>(conn, "GovernedProbe", await c.getAddress());
      await mined(probe.connect(orgs.oem.signer).bump());
      const v2Impl = await conn.ethers.deployContract("GovernedProbeV2");
      await expectRevert(probe.connect(orgs.oem.signer).upgradeToAndCall(await v2Impl.getAddress(), "0x"), probe, "UpgradeNotByConsortium", [orgs.oem.signer.address]);
      await passProposal(fx, ProposalKind.Upgrade, proposalData.upgrade(await probe.getAddress(), await v2Impl.getAddress()));
      const v2 = (await conn.ethers.getContractAt("GovernedProbeV2", await probe.getAddress())) as unknown as GovernedProbeV2;
      expect(await v2.version()).toBe(2n);
      expect(await v2.counter()).toBe(1n);
      await suspendOrg(fx, "oem");
      await expectRevert(v2.connect(orgs.oem.signer).bump(), v2, "NotActiveMember", [orgs.oem.signer.address]);
      await expectRevert(v2.connect(outsider).bump(), v2, "NotActiveMember", [outsider.address]);
    });

    it("an upgrade that fails at execution reverts the execution and stays queued", async () => {
      const v2Impl = await conn.ethers.deployContract("ConsortiumV2");
      const cAddr = await c.getAddress();
      // initializeV2 with a reinitializer already used cannot run twice: the second upgrade fails.
      const init = v2Impl.interface.encodeFunctionData("initializeV2", ["once"]);
      await passProposal(fx, ProposalKind.Upgrade, proposalData.upgrade(cAddr, await v2Impl.getAddress(), init));
      const { pid } = await propose(orgs.steel, ProposalKind.Upgrade, proposalData.upgrade(cAddr, await v2Impl.getAddress(), init));
      await voteYes(pid, orgs.foundry, orgs.machining, orgs.oem, orgs.carrier);
      expect(await statusOf(pid)).toBe(ProposalStatus.Queued);
      await expectRevert(c.connect(outsider).execute(pid), c, "InvalidInitialization");
      expect(await statusOf(pid)).toBe(ProposalStatus.Queued);
    });
  });

  // ================================================================== gas

  describe("gas", () => {
    it("propose + execute a Suspend with 8 members, getValidators with 8 nodes, Besu's checks", async () => {
      // Not the contract's first proposal, whose counter write from zero costs 17k more.
      await mined(as(orgs.lab).propose(ProposalKind.Suspend, proposalData.suspend(orgs.regulator.id)));
      const { pid, receipt } = await propose(orgs.steel, ProposalKind.Suspend, proposalData.suspend(orgs.auditor.id));
      const gas = [receipt.gasUsed];
      // The auditor, the subject, does not vote: 4 of the 7 others pass it.
      for (const o of [orgs.foundry, orgs.machining, orgs.oem]) gas.push((await mined(as(o).vote(pid, true))).gasUsed);
      expect(await statusOf(pid)).toBe(ProposalStatus.Executed);
      const total = gas.reduce((a, b) => a + b, 0n);
      await reinstateOrg(fx, "auditor");
      const validatorsGas = await c.getValidators.estimateGas();
      const { enodeId } = orgs.oem;
      const connectionGas = await c.connectionAllowed.estimateGas(enodeId, "127.0.0.1", 30303);
      const foldedGas = await c.connectionAllowed.estimateGas("0x" + enodeId.toUpperCase(), "127.0.0.1", 30303);
      const transactionGas = await c.transactionAllowed.estimateGas(orgs.oem.signer.address, ZeroAddress, 0, 0, 21_000, "0x");
      console.info(
        `gas: propose ${gas[0]}, votes ${gas.slice(1).join(" / ")}, total ${total}; getValidators(8) ${validatorsGas}; ` +
          `connectionAllowed ${connectionGas} (other spelling ${foldedGas}); transactionAllowed ${transactionGas} (all with the 21000 base)`,
      );
      // Generous ceilings that catch regressions (an unbounded loop, a storage write per read).
      expect(total).toBeLessThan(450_000n);
      expect(gas.at(-1)!).toBeLessThan(90_000n);
      expect(validatorsGas).toBeLessThan(80_000n);
      // Besu's checks include one delegatecall into BesuPermissioning (a cold code access, ~3.6k).
      expect(connectionGas).toBeLessThan(45_000n);
      expect(transactionGas).toBeLessThan(45_000n);
    });
  });
});
