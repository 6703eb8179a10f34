/**
 * QBFT genesis `extraData`, byte for byte as Besu encodes it.
 *
 * Besu docs (private-networks/how-to/configure/consensus/qbft#extra-data): extraData is
 * `RLP([32 bytes Vanity, List<Validators>, No Vote, Round=Int(0), 0 Seals])`; with contract
 * validator selection the validator list is empty.
 *
 * Besu's encoder (hyperledger/besu consensus/qbft/src/main/java/org/hyperledger/besu/consensus/qbft/
 * QbftExtraDataCodec.java) writes: the vanity bytes; the validators as a list of 20-byte strings;
 * an empty list when there is no vote; the round with `writeIntScalar` (so round 0 is the empty
 * string 0x80: QBFT does NOT use IBFT 2.0's fixed 4-byte round, 0x8400000000); the seals list.
 * The documented four-validator vector ends in `c0 80 c0` accordingly (see test/besu).
 */
import { decodeRlp, encodeRlp, getAddress, getBytes, hexlify, isAddress } from "ethers";

export const QBFT_VANITY = `0x${"00".repeat(32)}`;

export interface QbftExtraData {
  vanity: string;
  validators: string[];
  /** Empty in the genesis block. */
  vote: unknown[];
  round: number;
  seals: string[];
}

function requireAddress(a: string): string {
  if (!isAddress(a)) throw new Error(`not an address: ${a}`);
  return a.toLowerCase();
}

/**
 * Besu's validator order: `Address` compares as unsigned bytes (tuweni `Bytes.compareTo`), and both
 * validator providers return sorted collections (e.g. TransactionValidatorProvider sorts the result
 * of `getValidators()`). Lowercase hex compares the same way.
 */
export function sortValidators(validators: readonly string[]): string[] {
  return validators.map((v) => getAddress(requireAddress(v))).sort((a, b) => {
    const x = a.toLowerCase();
    const y = b.toLowerCase();
    return x < y ? -1 : x > y ? 1 : 0;
  });
}

/**
 * Encodes the genesis extraData for the given validators in the given order, like
 * `besu rlp encode --type=QBFT_EXTRA_DATA` (which expects the list already in ascending order).
 */
export function encodeQbftExtraData(validators: readonly string[], vanity: string = QBFT_VANITY): string {
  if (getBytes(vanity).length !== 32) throw new Error("QBFT vanity data is 32 bytes");
  return encodeRlp([vanity, validators.map(requireAddress), [], "0x", []]);
}

/** The genesis extraData with the validators in Besu's order. */
export function genesisExtraData(validators: readonly string[]): string {
  return encodeQbftExtraData(sortValidators(validators));
}

export function decodeQbftExtraData(extraData: string): QbftExtraData {
  const items = decodeRlp(extraData);
  if (!Array.isArray(items) || items.length !== 5) throw new Error("QBFT extraData is an RLP list of 5 items");
  const [vanity, validators, vote, round, seals] = items as [string, string[], unknown[], string, string[]];
  if (typeof vanity !== "string" || getBytes(vanity).length !== 32) throw new Error("vanity must be 32 bytes");
  if (!Array.isArray(validators) || validators.some((v) => typeof v !== "string" || getBytes(v).length !== 20)) {
    throw new Error("validators must be a list of 20-byte addresses");
  }
  if (!Array.isArray(vote) || typeof round !== "string" || !Array.isArray(seals)) {
    throw new Error("malformed vote, round or seals");
  }
  const roundBytes = getBytes(round);
  if (roundBytes.length > 0 && roundBytes[0] === 0) throw new Error("round is not a minimal RLP scalar");
  return {
    vanity: hexlify(vanity),
    validators: validators.map((v) => getAddress(v)),
    vote,
    round: roundBytes.length === 0 ? 0 : Number(BigInt(hexlify(roundBytes))),
    seals,
  };
}
