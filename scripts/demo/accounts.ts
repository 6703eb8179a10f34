/**
 * LOCAL DEMO ONLY. The demo consortium signs with keys derived from the well-known public
 * development mnemonic that anvil and Hardhat use for their unlocked test accounts. Anyone can
 * derive them; they hold value only on the loopback demo chain. Never use them on a real network.
 */
import { HDNodeWallet, Mnemonic } from "ethers";

export const DEMO_MNEMONIC = "test test test test test test test test test test test junk";

/** The demo key at index i of the development mnemonic (m/44'/60'/0'/0/i). */
export function demoWallet(index: number): HDNodeWallet {
  return HDNodeWallet.fromMnemonic(Mnemonic.fromPhrase(DEMO_MNEMONIC), `m/44'/60'/0'/0/${index}`);
}
