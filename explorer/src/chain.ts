/**
 * The page's own view of the chain, with the contract addresses the gateway publishes in /health:
 * signed-in members read through the gateway's read-only JSON-RPC pass-through (/chain/rpc, which
 * needs their token); visitors through /chain/call, which answers only the public views (a
 * certificate's status and record, an organisation's name, an account's organisation, the record
 * of an event hash) as raw ABI results that the page decodes itself. Everything the explorer
 * marks as verified is checked here, not taken from the gateway's answers.
 */
import { Contract, type ContractRunner, FetchRequest, JsonRpcProvider, type TransactionRequest, makeError } from "ethers";
// ABIs only: the typechain factories would also bring each contract's deployment bytecode.
import accessGrantsArtifact from "../../artifacts/contracts/AccessGrants.sol/AccessGrants.json" with { type: "json" };
import certificatesArtifact from "../../artifacts/contracts/Certificates.sol/Certificates.json" with { type: "json" };
import consortiumArtifact from "../../artifacts/contracts/Consortium.sol/Consortium.json" with { type: "json" };
import dataAnchorsArtifact from "../../artifacts/contracts/DataAnchors.sol/DataAnchors.json" with { type: "json" };
import provenanceArtifact from "../../artifacts/contracts/Provenance.sol/Provenance.json" with { type: "json" };
import type { AccessGrants, Certificates, Consortium, DataAnchors, Provenance } from "../../lib/contracts/types/index.ts";
import type { PublicCallAnswer, PublicCallRequest } from "../../lib/api/chain.ts";
import type { TracemeshContracts } from "../../lib/deployment.ts";
import type { HealthAnswer } from "../../lib/api/health.ts";
import type { ContractAddresses } from "../../lib/deployment.ts";
import { api, session } from "./api.ts";

export interface Chain extends TracemeshContracts {
  chainId: number;
  addresses: ContractAddresses;
  provider: JsonRpcProvider;
  /** The handles as lib/ functions take them (certificateOnChain, verifyCredential). */
  contracts: TracemeshContracts;
  /** Whether the node keeps a chain index (lists such as GET /certificates need one). */
  hasIndex: boolean;
}

let chain: Promise<Chain> | undefined;

export function getChain(): Promise<Chain> {
  chain ??= connect().catch((e: unknown) => {
    chain = undefined; // try again on the next call
    throw e;
  });
  return chain;
}

async function connect(): Promise<Chain> {
  const health = await api<HealthAnswer>("/health").catch((e: unknown) => {
    // /health answers 503 with its body when the node cannot reach its chain.
    throw e;
  });
  const addresses: ContractAddresses | undefined = health.contracts;
  if (addresses === undefined) throw new Error("the gateway did not publish the contract addresses in /health");
  const request = new FetchRequest(`${location.origin}/chain/rpc`);
  // The session may start or end after the page connected: the token is read per request.
  request.preflightFunc = async (req) => {
    const current = session();
    if (current !== undefined) req.setHeader("authorization", `Bearer ${current.token}`);
    return req;
  };
  const provider = new JsonRpcProvider(request, health.chainId, { staticNetwork: true, batchMaxCount: 1 });
  // The page only reads; no polling through a read-only pass-through.
  provider.pollingInterval = 60_000;
  const runner: ContractRunner = { provider, call: (tx) => (session() !== undefined ? provider.call(tx) : publicCall(tx)) };
  // Same shape as lib/deployment.ts connectContracts (which also reads deployment files, Node only).
  const contracts: TracemeshContracts = {
    consortium: new Contract(addresses.consortium, consortiumArtifact.abi, runner) as unknown as Consortium,
    provenance: new Contract(addresses.provenance, provenanceArtifact.abi, runner) as unknown as Provenance,
    certificates: new Contract(addresses.certificates, certificatesArtifact.abi, runner) as unknown as Certificates,
    accessGrants: new Contract(addresses.accessGrants, accessGrantsArtifact.abi, runner) as unknown as AccessGrants,
    dataAnchors: new Contract(addresses.dataAnchors, dataAnchorsArtifact.abi, runner) as unknown as DataAnchors,
  };
  return { chainId: health.chainId, addresses, provider, contracts, hasIndex: health.services?.index === true, ...contracts };
}

/** A view call for a visitor, through /chain/call; a revert is thrown as ethers would throw it. */
async function publicCall(tx: TransactionRequest): Promise<string> {
  const call: PublicCallRequest = { to: String(tx.to), data: String(tx.data) };
  const answer = await api<PublicCallAnswer>("/chain/call", { body: call });
  if (answer.reverted) {
    throw makeError("execution reverted", "CALL_EXCEPTION", { action: "call", data: answer.data, reason: null, transaction: call, invocation: null, revert: null });
  }
  return answer.result;
}
