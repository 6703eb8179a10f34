/**
 * A scripted multi-tier traceability story on a real anvil chain with the Tracemesh contracts:
 * a steel mill commissions coils, a foundry casts them, a machining shop machines the castings,
 * an OEM assembles engines, a lab certifies, a regulator accredits and recalls, organisations
 * grant and revoke access, a node anchors data windows, and the members govern. Used by the
 * indexer's tests and the traceability routes' tests.
 */
import { JsonRpcProvider, NonceManager, type TransactionResponse, Wallet, getAddress, id } from "ethers";
import { Role, ProposalKind, proposalData } from "../../lib/consortium.ts";
import { type TracemeshContracts, type Deployment, connectContracts } from "../../lib/deployment.ts";
import { batchKey, itemKey } from "../../lib/identifiers/canonical.ts";
import { NamespacePolicy } from "../../lib/namespaces.ts";
import { RevocationReason, ScopeKind } from "../../lib/registry.ts";
import { ChainClient } from "../../node/chain/client.ts";
import { type LocalChain, deployLocal, devKey, peerOnlyNode, startAnvil } from "../../scripts/local-chain/local-chain.ts";
import type { TestChain } from "./gateway.ts";

export const ORGS = [
  { key: "steel", name: "Northern Steel Mill", roles: [Role.Supplier] },
  { key: "foundry", name: "Precision Castings", roles: [Role.Supplier] },
  { key: "machining", name: "Delta Machining", roles: [Role.Supplier] },
  { key: "oem", name: "Atlas Motors", roles: [Role.Manufacturer] },
  { key: "carrier", name: "RailFreight Logistics", roles: [Role.Logistics] },
  { key: "lab", name: "Certa Test Lab", roles: [Role.Certifier] },
  { key: "regulator", name: "Market Surveillance Authority", roles: [Role.Regulator] },
  { key: "auditor", name: "Independent Auditors", roles: [Role.Auditor] },
] as const;
export type OrgKey = (typeof ORGS)[number]["key"];

/** Org id (1-based, founding order) of each organisation. */
export const ORG_ID = Object.fromEntries(ORGS.map((o, i) => [o.key, i + 1])) as Record<OrgKey, number>;

const GTIN = "09521234543213";
export const dl = (serial: string) => `https://id.gs1.org/01/${GTIN}/21/${serial}`;
export const lot = (lotNo: string) => `https://id.gs1.org/01/${GTIN}/10/${lotNo}`;
export const key = (serial: string) => itemKey(dl(serial));
export const lotKey = (lotNo: string) => batchKey(lot(lotNo));
export const eventHash = (label: string) => id(`event:${label}`);
export const DISP_ACTIVE = id("urn:epcglobal:cbv:disp:active");
export const DISP_CONFORMANT = id("urn:epcglobal:cbv:disp:conformant");
export const SCOPE_MTR = id("EN10204-3.1");
export const PURPOSE = id("QUALITY_CLAIM");

export interface StoryChain {
  chain: LocalChain;
  deployment: Deployment;
  provider: JsonRpcProvider;
  /** Contracts connected as each organisation's first account. */
  as: Record<OrgKey, TracemeshContracts>;
  /** Read-only handles. */
  view: TracemeshContracts;
  /** Contracts connected as an anchoring node's account (an account of an active member). */
  node: TracemeshContracts;
  nodeAccount: string;
  stop(): Promise<void>;
}

/** Anvil with the contracts deployed and the eight organisations as founders (one account each, plus a node key for the carrier). */
export async function startStoryChain(): Promise<StoryChain> {
  const chain = await startAnvil();
  try {
    const orgs = ORGS.map((o, i) => ({
      name: o.name,
      roles: [...o.roles],
      accounts: i === 4 ? [new Wallet(devKey(i + 1)).address, new Wallet(devKey(9)).address] : [new Wallet(devKey(i + 1)).address],
      nodes: [peerOnlyNode(`12D3KooWStory${o.key}`)],
    }));
    // The story writes registry keys directly, without namespace proofs.
    const deployment = await deployLocal(chain.url, devKey(0), orgs, { namespacePolicy: NamespacePolicy.Unchecked });
    // No response cache: tests rewind the chain and must never see a nonce from before.
    const provider = new JsonRpcProvider(chain.url, chain.chainId, { staticNetwork: true, batchMaxCount: 1, cacheTimeout: -1 });
    provider.pollingInterval = 50;
    const as = Object.fromEntries(
      ORGS.map((o, i) => [o.key, connectContracts(deployment.contracts, new NonceManager(new Wallet(devKey(i + 1), provider)))]),
    ) as Record<OrgKey, TracemeshContracts>;
    return {
      chain,
      deployment,
      provider,
      as,
      view: connectContracts(deployment.contracts, provider),
      node: connectContracts(deployment.contracts, new NonceManager(new Wallet(devKey(9), provider))),
      nodeAccount: new Wallet(devKey(9)).address,
      stop: async () => {
        provider.destroy();
        await chain.stop();
      },
    };
  } catch (e) {
    await chain.stop();
    throw e;
  }
}

/**
 * Sends and confirms by polling the receipt. Anvil mines on arrival and then stays still, which
 * ethers' block-driven `wait()` can miss on a busy machine (it then never returns).
 */
export const done = async (tx: Promise<TransactionResponse>) => {
  const sent = await tx;
  const r = await new ChainClient(sent.provider, { pollMs: 10 }).confirmed(sent.hash);
  if (r.status !== 1) throw new Error("transaction failed");
  return r;
};

/** Keys the story creates, for comparing the index with the chain. */
export interface StoryKeys {
  items: string[];
  batches: string[];
  certificates: string[];
  grants: string[];
  proposals: number[];
  anchors: { node: string; sequence: number }[];
  accredited: { certifier: number; scope: string }[];
  eventHashes: string[];
}

/**
 * Plays the story (about 60 transactions). `tag` keeps identifiers apart when it runs twice on one chain.
 */
export async function playStory(s: StoryChain, tag = ""): Promise<StoryKeys> {
  const { as } = s;
  const k = (serial: string) => key(`${tag}${serial}`);
  const ev = (label: string) => eventHash(`${tag}${label}`);
  const events: string[] = [];
  const e = (label: string) => {
    const h = ev(label);
    events.push(h);
    return h;
  };
  const lotA = lotKey(`${tag}LOT-A`);
  const lotC = lotKey(`${tag}LOT-C`);
  const coils = ["COIL-1", "COIL-2", "COIL-3"].map(k);
  const [coil1, coil2] = coils as [string, string, string];
  const ingot = k("INGOT-9");
  const castings = [k("CAST-1"), k("CAST-2")] as [string, string];
  const shaft = k("SHAFT-1");
  const engine = k("ENGINE-1");
  const sensor = k("SENSOR-1");
  const steel = ORG_ID.steel;

  // Tier 1: the mill.
  await done(as.steel.provenance.commissionBatch(lotA, coils, DISP_ACTIVE, e("commission-coils")));
  await done(as.steel.provenance.commission(ingot, DISP_ACTIVE, e("commission-ingot")));
  await done(as.steel.provenance.ship([coil1], ORG_ID.foundry, true, e("ship-coil1")));
  await done(as.foundry.provenance.receiveShipment([coil1], e("receive-coil1")));
  await done(as.steel.provenance.ship([coil2], ORG_ID.foundry, false, e("ship-coil2")));
  await done(as.steel.provenance.cancelShipment([coil2], e("cancel-coil2")));
  // Tier 2: the foundry casts coil 1 into two castings (a batch of its own).
  await done(as.foundry.provenance.transform([coil1], castings, lotC, DISP_ACTIVE, e("cast")));
  await done(as.foundry.provenance.ship([castings[0]], ORG_ID.machining, true, e("ship-cast1")));
  await done(as.machining.provenance.receiveShipment([castings[0]], e("receive-cast1")));
  // Tier 3: machining.
  await done(as.machining.provenance.transform([castings[0]], [shaft], "0x" + "00".repeat(32), DISP_CONFORMANT, e("machine")));
  await done(as.machining.provenance.ship([shaft], ORG_ID.oem, true, e("ship-shaft")));
  await done(as.oem.provenance.receiveShipment([shaft], e("receive-shaft")));
  // Tier 4: the OEM assembles; a sensor goes in and out again.
  await done(as.oem.provenance.commission(engine, DISP_ACTIVE, e("commission-engine")));
  await done(as.oem.provenance.commission(sensor, DISP_ACTIVE, e("commission-sensor")));
  await done(as.oem.provenance.assemble(engine, [shaft, sensor], e("assemble")));
  await done(as.oem.provenance.disassemble(engine, [sensor], e("disassemble")));
  await done(as.lab.provenance.inspect([engine], true, e("inspect-engine")));
  await done(as.oem.provenance.setDisposition([engine], DISP_CONFORMANT, e("disposition-engine")));
  // A correction of the mill's ingot commissioning.
  const ingotRecord = Number(await s.view.provenance.recordOfEvent(ev("commission-ingot")));
  await done(as.steel.provenance.correct(ingotRecord, e("correct-ingot")));

  // An observation of a registered coil and of an item never registered here: history only, no
  // state. By the coil's owner: only a party to an item records events about it.
  await done(as.steel.provenance.observe([coils[2]!, k("FOREIGN-1")], e("observe-coil3")));

  // Certificates.
  const lab = ORG_ID.lab;
  await done(as.regulator.certificates.accredit(lab, SCOPE_MTR, 0));
  const certCoils = id(`${tag}cert:coils`);
  const certEngine = id(`${tag}cert:engine`);
  const certEngine2 = id(`${tag}cert:engine-v2`);
  const certShaft = id(`${tag}cert:shaft`);
  await done(as.lab.certificates.issue(certCoils, lotA, SCOPE_MTR, 0, 0));
  await done(as.lab.certificates.issue(certEngine, engine, SCOPE_MTR, 0, 0));
  await done(as.lab.certificates.issue(certShaft, shaft, SCOPE_MTR, 0, 0));
  await done(as.lab.certificates.suspend(certEngine, RevocationReason.UnderInvestigation, id("complaint")));
  await done(as.lab.certificates.reinstate(certEngine));
  await done(as.lab.certificates.supersede(certEngine, certEngine2, engine, SCOPE_MTR, 0, 0));
  await done(as.lab.certificates.revoke(certShaft, RevocationReason.NonConformity, id("ncr-17")));

  // Grants: the OEM lets the lab see the engine with its genealogy; the mill shares lot A with the OEM, then revokes.
  const far = Math.floor(Date.now() / 1000) + 30 * 24 * 3600;
  await done(as.oem.accessGrants.grantAccess(lab, ScopeKind.ItemWithGenealogy, engine, PURPOSE, 0, 0, far));
  await done(as.steel.accessGrants.grantAccess(ORG_ID.oem, ScopeKind.Batch, lotA, PURPOSE, 0, 0, far));
  await done(as.steel.accessGrants.grantAccess(ORG_ID.oem, ScopeKind.Item, ingot, PURPOSE, 0, 0, far));
  const revoked = await s.view.accessGrants.grantIdOf(steel, ORG_ID.oem, ingot);
  await done(as.steel.accessGrants.revokeAccess(revoked));

  // Recalls: the regulator recalls lot A; the mill recalls the ingot.
  await done(as.regulator.provenance.recallBatch(lotA, e("recall-lot-a")));
  await done(as.steel.provenance.recall([ingot], e("recall-ingot")));

  // Anchors by the carrier's node account.
  const node = s.node;
  const t0 = (Number((await s.provider.getBlock("latest"))!.timestamp) - 60) * 1000;
  const seq = Number(await s.view.dataAnchors.lastSequence(s.nodeAccount));
  const root1 = id(`${tag}root-1`);
  await done(node.dataAnchors.anchor(seq + 1, root1, seq === 0 ? "0x" + "00".repeat(32) : (await s.view.dataAnchors.getAnchor(s.nodeAccount, seq)).root, t0, t0 + 1000, 5));
  await done(node.dataAnchors.anchor(seq + 2, id(`${tag}root-2`), root1, t0 + 1000, t0 + 2000, 7));

  // Governance: a proposal that passes (a role), one left open with a refusal, one rejected.
  const before = Number(await s.view.consortium.proposalCount());
  await done(as.steel.consortium.propose(ProposalKind.GrantRole, proposalData.grantRole(ORG_ID.oem, Role.Supplier)));
  for (const voter of ["foundry", "machining", "oem", "carrier"] as const) await done(as[voter].consortium.vote(before + 1, true));
  await done(as.oem.consortium.propose(ProposalKind.AddAccount, proposalData.addAccount(ORG_ID.oem, getAddress("0x" + id(`${tag}new-account`).slice(26)))));
  await done(as.lab.consortium.vote(before + 2, false));
  await done(as.lab.consortium.propose(ProposalKind.RevokeRole, proposalData.revokeRole(ORG_ID.steel, Role.Supplier)));
  // The steel mill, the subject, does not vote on it: four of the seven others reject it.
  for (const voter of ["foundry", "machining", "oem", "carrier"] as const) await done(as[voter].consortium.vote(before + 3, false));

  return {
    items: [...coils, ingot, ...castings, shaft, engine, sensor],
    batches: [lotA, lotC],
    certificates: [certCoils, certEngine, certEngine2, certShaft],
    grants: [
      await s.view.accessGrants.grantIdOf(ORG_ID.oem, lab, engine),
      await s.view.accessGrants.grantIdOf(steel, ORG_ID.oem, lotA),
      revoked,
    ],
    proposals: [before + 1, before + 2, before + 3],
    anchors: [
      { node: s.nodeAccount, sequence: seq + 1 },
      { node: s.nodeAccount, sequence: seq + 2 },
    ],
    accredited: [{ certifier: lab, scope: SCOPE_MTR }],
    eventHashes: events,
  };
}

/**
 * The story's view of a chain started by test/helpers/gateway.ts (same organisations, same ids):
 * its own provider without a response cache, each organisation's first account, and the mill's
 * second account as the anchoring node.
 */
export function storyOn(tc: TestChain): StoryChain {
  const provider = new JsonRpcProvider(tc.chain.url, tc.chain.chainId, { staticNetwork: true, batchMaxCount: 1, cacheTimeout: -1 });
  provider.pollingInterval = 50;
  const as = Object.fromEntries(
    ORGS.map((o) => [o.key, connectContracts(tc.deployment.contracts, new NonceManager(new Wallet(tc.orgs[o.key].signer.privateKey, provider)))]),
  ) as Record<OrgKey, TracemeshContracts>;
  const nodeWallet = new Wallet(tc.orgs.steel.accounts[1]!.privateKey, provider);
  return {
    chain: tc.chain,
    deployment: tc.deployment,
    provider,
    as,
    view: connectContracts(tc.deployment.contracts, provider),
    node: connectContracts(tc.deployment.contracts, new NonceManager(nodeWallet)),
    nodeAccount: nodeWallet.address,
    stop: async () => provider.destroy(),
  };
}

/** Contracts connected as anvil's development account `index`. */
export function connectTo(s: StoryChain, index: number): TracemeshContracts {
  return connectContracts(s.deployment.contracts, new NonceManager(new Wallet(devKey(index), s.provider)));
}

/** Sends raw JSON-RPC to the chain (anvil's evm_* / anvil_* methods). */
export async function rpc<T = unknown>(s: StoryChain, method: string, params: unknown[] = []): Promise<T> {
  return (await s.provider.send(method, params)) as T;
}
