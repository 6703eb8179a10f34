/**
 * Genesis milestones that match the contracts' EVM version. hardhat.config.ts's EVM_VERSION is the
 * one source: solc compiles for it, the tests run on it, and the Besu chain activates exactly the
 * forks through it, at genesis, and none after (an opcode the chain lacks, or a fork the contracts
 * were not compiled for, would both be silent mismatches).
 *
 * Milestone keys as Besu reads them (Besu docs, public-networks/reference/genesis-items#milestone-blocks:
 * "In private networks, the milestone block defines the protocol version for the network"). Forks
 * from Shanghai on are activated by timestamp (`shanghaiTime`, `cancunTime`); QBFT supports
 * time-based milestones since Besu 24.1 (besu-eth/besu#6353, "QBFT + shanghai support").
 * No Paris/terminal-total-difficulty entry: QBFT chains do not merge into proof of stake.
 */
import { EVM_VERSION as HARDHAT_EVM_VERSION } from "../../hardhat.config.ts";

export const EVM_VERSION: string = HARDHAT_EVM_VERSION;

const BLOCK_MILESTONES = [
  ["homestead", "homesteadBlock"],
  ["tangerineWhistle", "eip150Block"],
  ["spuriousDragon", "eip155Block"],
  ["spuriousDragon", "eip158Block"],
  ["byzantium", "byzantiumBlock"],
  ["constantinople", "constantinopleBlock"],
  ["petersburg", "petersburgBlock"],
  ["istanbul", "istanbulBlock"],
  ["muirGlacier", "muirGlacierBlock"],
  ["berlin", "berlinBlock"],
  ["london", "londonBlock"],
  ["arrowGlacier", "arrowGlacierBlock"],
  ["grayGlacier", "grayGlacierBlock"],
] as const;

const TIME_MILESTONES = [
  ["shanghai", "shanghaiTime"],
  ["cancun", "cancunTime"],
] as const;

/** Forks after the last supported one: listed so a genesis can be checked for their absence. */
export const LATER_MILESTONES = ["pragueTime", "osakaTime", "bpo1Time", "futureEipsTime", "experimentalEipsTime"] as const;

const ORDER = ["homestead", "tangerineWhistle", "spuriousDragon", "byzantium", "constantinople", "petersburg", "istanbul", "berlin", "london", "paris", "shanghai", "cancun"];

/**
 * `config` milestone entries activating every fork through `evmVersion` at genesis.
 * Solc names: https://docs.soliditylang.org/en/latest/using-the-compiler.html#target-options
 */
export function genesisMilestones(evmVersion: string = EVM_VERSION): Record<string, number> {
  const target = ORDER.indexOf(evmVersion);
  if (target < ORDER.indexOf("london")) {
    throw new Error(
      `EVM version "${evmVersion}" is not supported for the Besu genesis: use london, paris, shanghai or cancun ` +
        "(later forks need a blob schedule and a Besu release this generator has not been checked against)",
    );
  }
  const out: Record<string, number> = {};
  for (const [fork, key] of BLOCK_MILESTONES) {
    // Glacier forks only delay the difficulty bomb; they ride along with the fork before them.
    const base = fork === "muirGlacier" ? "istanbul" : fork === "arrowGlacier" || fork === "grayGlacier" ? "london" : fork;
    if (ORDER.indexOf(base) <= target) out[key] = 0;
  }
  for (const [fork, key] of TIME_MILESTONES) {
    if (ORDER.indexOf(fork) <= target) out[key] = 0;
  }
  return out;
}
