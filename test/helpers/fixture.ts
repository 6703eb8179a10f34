/**
 * Shared test fixture: a real Consortium behind its proxy on an in-process chain, with the
 * demo's kinds of organisations, and helpers that change membership through real governance.
 */
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/types";
import type { BaseContract, ContractTransactionReceipt, ContractTransactionResponse, Signer } from "ethers";
import { AbiCoder, ZeroAddress, id, keccak256, toUtf8Bytes } from "ethers";
import type { NetworkConnection } from "hardhat/types/network";
import { describe, expect, it } from "vitest";
import { revertDataOf } from "../../lib/revert.ts";
import type { Consortium, IdentifierNamespaces, Provenance } from "../../lib/contracts/types/index.js";
import { NamespacePolicy, schemeArgs } from "../../lib/namespaces.ts";
import { type FounderInit, ProposalKind, ProposalStatus, Role, proposalData, proposalSubject, roleMask } from "../../lib/consortium.ts";

export type Conn = NetworkConnection<"l1">;

export interface TestOrg {
  id: number;
  name: string;
  roles: Role[];
  /** The organisation's first signing account. */
  signer: HardhatEthersSigner;
  accounts: HardhatEthersSigner[];
  peerId: string;
  enodeId: string;
  validator: string;
}

/** The demo consortium's organisations (also used by test/helpers/gateway.ts on anvil). */
export const DEMO_ORGS = {
  steel: { name: "Northern Steel Mill", roles: [Role.Supplier], accounts: 2 },
  foundry: { name: "Precision Castings", roles: [Role.Supplier], accounts: 1 },
  machining: { name: "Delta Machining", roles: [Role.Supplier], accounts: 1 },
  oem: { name: "Atlas Motors", roles: [Role.Manufacturer], accounts: 2 },
  carrier: { name: "RailFreight Logistics", roles: [Role.Logistics], accounts: 1 },
  lab: { name: "Certa Test Lab", roles: [Role.Certifier], accounts: 1 },
  regulator: { name: "Market Surveillance Authority", roles: [Role.Regulator], accounts: 1 },
  auditor: { name: "Independent Auditors", roles: [Role.Auditor], accounts: 1 },
} as const;

export type OrgKey = keyof typeof DEMO_ORGS;

export interface ConsortiumFixture {
  conn: Conn;
  consortium: Consortium;
  orgs: Record<OrgKey, TestOrg>;
  /** A funded account that belongs to no organisation. */
  outsider: HardhatEthersSigner;
  deployer: HardhatEthersSigner;
}

/** Default governance of the fixture: simple majority, one-day voting period. */
export const QUORUM_BPS = 5001;
export const VOTING_PERIOD = 24 * 3600;

/** Deterministic node identities for a test organisation. */
function nodeIdentity(key: string) {
  const enodeId = (keccak256(toUtf8Bytes(`enode-a:${key}`)) + keccak256(toUtf8Bytes(`enode-b:${key}`)).slice(2)).slice(2);
  const validator = "0x" + id(`validator:${key}`).slice(26);
  return { peerId: `12D3KooW${key}`, enodeId, enodeHost: "127.0.0.1", enodePort: 30303, validator };
}

/**
 * The chain as it is now, to return to: `restore()` reverts to it (a snapshot is used up by its
 * revert, so it is taken again for the next time). Lets every test start from one deployment.
 */
export async function chainSnapshot(conn: Conn): Promise<{ restore(): Promise<void> }> {
  const take = async () => (await conn.provider.request({ method: "evm_snapshot", params: [] })) as string;
  let id = await take();
  return {
    async restore() {
      await conn.provider.request({ method: "evm_revert", params: [id] });
      id = await take();
    },
  };
}

export async function deployBound<T extends BaseContract>(
  conn: Conn,
  contractName: string,
  consortiumAddress: string,
  ...extraInitArgs: unknown[]
): Promise<T> {
  const { ethers } = conn;
  const impl = await ethers.deployContract(contractName);
  const initCall = impl.interface.encodeFunctionData("initialize", [consortiumAddress, ...extraInitArgs]);
  const proxy = await ethers.deployContract("TracemeshProxy", [await impl.getAddress(), initCall]);
  return (await ethers.getContractAt(contractName, await proxy.getAddress())) as unknown as T;
}

/**
 * The initialize cases of a contract bound to the Consortium by `initialize(consortium)` behind its
 * proxy: bound once (a second initialize refused) and never to a zero Consortium. `deployed` gives
 * the describe block's connection, fixture and instance, set up in its beforeAll.
 */
export function describeConsortiumBinding(
  contractName: string,
  deployed: () => { conn: Conn; fx: ConsortiumFixture; contract: BaseContract },
): void {
  describe("initialize", () => {
    it("binds the Consortium once", async () => {
      const { fx, contract } = deployed();
      const consortium = await fx.consortium.getAddress();
      expect(await contract.getFunction("consortium")()).toBe(consortium);
      await expectRevert(contract.getFunction("initialize")(consortium), contract, "InvalidInitialization");
    });

    it("refuses a zero Consortium", async () => {
      const { conn, contract } = deployed();
      await expectRevert(deployBound(conn, contractName, ZeroAddress), contract, "ZeroConsortium");
    });
  });
}

/**
 * Provenance with its IdentifierNamespaces, each behind a proxy and bound to `consortiumAddress`.
 * Unchecked by default (keys need no proof): suites about custody rules; namespace rules have their own.
 */
export async function deployProvenance(
  conn: Conn,
  consortiumAddress: string,
  policy: NamespacePolicy = NamespacePolicy.Unchecked,
  grants: { prefix: string; orgId: number }[] = [],
): Promise<{ prov: Provenance; namespaces: IdentifierNamespaces }> {
  const namespaces = await deployBound<IdentifierNamespaces>(conn, "IdentifierNamespaces", consortiumAddress, schemeArgs(), grants, policy);
  const prov = await deployBound<Provenance>(conn, "Provenance", consortiumAddress, await namespaces.getAddress());
  return { prov, namespaces };
}

export async function deployConsortium(conn: Conn): Promise<ConsortiumFixture> {
  const { ethers } = conn;
  const signers = await ethers.getSigners();
  const deployer = signers[0]!;
  let next = 1;
  const orgs = {} as Record<OrgKey, TestOrg>;
  const founders: FounderInit[] = [];
  for (const [key, spec] of Object.entries(DEMO_ORGS) as [OrgKey, (typeof DEMO_ORGS)[OrgKey]][]) {
    const accounts = signers.slice(next, next + spec.accounts);
    next += spec.accounts;
    const node = nodeIdentity(key);
    orgs[key] = {
      id: founders.length + 1,
      name: spec.name,
      roles: [...spec.roles],
      signer: accounts[0]!,
      accounts,
      peerId: node.peerId,
      enodeId: node.enodeId,
      validator: node.validator,
    };
    founders.push({
      name: spec.name,
      roles: roleMask(...spec.roles),
      accounts: accounts.map((a) => a.address),
      nodes: [node],
    });
  }
  const outsider = signers[next]!;
  const impl = await ethers.deployContract("Consortium");
  const initCall = impl.interface.encodeFunctionData("initialize", [founders, QUORUM_BPS, VOTING_PERIOD]);
  const proxy = await ethers.deployContract("TracemeshProxy", [await impl.getAddress(), initCall]);
  const consortium = (await ethers.getContractAt("Consortium", await proxy.getAddress())) as unknown as Consortium;
  return { conn, consortium, orgs, outsider, deployer };
}

/** What governance needs of a fixture: Consortium and each organisation's id and signer. */
export interface Governed {
  consortium: Consortium;
  orgs: Record<OrgKey, { id: number; signer: Signer }>;
}

/**
 * Passes a proposal through real governance: the first active organisation that may vote on it
 * proposes and the others vote yes until it passes. An Upgrade or Call of a proxy not yet on the
 * consortium's allow-list is preceded by the SetGoverned proposal that lists it; a queued proposal
 * is executed once the consortium's execution delay is over (the chain's clock is moved on).
 * Returns the proposal id.
 */
export async function passProposal(fx: Governed, kind: ProposalKind, data: string): Promise<bigint> {
  const { consortium } = fx;
  if (kind === ProposalKind.Upgrade || kind === ProposalKind.Call) {
    const target = AbiCoder.defaultAbiCoder().decode(["address"], data)[0] as string;
    if (target !== (await consortium.getAddress()) && !(await consortium.isGoverned(target))) {
      await passProposal(fx, ProposalKind.SetGoverned, proposalData.setGoverned([target], true));
    }
  }
  const subject = proposalSubject(kind, data);
  const voters: Governed["orgs"][OrgKey][] = [];
  for (const org of Object.values(fx.orgs)) {
    if (org.id !== subject && (await consortium.isActiveOrg(org.id))) voters.push(org);
  }
  const [proposer, ...others] = voters;
  if (!proposer) throw new Error("no active organisation left to propose");
  await (await consortium.connect(proposer.signer).propose(kind, data)).wait();
  const proposalId = await consortium.proposalCount();
  for (const org of others) {
    const [, status] = await consortium.proposal(proposalId);
    if (Number(status) !== ProposalStatus.Open) break;
    await (await consortium.connect(org.signer).vote(proposalId, true)).wait();
  }
  if (Number((await consortium.proposal(proposalId))[1]) === ProposalStatus.Queued) {
    const delay = Number(await consortium.executionDelay());
    const provider = consortium.runner!.provider! as unknown as { send(method: string, params: unknown[]): Promise<unknown> };
    if (delay > 0) {
      await provider.send("evm_increaseTime", [delay]);
      await provider.send("evm_mine", []);
    }
    await (await consortium.connect(proposer.signer).execute(proposalId)).wait();
  }
  const [, status] = await consortium.proposal(proposalId);
  expect(Number(status)).toBe(ProposalStatus.Executed);
  return proposalId;
}

export const suspendOrg = (fx: Governed, key: OrgKey) =>
  passProposal(fx, ProposalKind.Suspend, proposalData.suspend(fx.orgs[key].id));
export const reinstateOrg = (fx: Governed, key: OrgKey) =>
  passProposal(fx, ProposalKind.Reinstate, proposalData.reinstate(fx.orgs[key].id));
export const removeOrg = (fx: Governed, key: OrgKey) =>
  passProposal(fx, ProposalKind.Remove, proposalData.remove(fx.orgs[key].id));


/**
 * Asserts that `action` reverts with the custom error `errorName` of `contract` (and, when
 * given, with exactly these arguments).
 */
export async function expectRevert(
  action: Promise<unknown>,
  contract: BaseContract,
  errorName: string,
  args?: unknown[],
): Promise<void> {
  let failure: unknown;
  try {
    const result = await action;
    // A sent transaction that reverts throws at wait(); a view call throws above.
    if (result && typeof (result as { wait?: unknown }).wait === "function") {
      await (result as { wait: () => Promise<unknown> }).wait();
    }
  } catch (e) {
    failure = e;
  }
  if (failure === undefined) throw new Error(`expected a revert with ${errorName}, but the call succeeded`);
  const data = revertDataOf(failure);
  if (!data) throw new Error(`expected ${errorName}, got a failure without revert data: ${String(failure)}`);
  const parsed = contract.interface.parseError(data);
  expect(parsed?.name ?? `unknown error ${data.slice(0, 10)}`).toBe(errorName);
  if (args) expect(normalise([...parsed!.args])).toEqual(normalise(args));
}

/** bigint, number and enum values compare equal when they hold the same integer. */
export function normalise(values: unknown[]): unknown[] {
  return values.map((v) => (typeof v === "number" ? BigInt(v) : Array.isArray(v) ? normalise(v) : v));
}

export async function increaseTime(conn: Conn, seconds: number): Promise<void> {
  await conn.provider.request({ method: "evm_increaseTime", params: [seconds] });
  await conn.provider.request({ method: "evm_mine", params: [] });
}

/** The latest block's timestamp in seconds. */
export async function now(conn: Conn): Promise<number> {
  const block = await conn.ethers.provider.getBlock("latest");
  return block!.timestamp;
}

/** Waits for `tx` and asserts that `contract` emitted exactly these `name` events, in order. */
export async function expectEvents(
  tx: Promise<ContractTransactionResponse>,
  contract: BaseContract,
  name: string,
  ...expected: unknown[][]
): Promise<ContractTransactionReceipt> {
  const receipt = (await (await tx).wait())!;
  const address = (await contract.getAddress()).toLowerCase();
  const seen: unknown[][] = [];
  for (const log of receipt.logs) {
    if (log.address.toLowerCase() !== address) continue;
    const parsed = contract.interface.parseLog(log);
    if (parsed?.name === name) seen.push(normalise([...parsed.args]));
  }
  expect(seen).toEqual(expected.map(normalise));
  return receipt;
}

/** The timestamp of the block that holds `receipt`. */
export async function blockTime(conn: Conn, receipt: ContractTransactionReceipt): Promise<number> {
  return (await conn.ethers.provider.getBlock(receipt.blockNumber))!.timestamp;
}

/** Fixes the next block's timestamp, for tests of exact time boundaries. */
export async function setNextTime(conn: Conn, t: number): Promise<void> {
  await conn.provider.request({ method: "evm_setNextBlockTimestamp", params: [t] });
}
