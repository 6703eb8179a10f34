/**
 * Identifier namespaces (contracts/IdentifierNamespaces.sol) as the rest of Tracemesh uses them:
 * the policy mirror, the GS1 schemes a deployment starts with, prefix grants, and the
 * `Provenance.proveKeys` calls by which an organisation proves, in the transaction that creates
 * keys, that their identifiers lie under its registered prefixes.
 */
import { type Interface, hexlify, toUtf8Bytes } from "ethers";
import { type KeyProof, keyProofOfCanonical } from "./identifiers/canonical.ts";

/** IdentifierNamespaces.Policy: what happens to identifiers under no registered prefix. */
export enum NamespacePolicy {
  /** Refused (the default). */
  Enforced = 0,
  /** Anyone may create proven keys whose namespace nobody holds; registered prefixes stay protected. */
  OpenUnregistered = 1,
  /** Keys are accepted without proof: no protection, for migrations only. */
  Unchecked = 2,
}

/** A scheme: identifier lead (up to its fourth "/") and the characters between it and the prefix. */
export interface NamespaceScheme {
  lead: string;
  skip: number;
}

/** The GS1 Digital Link primary keys Provenance keys items and batches under. */
export const GS1_SCHEMES: readonly NamespaceScheme[] = [
  { lead: "https://id.gs1.org/01/", skip: 1 }, // GTIN-14 (SGTIN, LGTIN, UPUI): indicator digit, then the prefix
  { lead: "https://id.gs1.org/00/", skip: 1 }, // SSCC: extension digit
  { lead: "https://id.gs1.org/8003/", skip: 1 }, // GRAI: a leading 0
  { lead: "https://id.gs1.org/8006/", skip: 1 }, // ITIP: the GTIN's indicator digit
  { lead: "https://id.gs1.org/8004/", skip: 0 }, // GIAI
  { lead: "https://id.gs1.org/8010/", skip: 0 }, // CPI
];

/** Schemes as IdentifierNamespaces.initialize takes them (leads as bytes). */
export function schemeArgs(schemes: readonly NamespaceScheme[] = GS1_SCHEMES): { lead: string; skip: number }[] {
  return schemes.map((s) => ({ lead: hexlify(toUtf8Bytes(s.lead)), skip: s.skip }));
}

/** A prefix registered to an organisation, as IdentifierNamespaces takes it. */
export function prefixGrant(prefix: string, orgId: number): { prefix: string; orgId: number } {
  if (!/^[\x21-\x7e]{1,12}$/.test(prefix)) throw new Error(`prefix "${prefix}" must be 1 to 12 printable ASCII characters`);
  return { prefix: hexlify(toUtf8Bytes(prefix)), orgId };
}

/** Proofs grouped by head, one `proveKeys` call each. */
export function proofGroups(proofs: readonly KeyProof[]): { head: string; tailHashes: string[] }[] {
  const byHead = new Map<string, string[]>();
  for (const p of proofs) {
    const list = byHead.get(p.head) ?? [];
    if (!list.includes(p.tailHash)) list.push(p.tailHash);
    byHead.set(p.head, list);
  }
  return [...byHead].map(([head, tailHashes]) => ({ head, tailHashes }));
}

/**
 * Encoded `Provenance.proveKeys` calls proving the keys of `canonicals` (canonical identifier
 * strings). The prefix length is left to the contract to find (hint 0).
 */
export function proveKeysCalls(provenance: Interface, canonicals: readonly string[]): string[] {
  return proofGroups(canonicals.map(keyProofOfCanonical)).map((g) =>
    provenance.encodeFunctionData("proveKeys", [toUtf8Bytes(g.head), 0, g.tailHashes]),
  );
}

/**
 * Where the GS1 Company Prefix starts in a primary key's value, by the key's AI: after GS1's
 * indicator or extension digit for GTIN, SSCC and GRAI (as GS1_SCHEMES), at once for GLN, PGLN,
 * GIAI, GDTI, GCN, CPI. Master data names identifiers of all these, not only the item keys.
 */
const PREFIX_SKIP: Readonly<Record<string, number>> = { "01": 1, "02": 1, "00": 1, "8003": 1, "8006": 1, "414": 0, "417": 0, "8004": 0, "253": 0, "255": 0, "8010": 0 };

/** The digits a GS1 Company Prefix of a canonical GS1 Digital Link lies in (up to 12), or undefined. */
export function prefixDigitsOf(canonical: string): string | undefined {
  const m = /^https:\/\/id\.gs1\.org\/(\d{2,4})\/(\d+)/.exec(canonical);
  const skip = m ? PREFIX_SKIP[m[1]!] : undefined;
  return m && skip !== undefined ? m[2]!.slice(skip, skip + 12) : undefined;
}

/**
 * The organisation holding the registered prefix a canonical GS1 identifier lies under (0: none,
 * or not a GS1 key with a company prefix), asked of IdentifierNamespaces for every length.
 */
export async function holderOfIdentifier(namespaces: { holderOfPrefix(prefix: string): Promise<bigint> }, canonical: string): Promise<number> {
  const digits = prefixDigitsOf(canonical);
  if (digits === undefined) return 0;
  const lengths = Array.from({ length: digits.length }, (_, i) => i + 1);
  const holders = await Promise.all(lengths.map((n) => namespaces.holderOfPrefix(hexlify(toUtf8Bytes(digits.slice(0, n))))));
  return Number(holders.find((h) => h !== 0n) ?? 0n);
}
