/**
 * Consortium's safeguards against its own members (issue 12, governance findings), each proven
 * on a real chain: the execution delay between passing and executing upgrades and calls, the
 * allow-list of governed proxies, the subject of a sanction not voting on it, and the
 * per-transaction gas bound in transactionAllowed. Also the generic Call action that sets
 * `onlyConsortium` settings of governed contracts, and the delegated codes' own guards.
 */
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/types";
import { ZeroAddress } from "ethers";
import { network } from "hardhat";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ProposalKind, ProposalStatus, Role, proposalData } from "../../lib/consortium.ts";
import type { Consortium, GovernedProbe } from "../../lib/contracts/types/index.js";
import {
  type ConsortiumFixture,
  type Conn,
  type OrgKey,
  type TestOrg,
  deployBound,
  deployConsortium,
  expectRevert,
  increaseTime,
  now,
  passProposal,
  chainSnapshot,
} from "../helpers/fixture.ts";

const DAY = 24 * 3600;
/** keccak256("eip1967.proxy.implementation") - 1 */
const IMPLEMENTATION_SLOT = "0x360894a13ba1a3210667c828492db98dca3e2076cc3735a920a3ca505d382bbc";

describe("Consortium safeguards", () => {
  let conn: Conn;
  let fx: ConsortiumFixture;
  let c: Consortium;
  let orgs: Record<OrgKey, TestOrg>;
  let outsider: HardhatEthersSigner;
  let probe: GovernedProbe;
  let probeAddr: string;
  let fresh: { restore(): Promise<void> };

  beforeAll(async () => {
    conn = await network.create();
    fx = await deployConsortium(conn);
    ({ consortium: c, orgs, outsider } = fx);
    probe = await deployBound<GovernedProbe>(conn, "GovernedProbe", await c.getAddress());
    probeAddr = await probe.getAddress();
    fresh = await chainSnapshot(conn);
  });
  afterAll(async () => conn.close());
  beforeEach(async () => {
    await fresh.restore();
  });

  const as = (org: TestOrg) => c.connect(org.signer);
  const mined = async (tx: Promise<{ wait(): Promise<unknown> }>) => (await tx).wait();
  const statusOf = async (pid: bigint) => Number((await c.proposal(pid))[1]) as ProposalStatus;
  const implementationOf = async (proxy: string) => `0x${(await conn.ethers.provider.getStorage(proxy, IMPLEMENTATION_SLOT)).slice(26)}`;

  /** Proposes as steel and votes yes with the next organisations until the proposal leaves Open. */
  async function decide(kind: ProposalKind, data: string): Promise<bigint> {
    await mined(as(orgs.steel).propose(kind, data));
    const pid = await c.proposalCount();
    for (const key of ["foundry", "machining", "oem", "carrier"] as const) {
      if ((await statusOf(pid)) !== ProposalStatus.Open) break;
      await mined(as(orgs[key]).vote(pid, true));
    }
    return pid;
  }

  // ================================================================== execution delay

  describe("execution delay (a passed Upgrade does not run in the deciding vote)", () => {
    it("queues a passed Upgrade for the consortium's delay; then anyone, even an outsider, executes it", async () => {
      await passProposal(fx, ProposalKind.SetExecutionDelay, proposalData.setExecutionDelay(2 * DAY));
      expect(await c.executionDelay()).toBe(BigInt(2 * DAY));
      const cAddr = await c.getAddress();
      const before = await implementationOf(cAddr);
      const v2Impl = await conn.ethers.deployContract("ConsortiumV2");
      const pid = await decide(ProposalKind.Upgrade, proposalData.upgrade(cAddr, await v2Impl.getAddress()));

      expect(await statusOf(pid)).toBe(ProposalStatus.Queued);
      expect(await implementationOf(cAddr)).toBe(before);
      const [, executableAt] = await c.proposalSchedule(pid);
      expect(executableAt).toBe(BigInt((await now(conn)) + 2 * DAY));
      await expectRevert(c.connect(outsider).execute(pid), c, "ExecutionDelayNotOver", [pid, executableAt]);
      // Nobody votes on a queued proposal any more.
      await expectRevert(as(orgs.lab).vote(pid, true), c, "ProposalNotOpen", [pid, ProposalStatus.Queued]);

      await increaseTime(conn, 2 * DAY);
      await mined(c.connect(outsider).execute(pid));
      expect(await statusOf(pid)).toBe(ProposalStatus.Executed);
      expect((await implementationOf(cAddr)).toLowerCase()).toBe((await v2Impl.getAddress()).toLowerCase());
      await expectRevert(c.connect(outsider).execute(pid), c, "NotActiveMember", [outsider.address]);
    });

    it("with no delay set, a passed Upgrade still waits for a transaction of its own", async () => {
      const v2Impl = await conn.ethers.deployContract("ConsortiumV2");
      const cAddr = await c.getAddress();
      const pid = await decide(ProposalKind.Upgrade, proposalData.upgrade(cAddr, await v2Impl.getAddress()));
      expect(await statusOf(pid)).toBe(ProposalStatus.Queued);
      expect((await implementationOf(cAddr)).toLowerCase()).not.toBe((await v2Impl.getAddress()).toLowerCase());
      await mined(c.connect(outsider).execute(pid));
      expect((await implementationOf(cAddr)).toLowerCase()).toBe((await v2Impl.getAddress()).toLowerCase());
    });

    it("shortening the delay waits out the current one, and the delay is bounded", async () => {
      await passProposal(fx, ProposalKind.SetExecutionDelay, proposalData.setExecutionDelay(DAY));
      const pid = await decide(ProposalKind.SetExecutionDelay, proposalData.setExecutionDelay(0));
      expect(await statusOf(pid)).toBe(ProposalStatus.Queued);
      await expectRevert(c.connect(outsider).execute(pid), c, "ExecutionDelayNotOver");
      await increaseTime(conn, DAY);
      await mined(c.connect(outsider).execute(pid));
      expect(await c.executionDelay()).toBe(0n);
      await expectRevert(as(orgs.steel).propose(ProposalKind.SetExecutionDelay, proposalData.setExecutionDelay(30 * DAY + 1)), c, "InvalidExecutionDelay", [30 * DAY + 1]);
    });

    it("membership proposals still take effect with the deciding vote", async () => {
      await passProposal(fx, ProposalKind.SetExecutionDelay, proposalData.setExecutionDelay(DAY));
      const pid = await decide(ProposalKind.GrantRole, proposalData.grantRole(orgs.lab.id, Role.Auditor));
      expect(await statusOf(pid)).toBe(ProposalStatus.Executed);
      expect(await c.hasRole(orgs.lab.id, Role.Auditor)).toBe(true);
    });
  });

  // ================================================================== objections

  describe("objections during the execution delay (a blocking minority cancels a queued proposal)", () => {
    // 8 organisations, quorum 50.01%: 5 approvals pass a proposal, so 4 opponents could have
    // rejected it; 4 opponents (no votes and objections) cancel it while it waits.
    async function queuedUpgrade(): Promise<{ pid: bigint; cAddr: string; v2: string }> {
      await passProposal(fx, ProposalKind.SetExecutionDelay, proposalData.setExecutionDelay(DAY));
      const cAddr = await c.getAddress();
      const v2 = await (await conn.ethers.deployContract("ConsortiumV2")).getAddress();
      const pid = await decide(ProposalKind.Upgrade, proposalData.upgrade(cAddr, v2));
      expect(await statusOf(pid)).toBe(ProposalStatus.Queued);
      return { pid, cAddr, v2 };
    }

    it("members who missed the vote, with one that changed its mind, cancel it; it never executes", async () => {
      const { pid, cAddr, v2 } = await queuedUpgrade();
      const before = await implementationOf(cAddr);
      await expect(as(orgs.lab).object(pid)).resolves.toBeDefined();
      await expectRevert(as(orgs.lab).object(pid), c, "AlreadyOpposed", [pid, orgs.lab.id]);
      await expectRevert(c.connect(outsider).object(pid), c, "NotActiveMember", [outsider.address]);
      await mined(as(orgs.regulator).object(pid));
      await mined(as(orgs.auditor).object(pid));
      // Three opponents could not have stopped it: still queued.
      expect(await statusOf(pid)).toBe(ProposalStatus.Queued);
      // The carrier voted for it and objects now: the fourth opponent cancels it.
      const rc = await (await as(orgs.carrier).object(pid)).wait();
      const names = rc!.logs.map((l) => c.interface.parseLog(l)?.name);
      expect(names).toEqual(["ProposalObjected", "ProposalRejected"]);
      expect(await statusOf(pid)).toBe(ProposalStatus.Rejected);
      expect(await c.objectorsOf(pid)).toEqual([orgs.lab.id, orgs.regulator.id, orgs.auditor.id, orgs.carrier.id].map(BigInt));
      await increaseTime(conn, DAY);
      await expectRevert(as(orgs.steel).execute(pid), c, "ProposalNotOpen", [pid, ProposalStatus.Rejected]);
      expect(await implementationOf(cAddr)).toBe(before);
      expect(before.toLowerCase()).not.toBe(v2.toLowerCase());
    });

    it("a no vote counts as opposition already; objections come only while the proposal waits", async () => {
      await passProposal(fx, ProposalKind.SetExecutionDelay, proposalData.setExecutionDelay(DAY));
      const cAddr = await c.getAddress();
      const v2 = await (await conn.ethers.deployContract("ConsortiumV2")).getAddress();
      await mined(as(orgs.steel).propose(ProposalKind.Upgrade, proposalData.upgrade(cAddr, v2)));
      const pid = await c.proposalCount();
      await expectRevert(as(orgs.lab).object(pid), c, "NotObjectable", [pid, ProposalStatus.Open, 0]);
      await mined(as(orgs.auditor).vote(pid, false));
      for (const key of ["foundry", "machining", "oem", "carrier"] as const) await mined(as(orgs[key]).vote(pid, true));
      expect(await statusOf(pid)).toBe(ProposalStatus.Queued);
      await expectRevert(as(orgs.auditor).object(pid), c, "AlreadyOpposed", [pid, orgs.auditor.id]);
      await mined(as(orgs.lab).object(pid));
      await mined(as(orgs.regulator).object(pid));
      expect(await statusOf(pid)).toBe(ProposalStatus.Queued);
      await mined(as(orgs.oem).object(pid)); // the no vote, two objections and this one: four
      expect(await statusOf(pid)).toBe(ProposalStatus.Rejected);
      expect(await c.objectorsOf(pid)).toEqual([orgs.lab.id, orgs.regulator.id, orgs.oem.id].map(BigInt));
      await expectRevert(as(orgs.machining).object(pid), c, "NotObjectable");
      await expectRevert(as(orgs.lab).object(999n), c, "UnknownProposal", [999n]);

      // Once the delay is over, the proposal is for anyone to execute, no longer to object to.
      const { pid: late } = await queuedUpgrade();
      const [, executableAt] = await c.proposalSchedule(late);
      await increaseTime(conn, DAY);
      await expectRevert(as(orgs.lab).object(late), c, "NotObjectable", [late, ProposalStatus.Queued, executableAt]);
      await mined(c.connect(outsider).execute(late));
      expect(await statusOf(late)).toBe(ProposalStatus.Executed);
    });
  });

  // ================================================================== allow-list

  describe("allow-list of governed proxies", () => {
    it("refuses to upgrade or call a contract that merely names this Consortium, until governance lists it", async () => {
      expect(await probe.consortium()).toBe(await c.getAddress());
      const v2Impl = await conn.ethers.deployContract("GovernedProbeV2");
      const upgrade = proposalData.upgrade(probeAddr, await v2Impl.getAddress());
      const call = proposalData.call(probeAddr, probe.interface.encodeFunctionData("setLimit", [7]));
      await expectRevert(as(orgs.steel).propose(ProposalKind.Upgrade, upgrade), c, "NotGovernedHere", [probeAddr]);
      await expectRevert(as(orgs.steel).propose(ProposalKind.Call, call), c, "NotGovernedHere", [probeAddr]);

      await passProposal(fx, ProposalKind.SetGoverned, proposalData.setGoverned([probeAddr], true));
      expect(await c.isGoverned(probeAddr)).toBe(true);
      await mined(as(orgs.steel).propose(ProposalKind.Upgrade, upgrade));
      await mined(as(orgs.steel).propose(ProposalKind.Call, call));

      await passProposal(fx, ProposalKind.SetGoverned, proposalData.setGoverned([probeAddr], false));
      expect(await c.isGoverned(probeAddr)).toBe(false);
      await expectRevert(as(orgs.steel).propose(ProposalKind.Upgrade, upgrade), c, "NotGovernedHere", [probeAddr]);
    });

    it("lists only contracts that name this Consortium as their governor", async () => {
      const other = await deployConsortium(conn);
      const foreign = await deployBound<GovernedProbe>(conn, "GovernedProbe", await other.consortium.getAddress());
      const foreignAddr = await foreign.getAddress();
      const cAddr = await c.getAddress();
      await expectRevert(as(orgs.steel).propose(ProposalKind.SetGoverned, proposalData.setGoverned([foreignAddr], true)), c, "NotGovernedHere", [foreignAddr]);
      await expectRevert(as(orgs.steel).propose(ProposalKind.SetGoverned, proposalData.setGoverned([outsider.address], true)), c, "NotAContract", [outsider.address]);
      await expectRevert(as(orgs.steel).propose(ProposalKind.SetGoverned, proposalData.setGoverned([cAddr], true)), c, "NotGovernedHere", [cAddr]);
    });
  });

  // ================================================================== subject does not vote

  describe("the subject of a sanction does not vote on it", () => {
    it("under unanimity, a member cannot veto its own suspension; the others' unanimity suffices", async () => {
      await passProposal(fx, ProposalKind.SetGovernance, proposalData.setGovernance(10_000, DAY));
      await mined(as(orgs.steel).propose(ProposalKind.Suspend, proposalData.suspend(orgs.auditor.id)));
      const pid = await c.proposalCount();
      await expectRevert(as(orgs.auditor).vote(pid, false), c, "SubjectMayNotVote", [pid, orgs.auditor.id]);
      expect((await c.tally(pid))[2]).toBe(7n); // the 7 others, not 8
      for (const key of ["foundry", "machining", "oem", "carrier", "lab", "regulator"] as const) await mined(as(orgs[key]).vote(pid, true));
      expect(await statusOf(pid)).toBe(ProposalStatus.Executed);
      expect(await c.isActiveOrg(orgs.auditor.id)).toBe(false);
    });

    it("applies to Remove and RevokeRole too, through any of the subject's accounts", async () => {
      const removal = await decideOpen(ProposalKind.Remove, proposalData.remove(orgs.oem.id));
      await expectRevert(c.connect(orgs.oem.accounts[1]!).vote(removal, true), c, "SubjectMayNotVote", [removal, orgs.oem.id]);
      const revocation = await decideOpen(ProposalKind.RevokeRole, proposalData.revokeRole(orgs.lab.id, Role.Certifier));
      await expectRevert(as(orgs.lab).vote(revocation, false), c, "SubjectMayNotVote", [revocation, orgs.lab.id]);
      expect(await c.proposalSchedule(revocation)).toEqual([BigInt(orgs.lab.id), 0n]);
      // Reinstating is no sanction: the suspended organisation could not vote anyway.
      const grant = await decideOpen(ProposalKind.GrantRole, proposalData.grantRole(orgs.lab.id, Role.Auditor));
      expect((await c.proposalSchedule(grant))[0]).toBe(0n);
    });

    it("an organisation renouncing its own role casts no ballot on it", async () => {
      await mined(as(orgs.lab).propose(ProposalKind.RevokeRole, proposalData.revokeRole(orgs.lab.id, Role.Certifier)));
      const pid = await c.proposalCount();
      expect(await c.tally(pid)).toEqual([0n, 0n, 4n]);
      expect(await c.ballotOf(pid, orgs.lab.id)).toBe(0n);
    });

    async function decideOpen(kind: ProposalKind, data: string): Promise<bigint> {
      await mined(as(orgs.steel).propose(kind, data));
      return c.proposalCount();
    }
  });

  // ================================================================== transaction bound

  describe("per-transaction gas bound (free gas must not let one member fill blocks)", () => {
    it("transactionAllowed refuses a member's transaction above the bound the consortium set", async () => {
      const member = orgs.oem.signer.address;
      expect(await c.transactionAllowed(member, ZeroAddress, 0, 0, 700_000_000, "0x")).toBe(true);
      await passProposal(fx, ProposalKind.SetTransactionGasLimit, proposalData.setTransactionGasLimit(8_000_000));
      expect(await c.maxTransactionGas()).toBe(8_000_000n);
      expect(await c.transactionAllowed(member, ZeroAddress, 0, 0, 8_000_000, "0x")).toBe(true);
      expect(await c.transactionAllowed(member, ZeroAddress, 0, 0, 8_000_001, "0x")).toBe(false);
      expect(await c.transactionAllowed(member, await c.getAddress(), 0, 0, 700_000_000, "0x1234")).toBe(false);
      expect(await c.transactionAllowed(outsider.address, ZeroAddress, 0, 0, 21_000, "0x")).toBe(false);
      await passProposal(fx, ProposalKind.SetTransactionGasLimit, proposalData.setTransactionGasLimit(0));
      expect(await c.transactionAllowed(member, ZeroAddress, 0, 0, 700_000_000, "0x")).toBe(true);
    });

    it("refuses a bound so low that members could not vote it back up", async () => {
      await expectRevert(as(orgs.steel).propose(ProposalKind.SetTransactionGasLimit, proposalData.setTransactionGasLimit(4_999_999)), c, "InvalidTransactionGasLimit", [4_999_999]);
    });
  });

  // ================================================================== generic call

  describe("Call: the consortium sets a governed contract's onlyConsortium settings", () => {
    it("only a passed Call proposal reaches an onlyConsortium setter, after the delay", async () => {
      const setLimit = probe.interface.encodeFunctionData("setLimit", [42]);
      await expectRevert(probe.connect(orgs.regulator.signer).setLimit(42), probe, "NotConsortium", [orgs.regulator.signer.address]);
      await expectRevert(probe.connect(outsider).setLimit(42), probe, "NotConsortium", [outsider.address]);
      await passProposal(fx, ProposalKind.SetGoverned, proposalData.setGoverned([probeAddr], true));
      await passProposal(fx, ProposalKind.SetExecutionDelay, proposalData.setExecutionDelay(DAY));

      const pid = await decide(ProposalKind.Call, proposalData.call(probeAddr, setLimit));
      expect(await statusOf(pid)).toBe(ProposalStatus.Queued);
      expect(await probe.limit()).toBe(0n);
      await increaseTime(conn, DAY);
      await mined(c.connect(outsider).execute(pid));
      expect(await probe.limit()).toBe(42n);
      expect(await statusOf(pid)).toBe(ProposalStatus.Executed);
    });

    it("the callee's refusal is the execution's refusal; the proposal stays queued", async () => {
      await passProposal(fx, ProposalKind.SetGoverned, proposalData.setGoverned([probeAddr], true));
      const pid = await decide(ProposalKind.Call, proposalData.call(probeAddr, probe.interface.encodeFunctionData("setLimit", [0])));
      await expectRevert(c.connect(outsider).execute(pid), probe, "ZeroLimit");
      expect(await statusOf(pid)).toBe(ProposalStatus.Queued);
    });

    it("refuses to call Consortium itself, a proxy's upgrade function, or a contract not on the list", async () => {
      await passProposal(fx, ProposalKind.SetGoverned, proposalData.setGoverned([probeAddr], true));
      const cAddr = await c.getAddress();
      const upgrade = probe.interface.encodeFunctionData("upgradeToAndCall", [probeAddr, "0x"]);
      await expectRevert(as(orgs.steel).propose(ProposalKind.Call, proposalData.call(probeAddr, upgrade)), c, "UpgradeThroughCall", [probeAddr]);
      const selfCall = c.interface.encodeFunctionData("vote", [1, true]);
      await expectRevert(as(orgs.steel).propose(ProposalKind.Call, proposalData.call(cAddr, selfCall)), c, "NotGovernedHere", [cAddr]);
      await expectRevert(as(orgs.steel).propose(ProposalKind.Call, proposalData.call(outsider.address, "0x")), c, "NotGovernedHere", [outsider.address]);
    });
  });

  // ================================================================== delegated codes

  describe("the codes Consortium delegates to", () => {
    it("ConsortiumActions refuses to run except through Consortium's delegatecall", async () => {
      const actions = await conn.ethers.getContractAt("ConsortiumActions", await c.actions());
      await expectRevert(
        actions.connect(outsider).run(ProposalKind.SetTransactionGasLimit, proposalData.setTransactionGasLimit(0), true),
        actions,
        "NotDelegated",
      );
    });

    it("BesuPermissioning called directly reads its own empty storage and allows nothing", async () => {
      const besu = await conn.ethers.getContractAt("BesuPermissioning", await c.besuPermissioning());
      expect(await besu.getValidators()).toEqual([]);
      expect(await besu.transactionAllowed(orgs.oem.signer.address, ZeroAddress, 0, 0, 21_000, "0x")).toBe(false);
      expect(await besu.connectionAllowed(orgs.oem.enodeId, "127.0.0.1", 30303)).toBe(false);
      expect(await c.connectionAllowed(orgs.oem.enodeId, "127.0.0.1", 30303)).toBe(true);
    });
  });
});
