/**
 * THE canonical form of a GS1 identifier, from which an item's or a batch's key on chain is
 * hashed (contracts/Provenance.sol, contracts/IdentifierNamespaces.sol).
 *
 * Canonical form (the rule every component must follow; `itemKey` / `batchKey` apply it):
 *  1. Parse the identifier, whatever its spelling: an EPC pure-identity URI
 *     (urn:epc:id:sgtin:...), an EPC class URI (urn:epc:class:lgtin:...), or a GS1 Digital Link
 *     URI on any host, with or without a path before the GS1 key, a query string, a fragment, a
 *     trailing slash, DL 1.0/1.1 convenience alphas (/gtin/, /ser/, /lot/...), a zero-suppressed
 *     GTIN-8/12/13, or GS1 DL compression. Check digits must be right.
 *  2. Keep the most fine-grained identification only: a serial number (21) makes the lot (10)
 *     and the consumer product variant (22) irrelevant; a lot drops the variant. This is the
 *     constraint of the CBV 2.0 event hash (rule 18), so the same item reads identically in an
 *     event's pre-hash string and in its key.
 *  3. Write it as a GS1 Digital Link URI on https://id.gs1.org with numeric AIs only, the GTIN as
 *     14 digits, no query string, no trailing slash, and each AI value percent-encoded with the
 *     same rule the CBV 2.0 event hash reference uses for values from EPC URIs: the characters
 *     ! " # % & ( ) * + , / : < > ? and anything outside the GS1 character sets are written as
 *     %XX (upper-case hex, UTF-8); letters, digits and - . _ ' ; = stay as they are.
 *  4. Split it into a public head and a private tail (`keyProofOfCanonical`): the head is the
 *     string up to its fourth "/" (the lead, e.g. https://id.gs1.org/01/) and at most the first
 *     NAMESPACE_CHARS characters of the primary key's value (an indicator or extension digit and
 *     a GS1 Company Prefix of up to 12 digits); the tail is the rest (serial, lot, reference).
 *     key = keccak256(head ‖ keccak256(tail)), all as UTF-8 bytes. The head alone proves on chain
 *     which registered prefix the identifier lies under (contracts/IdentifierNamespaces.sol)
 *     while the serial stays private; the tail's hash is 32 bytes at the end, so a key has one head.
 * Digital Link is the canonical spelling because it can always be written: an EPC URI needs the
 * GS1 Company Prefix length, which a Digital Link does not carry.
 *
 * Items are serialised, individually identified objects: SGTIN (01+21), SSCC (00), GIAI (8004),
 * serialised GRAI (8003 with serial), CPI with serial (8010+8011), ITIP with serial (8006+21) and
 * UPUI (01+235). Batches are LGTINs (01+10). Their canonical strings can never coincide, so item
 * keys and batch keys never collide.
 */
import { concat, keccak256, toUtf8Bytes } from "ethers";
import { LENIENT_DIGITAL_LINK, parseDigitalLink, toDigitalLink } from "./digital-link.ts";
import { parseEpcUri } from "./epc-uri.ts";
import { type Gs1Identifier, IdentifierError, finestGranularity, identifierType, isBatchType, isItemType } from "./gs1-keys.ts";

/** Parses an EPC URI or a Digital Link into its GS1 key and qualifiers. */
export function parseIdentifier(input: string): Gs1Identifier {
  if (typeof input !== "string") throw new IdentifierError("identifier must be a string", String(input));
  const s = input.trim();
  if (s !== input) throw new IdentifierError(`"${input}" has leading or trailing white space`, input);
  if (s.startsWith("urn:epc:")) return parseEpcUri(s).identifier;
  if (/^https?:\/\//i.test(s)) return parseDigitalLink(s, LENIENT_DIGITAL_LINK).identifier;
  throw new IdentifierError(`"${input}" is neither an EPC URI (urn:epc:...) nor a GS1 Digital Link (https://...)`, input);
}

/** The canonical identifier string (see the header): finest granularity, Digital Link on id.gs1.org. */
export function canonicalIdentifier(input: string | Gs1Identifier): string {
  const id = typeof input === "string" ? parseIdentifier(input) : input;
  return toDigitalLink(finestGranularity(id));
}

/** Characters of the primary key's value a key's public head carries at most (IdentifierNamespaces.NAMESPACE_CHARS). */
export const NAMESPACE_CHARS = 13;

/** A key with what proves its namespace on chain: the public head and the private tail's hash. */
export interface KeyProof {
  readonly key: string;
  /** Canonical string up to the lead's fourth "/" and at most NAMESPACE_CHARS of the primary value. */
  readonly head: string;
  /** keccak256 of the rest of the canonical string. */
  readonly tailHash: string;
}

/** The key of a canonical identifier string and its namespace proof (rule 4 in the header). */
export function keyProofOfCanonical(canonical: string): KeyProof {
  let leadEnd = -1;
  for (let i = 0, slashes = 0; i < canonical.length; i++) {
    if (canonical[i] === "/" && ++slashes === 4) {
      leadEnd = i + 1;
      break;
    }
  }
  let headEnd = canonical.length;
  if (leadEnd >= 0) {
    const valueEnd = canonical.indexOf("/", leadEnd);
    headEnd = Math.min(valueEnd < 0 ? canonical.length : valueEnd, leadEnd + NAMESPACE_CHARS);
  }
  const head = canonical.slice(0, headEnd);
  const tailHash = keccak256(toUtf8Bytes(canonical.slice(headEnd)));
  return { key: keccak256(concat([toUtf8Bytes(head), tailHash])), head, tailHash };
}

/** The on-chain key of a canonical identifier string (rule 4 in the header). */
export function keyOfCanonical(canonical: string): string {
  return keyProofOfCanonical(canonical).key;
}

/** The canonical string of an individually identified item; refuses batches and classes. */
export function canonicalItemIdentifier(input: string | Gs1Identifier): string {
  const id = finestGranularity(typeof input === "string" ? parseIdentifier(input) : input);
  const t = identifierType(id);
  if (!isItemType(t)) {
    const hint = isBatchType(t) ? "; it is a batch: use batchKey" : "";
    throw new IdentifierError(
      `${typeof input === "string" ? `"${input}"` : toDigitalLink(id)} is a ${t.toUpperCase()}, not an individually identified item${hint}`,
      typeof input === "string" ? input : toDigitalLink(id),
    );
  }
  return toDigitalLink(id);
}

/** The canonical string of a batch (LGTIN); refuses items and classes. */
export function canonicalBatchIdentifier(input: string | Gs1Identifier): string {
  const id = finestGranularity(typeof input === "string" ? parseIdentifier(input) : input);
  const t = identifierType(id);
  if (!isBatchType(t)) {
    const s = typeof input === "string" ? input : toDigitalLink(id);
    throw new IdentifierError(`"${s}" is a ${t.toUpperCase()}, not a batch (a batch is a GTIN with a lot number, LGTIN)`, s);
  }
  return toDigitalLink(id);
}

/** The on-chain key of an item: keyOfCanonical(canonicalItemIdentifier(input)), 0x-prefixed hex. */
export function itemKey(input: string | Gs1Identifier): string {
  return keyOfCanonical(canonicalItemIdentifier(input));
}

/** The on-chain key of a batch: keyOfCanonical(canonicalBatchIdentifier(input)), 0x-prefixed hex. */
export function batchKey(input: string | Gs1Identifier): string {
  return keyOfCanonical(canonicalBatchIdentifier(input));
}
