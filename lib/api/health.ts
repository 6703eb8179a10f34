/** GET /health (gateway/routes/health.ts): liveness, the chain this gateway serves, its contracts. */
import type { ContractAddresses } from "../deployment.ts";
import type { OrganisationRef } from "./common.ts";

export interface HealthAnswer {
  /** The node reaches its chain (503 otherwise, with the same body). */
  ok: boolean;
  chainId: number;
  blockNumber: number | null;
  organisation: OrganisationRef;
  contracts: ContractAddresses;
  /** Which node services this gateway offers. */
  services: {
    events: boolean;
    index: boolean;
    proofs: boolean;
    passportChoices: boolean;
    accessRequests: boolean;
    /** This organisation's access requests for other makers' items are passed on to the makers' nodes (POST /access-requests). */
    accessRelay: boolean;
  };
  /** With a chain index: its last block, and how far it trails the chain head. */
  indexedBlock?: number;
  indexLag?: number;
}
