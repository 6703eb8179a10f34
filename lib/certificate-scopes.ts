/**
 * Certificate scopes by name. On chain a scope is the keccak-256 of its code ("EN10204-3.1");
 * pages show the standard's own spelling ("EN 10204 3.1"). A scope not listed here is shown by
 * its hash: the list names the common ones, it does not limit what certifiers may issue.
 */
import { id as keccakText } from "ethers";

/** Scope code (what is hashed on chain) -> how the standard itself writes it. */
const SCOPES: Record<string, string> = {
  "EN10204-2.1": "EN 10204 2.1",
  "EN10204-2.2": "EN 10204 2.2",
  "EN10204-3.1": "EN 10204 3.1",
  "EN10204-3.2": "EN 10204 3.2",
  ISO9001: "ISO 9001",
  ISO14001: "ISO 14001",
  IATF16949: "IATF 16949",
  CE: "CE",
  CCC: "CCC",
};

const BY_HASH = new Map(Object.entries(SCOPES).map(([code, name]) => [keccakText(code).toLowerCase(), name]));

/** The standard's name of an on-chain scope hash, or undefined when the scope is not a known one. */
export function scopeName(scopeHash: string): string | undefined {
  return BY_HASH.get(scopeHash.toLowerCase());
}
