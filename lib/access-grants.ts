/**
 * Making and revoking AccessGrants, the one logic the member CLI (`tm grant`, `tm revoke-grant`)
 * and the gateway's /grants routes (carried out by the member node with its organisation's
 * account) share: the scope words, the checks that explain a refusal before the chain does, and
 * the grant id an issue produced. Who may read under a grant is lib/access.ts.
 */
import { type ContractTransactionResponse, type NonceManager, type Provider, type Signer, type TransactionReceipt, getAddress, isError, keccak256, toUtf8Bytes } from "ethers";
import { OrgStatus } from "./consortium.ts";
import { type AccessGrants, AccessGrants__factory } from "./contracts/types/index.js";
import type { TracemeshContracts } from "./deployment.ts";
import { TracemeshError } from "./errors.ts";
import { grantIdOf, streamScopeKey } from "./access.ts";
import { batchKey, itemKey } from "./identifiers/canonical.ts";
import { ScopeKind } from "./registry.ts";

/** The word for each scope kind, as the CLI's --scope and the gateway's `scope` take it. */
export const SCOPE_WORDS: Record<ScopeKind, string> = {
  [ScopeKind.Item]: "item",
  [ScopeKind.ItemWithGenealogy]: "item-genealogy",
  [ScopeKind.Batch]: "batch",
  [ScopeKind.DataStream]: "stream",
  [ScopeKind.AnchorWindowRange]: "window-range",
};

/** The scope kind a word names (case-insensitive), or undefined. */
export function scopeKindOf(word: string): ScopeKind | undefined {
  const found = Object.entries(SCOPE_WORDS).find(([, w]) => w === word.toLowerCase());
  return found ? (Number(found[0]) as ScopeKind) : undefined;
}

const BYTES32 = /^0x[0-9a-fA-F]{64}$/;

/**
 * The scope key of what a grant names: an item's or batch's on-chain key from its GS1 identifier
 * (EPC URI, Digital Link or element string), a stream's from its id; a 32-byte hex key as it is.
 * Throws an IdentifierError for an identifier that is not one of its kind.
 */
export function scopeKeyOf(kind: ScopeKind, subject: string): string {
  if (BYTES32.test(subject)) return subject.toLowerCase();
  switch (kind) {
    case ScopeKind.Item:
    case ScopeKind.ItemWithGenealogy:
      return itemKey(subject);
    case ScopeKind.Batch:
      return batchKey(subject);
    case ScopeKind.DataStream:
    case ScopeKind.AnchorWindowRange:
      return streamScopeKey(subject);
  }
}

/** A purpose code: 32-byte hex as it is, any other text hashed (keccak256 of its UTF-8), as the CLI's --purpose. */
export const purposeCode = (purpose: string): string => (BYTES32.test(purpose) ? purpose.toLowerCase() : keccak256(toUtf8Bytes(purpose)));

/** A grant or revocation the chain would refuse, said before sending; `check` names the rule (AccessGrants' error). */
export class GrantRefused extends TracemeshError {
  constructor(
    message: string,
    readonly check: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super("refused", message);
  }
}

/** One grant as AccessGrants.grantAccess takes it; `expiresAt` in Unix seconds, the range in ms. */
export interface GrantRequest {
  grantee: number;
  kind: ScopeKind;
  scopeKey: string;
  purpose: string;
  fromMs: number;
  toMs: number;
  expiresAt: number;
}

/** The parties as the checks see them: ids, the grantee's status now, and how to name an organisation. */
export interface GrantParties {
  owner: number;
  granteeStatus: OrgStatus;
  /** Chain time, Unix seconds. */
  now: number;
  name: (orgId: number) => string;
}

const STATUS_WORDS: Record<OrgStatus, string> = { [OrgStatus.None]: "not a member", [OrgStatus.Active]: "active", [OrgStatus.Suspended]: "suspended", [OrgStatus.Removed]: "removed" };

/** Throws GrantRefused for what AccessGrants.grantAccess would revert on. */
export function checkGrant(req: GrantRequest, p: GrantParties): void {
  if (req.grantee === p.owner) throw new GrantRefused(`${p.name(p.owner)} cannot grant access to itself`, "SelfGrant");
  if (p.granteeStatus !== OrgStatus.Active) {
    const status = STATUS_WORDS[p.granteeStatus];
    throw new GrantRefused(`${p.name(req.grantee)} is ${status}: access can only be granted to an active member`, "GranteeNotActive", { orgId: req.grantee });
  }
  if (req.kind === ScopeKind.AnchorWindowRange ? req.fromMs >= req.toMs : req.fromMs !== 0 || req.toMs !== 0) {
    throw new GrantRefused(
      req.kind === ScopeKind.AnchorWindowRange
        ? `the range start ${new Date(req.fromMs).toISOString()} must be before its end ${new Date(req.toMs).toISOString()}`
        : "only window-range grants take a time range",
      "InvalidTimeRange",
    );
  }
  if (req.expiresAt <= p.now) {
    throw new GrantRefused(`the expiry ${new Date(req.expiresAt * 1000).toISOString()} is not after the chain's time ${new Date(p.now * 1000).toISOString()}`, "ExpiryNotInFuture");
  }
}

type GrantRecord = Awaited<ReturnType<AccessGrants["grant"]>>;

/** Throws GrantRefused for what AccessGrants.revokeAccess would revert on. */
export function checkRevoke(id: string, g: GrantRecord, owner: number, name: (orgId: number) => string): void {
  if (Number(g.owner) === 0) throw new GrantRefused(`there is no grant ${id}`, "UnknownGrant");
  if (Number(g.owner) !== owner) {
    throw new GrantRefused(`grant ${id} was given by ${name(Number(g.owner))}; only it can revoke it, not ${name(owner)}`, "NotGrantOwner", { owner: Number(g.owner) });
  }
  if (g.revoked) throw new GrantRefused(`grant ${id} is already revoked (since ${new Date(Number(g.revokedAt) * 1000).toISOString()})`, "GrantAlreadyRevoked");
}

/** "live", "expired" or "revoked" at chain time `now` (Unix seconds). */
export function grantState(g: { revoked: boolean; expiresAt: bigint | number }, now: number): "live" | "expired" | "revoked" {
  return g.revoked ? "revoked" : now >= Number(g.expiresAt) ? "expired" : "live";
}

/** The id and version the AccessGranted event of `receipt` names (the id computed when the log is missing). */
export function issuedGrant(receipt: TransactionReceipt, accessGrants: AccessGrants, address: string, owner: number, req: GrantRequest): { id: string; version: number } {
  const event = receipt.logs
    .filter((l) => getAddress(l.address) === getAddress(address))
    .map((l) => accessGrants.interface.parseLog(l))
    .find((e) => e?.name === "AccessGranted");
  return { id: ((event?.args.id as string | undefined) ?? grantIdOf(owner, req.grantee, req.scopeKey)).toLowerCase(), version: Number(event?.args.version ?? 0) };
}

/** Sends one AccessGrants call with the organisation's account and waits until it is mined. */
export type SendGrantCall = (call: (writer: AccessGrants) => Promise<ContractTransactionResponse>) => Promise<TransactionReceipt>;

export interface GrantDone {
  id: string;
  version: number;
  tx: string;
  block: number;
}

/**
 * One organisation's grant writes, carried out by its member node (the gateway's `grants` slot):
 * each is checked against the chain first, so a refusal names its cause.
 */
export class OrganisationGrants {
  constructor(
    private readonly o: {
      owner: number;
      /** AccessGrants bound to a read-only provider, and its address. */
      accessGrants: AccessGrants;
      address: string;
      /** An organisation's status now (Consortium.org). */
      orgStatus: (orgId: number) => Promise<OrgStatus>;
      /** Chain time, Unix seconds. */
      now: () => Promise<number>;
      send: SendGrantCall;
      name?: (orgId: number) => string;
    },
  ) {}

  private name(id: number): string {
    return this.o.name?.(id) ?? `organisation ${id}`;
  }

  async grant(req: GrantRequest): Promise<GrantDone> {
    const [granteeStatus, now] = await Promise.all([this.o.orgStatus(req.grantee), this.o.now()]);
    checkGrant(req, { owner: this.o.owner, granteeStatus, now, name: (id) => this.name(id) });
    const receipt = await this.o.send((w) => w.grantAccess(req.grantee, req.kind, req.scopeKey, req.purpose, req.fromMs, req.toMs, req.expiresAt));
    return { ...issuedGrant(receipt, this.o.accessGrants, this.o.address, this.o.owner, req), tx: receipt.hash, block: receipt.blockNumber };
  }

  async revoke(id: string): Promise<GrantDone> {
    const g = await this.o.accessGrants.grant(id);
    checkRevoke(id, g, this.o.owner, (org) => this.name(org));
    const receipt = await this.o.send((w) => w.revokeAccess(id));
    return { id: id.toLowerCase(), version: Number(g.version), tx: receipt.hash, block: receipt.blockNumber };
  }
}

/** What `organisationGrants` needs of the node's chain client (node/chain/client.ts ChainClient). */
export interface GrantChainClient {
  /** The one NonceManager of the signer's account, shared with the node's other writes. */
  managed(signer: Signer): Promise<NonceManager>;
  confirmed(hash: string): Promise<TransactionReceipt>;
}

/**
 * The grant writes of organisation `owner`, sent by its member node through the node's chain
 * client (so grants, anchors and captures never race for a nonce); reads through `contracts`.
 */
export function organisationGrants(o: {
  owner: number;
  contracts: Pick<TracemeshContracts, "accessGrants" | "consortium">;
  address: string;
  provider: Provider;
  client: GrantChainClient;
  signer: Signer;
}): OrganisationGrants {
  const send: SendGrantCall = async (call) => {
    const manager = await o.client.managed(o.signer);
    let tx: ContractTransactionResponse;
    try {
      tx = await call(AccessGrants__factory.connect(o.address, manager));
    } catch (e) {
      manager.reset();
      throw e;
    }
    const receipt = await o.client.confirmed(tx.hash);
    if (receipt.status !== 1) throw new TracemeshError("refused", `transaction ${tx.hash} to AccessGrants reverted after its checks passed`);
    return receipt;
  };
  return new OrganisationGrants({
    owner: o.owner,
    accessGrants: o.contracts.accessGrants,
    address: o.address,
    orgStatus: async (id) => {
      try {
        return Number((await o.contracts.consortium.org(id)).status) as OrgStatus;
      } catch (e) {
        if (isError(e, "CALL_EXCEPTION")) return OrgStatus.None; // UnknownOrg
        throw e;
      }
    },
    now: async () => (await o.provider.getBlock("latest"))!.timestamp,
    send,
  });
}
