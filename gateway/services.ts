/**
 * The one door between the gateway and its member node. The gateway uses the node only through
 * this interface (documents, readings, proofs, chain reads, indexes), so it could run in another
 * process later; node/ never imports gateway/.
 *
 * Required members describe the node's organisation and its read-only view of the chain. The
 * optional slots are filled by the node parts that exist: a route whose slot is missing answers
 * 503 (see `requireService` in errors.ts), never a crash.
 */
import type { JsonRpcProvider } from "ethers";
import type { OrganisationGrants } from "../lib/access-grants.ts";
import { rpcProvider } from "../lib/rpc-provider.ts";
import type { OrganisationRef } from "../lib/api/common.ts";
import type { DevicesAnswer } from "../lib/api/devices.ts";
import { type ContractAddresses, type Deployment, type TracemeshContracts, connectContracts } from "../lib/deployment.ts";
import type { AccessRecorder } from "../node/access-log/record.ts";
import type { StatementStore } from "../node/certificates/statements.ts";
import type { PassportChoiceStore } from "../node/passport/choices.ts";
import type { AccessRequestStore } from "../node/passport/access-requests.ts";
import type { EventsService } from "../node/events/service.ts";
import type { ProofService } from "../node/ingest/proofs.ts";
import type { IndexService } from "../node/indexer/service.ts";
import type { RemoteDataService } from "../node/p2p/remote.ts";
import type { AccessRelayService } from "../node/p2p/access-requests.ts";
import type { SubscriptionService } from "../node/subscriptions/service.ts";

/** EPCIS capture, event store and queries of the node (node/events). */
export type { EventsService };

/** Queries over the chain indexer's LevelDB indexes (node/indexer/service.ts). */
export type { IndexService };

/** Named queries, subscriptions and recall alerts (node/subscriptions/service.ts). */
export type { SubscriptionService };

/** Documents and bound readings of other organisations, fetched from their nodes on demand (node/p2p/remote.ts). */
export type { RemoteDataService };

/** The node organisation's grant writes, sent with its own account (lib/access-grants.ts). */
export type GrantsService = Pick<OrganisationGrants, "grant" | "revoke">;

/** Data-integrity proofs of the node's anchored readings. */
export type ProofsService = Pick<ProofService, "proveReading" | "proveRun" | "windowsBetween" | "node">;

export interface GatewayServices {
  /** The organisation that runs this node and gateway. */
  organisation: OrganisationRef;
  chainId: number;
  deployment: Deployment;
  /** Read-only: the gateway never signs with it. Chain writes go through the node's services. */
  provider: JsonRpcProvider;
  /** Typed contract handles bound to `provider` (view calls only). */
  contracts: TracemeshContracts;
  events?: EventsService;
  index?: IndexService;
  proofs?: ProofsService;
  /** The owner's log of partners' reads (node/access-log): every document or reading handed out is logged. */
  accessLog?: AccessRecorder;
  /**
   * The peer network's delivery on demand: what this node's organisation may read but the node
   * does not hold, asked of the owner's node, verified and stored (absent: such documents show
   * as held elsewhere).
   */
  remote?: RemoteDataService;
  /** EPCIS named queries, subscriptions (webhooks, WebSocket) and recall alerts (node/subscriptions). */
  subscriptions?: SubscriptionService;
  /** Revocation statements this organisation made as an issuer (node/certificates/statements.ts). */
  statements?: StatementStore;
  /** What this organisation chose to show on its items' public passports (node/passport/choices.ts); absent: 503 on /passport/{id}/fields. */
  passportChoices?: Pick<PassportChoiceStore, "get" | "put">;
  /** Partners' requests for access to this organisation's items, until it approves or declines them (node/passport/access-requests.ts). */
  accessRequests?: Pick<AccessRequestStore, "get" | "put" | "list" | "submit">;
  /** This organisation's access requests for other makers' items, passed on to the makers' nodes over the peer network (node/p2p/access-requests.ts); absent: 403, ask on the maker's gateway. */
  accessRelay?: AccessRelayService;
  /** Grants and revocations by this node's organisation (POST/DELETE /grants); absent: 503. */
  grants?: GrantsService;
  /** A member organisation's party GLNs (13 digits) in this node's directory of parties (config `parties`, what capture resolves parties with). */
  partyGlns?: (org: number) => string[];
  /** The node's devices and data streams as of now (node/devices-view.ts): state, rates, timing, anchoring. */
  devices?: () => DevicesAnswer;
}

/** The contract addresses of a deployment, as a plain record (for /health and the explorer). */
export function addressesOf(services: GatewayServices): ContractAddresses {
  return { ...services.deployment.contracts };
}

/**
 * Builds the chain part of the services from a deployment record and a JSON-RPC URL, or the
 * provider the member process already shares with its node and indexer; the caller adds the
 * optional slots. `close()` releases a provider opened here (a shared one stays open: its owner
 * closes it).
 */
export async function chainServices(
  rpc: string | JsonRpcProvider,
  deployment: Deployment,
  organisation: OrganisationRef,
): Promise<GatewayServices & { close(): void }> {
  const owned = typeof rpc === "string";
  const provider = owned ? rpcProvider(rpc, deployment.chainId) : rpc;
  const chainId = Number((await provider.getNetwork()).chainId);
  if (chainId !== deployment.chainId) {
    if (owned) provider.destroy();
    throw new Error(`the chain at ${owned ? rpc : "the shared provider"} has chain id ${chainId}, but the deployment record says ${deployment.chainId}`);
  }
  return {
    organisation,
    chainId,
    deployment,
    provider,
    contracts: connectContracts(deployment.contracts, provider),
    close: () => {
      if (owned) provider.destroy();
    },
  };
}
