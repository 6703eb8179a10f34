/** POST /chain/call (gateway/routes/rpc.ts): one public view call, answered raw with its block. */
import type { ContractAddresses } from "../deployment.ts";

export interface PublicCallRequest {
  /** A Tracemesh contract (HealthAnswer.contracts). */
  to: string;
  /** ABI call data of one of the public views. */
  data: string;
}

export type PublicCallAnswer = {
  /** The block the call was read at. */
  blockNumber: number;
  contract: keyof ContractAddresses;
  function: string;
} & ({ result: string; reverted?: undefined } | { reverted: true; data: string | null });
