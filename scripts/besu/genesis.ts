/**
 * The Besu QBFT genesis file.
 *
 * Sources (Besu docs):
 * - QBFT genesis and its properties (`qbft`: blockperiodseconds, epochlength,
 *   requesttimeoutseconds; `difficulty` 0x1; the Istanbul `mixHash`; `extraData`):
 *   private-networks/how-to/configure/consensus/qbft#genesis-file.
 * - Validator selection: "Block header validator selection" puts the initial validators in
 *   extraData; "Contract validator selection" reads them from `getValidators()` of
 *   `validatorcontractaddress`, whose code and storage are in `alloc`. A `transitions.qbft` entry
 *   with `validatorselectionmode: "contract"` and `validatorcontractaddress` swaps to the contract
 *   at a block (qbft#swap-validator-management-methods).
 *   We start in block-header mode at block 0 with the founders' validators in extraData, and switch
 *   to the contract at block 1. Besu resolves the validators of block N+1 with the selection mode of
 *   block N+1 applied to the state after block N (ForkingValidatorProvider.getValidatorsAfterBlock),
 *   so block 1 is already sealed by `getValidators()` of the genesis state: the same founders, which
 *   the generator checks before writing anything. The extraData list and the contract never disagree,
 *   and every later membership change reaches consensus through Consortium governance alone.
 *   A transition cannot be at block 0 ("Transition cannot be created for genesis block",
 *   hyperledger/besu ForksScheduleFactory), so block 1 is the earliest contract-mode block.
 * - Block or timestamp: from Besu 26 on, a transition's `block` may be read as a timestamp when a
 *   time-based milestone (shanghaiTime) precedes it (besu-eth/besu#9785, #10540, #10727). The
 *   genesis timestamp is 0 and every later block is stamped with the wall clock, so "block 1" and
 *   "timestamp 1" select the same blocks: contract mode from the first block after genesis either
 *   way. And because Consortium is already in the genesis state, even a client that entered
 *   contract mode at genesis would read the same founders from getValidators().
 * - Free gas: `zeroBaseFee: true` from London on, a large `gasLimit`, and `min-gas-price=0` on
 *   every node (private-networks/how-to/configure/free-gas). `baseFeePerGas` 0 makes the genesis
 *   block itself fee-free.
 * - Genesis block parameters (`timestamp` 0x0 recommended, `coinbase`, `nonce`, `alloc`):
 *   public-networks/reference/genesis-items.
 */
import { getAddress, toQuantity } from "ethers";
import { genesisExtraData } from "./extradata.ts";
import { EVM_VERSION, genesisMilestones } from "./evm.ts";
import type { GenesisAccount } from "./predeploy.ts";

/** "Istanbul" BFT mixHash that Besu requires of IBFT 2.0 and QBFT genesis blocks. */
export const BFT_MIX_HASH = "0x63746963616c2062797a616e74696e65206661756c7420746f6c6572616e6365";

/** The block from which QBFT reads its validators from Consortium. */
export const CONTRACT_MODE_BLOCK = 1;

export interface QbftTransition {
  block: number;
  validatorselectionmode?: "contract" | "blockheader";
  validatorcontractaddress?: string;
  blockperiodseconds?: number;
}

export interface BesuGenesis {
  config: Record<string, unknown> & {
    chainId: number;
    zeroBaseFee: boolean;
    qbft: { blockperiodseconds: number; epochlength: number; requesttimeoutseconds: number };
    transitions: { qbft: QbftTransition[] };
  };
  nonce: string;
  timestamp: string;
  gasLimit: string;
  difficulty: string;
  mixHash: string;
  coinbase: string;
  baseFeePerGas: string;
  extraData: string;
  alloc: Record<string, GenesisAccount>;
}

export interface GenesisInput {
  chainId: number;
  blockPeriodSeconds: number;
  requestTimeoutSeconds: number;
  epochLength: number;
  gasLimit: bigint;
  /** Founders' validator addresses (any order: they are sorted as Besu sorts them). */
  validators: string[];
  consortiumAddress: string;
  /** Predeployed contracts and funded accounts. */
  alloc: Record<string, GenesisAccount>;
  evmVersion?: string;
}

export function buildGenesis(input: GenesisInput): BesuGenesis {
  if (input.validators.length === 0) throw new Error("a QBFT genesis needs at least one validator");
  const alloc: Record<string, GenesisAccount> = {};
  for (const key of Object.keys(input.alloc).sort()) alloc[key.toLowerCase()] = input.alloc[key]!;
  if (!alloc[input.consortiumAddress.toLowerCase()]?.code) {
    throw new Error(`the validator contract ${input.consortiumAddress} must be in alloc (Besu: "identical to the address in the alloc section")`);
  }
  return {
    config: {
      chainId: input.chainId,
      ...genesisMilestones(input.evmVersion ?? EVM_VERSION),
      zeroBaseFee: true,
      qbft: {
        blockperiodseconds: input.blockPeriodSeconds,
        epochlength: input.epochLength,
        requesttimeoutseconds: input.requestTimeoutSeconds,
      },
      transitions: {
        qbft: [
          {
            block: CONTRACT_MODE_BLOCK,
            validatorselectionmode: "contract",
            validatorcontractaddress: getAddress(input.consortiumAddress).toLowerCase(),
          },
        ],
      },
    },
    nonce: "0x0",
    timestamp: "0x0",
    gasLimit: toQuantity(input.gasLimit),
    difficulty: "0x1",
    mixHash: BFT_MIX_HASH,
    coinbase: "0x0000000000000000000000000000000000000000",
    baseFeePerGas: "0x0",
    extraData: genesisExtraData(input.validators),
    alloc,
  };
}
