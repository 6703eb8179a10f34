/**
 * GS1 identifiers for items and batches: parsing of EPC URIs (pure identity, class and pattern
 * URIs) and GS1 Digital Link URIs, conversion between them, check digits, and THE canonical form
 * from which an item's or a batch's key on chain is hashed (contracts/Provenance.sol).
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
import { loadCommonJs } from "#platform";

// ------------------------------------------------------------------------------------------ types

/** One GS1 element string: application identifier and its (percent-decoded) value. */
export interface Gs1Element {
  readonly ai: string;
  readonly value: string;
}

/** A GS1 key with its key qualifiers, in Digital Link order. */
export interface Gs1Identifier {
  readonly primary: Gs1Element;
  readonly qualifiers: readonly Gs1Element[];
}

/** What an identifier designates. */
export type IdentifierType =
  | "sgtin" // 01 + 21: one trade item instance
  | "lgtin" // 01 + 10: a batch/lot of a trade item
  | "gtin" // 01 alone: a trade item class
  | "upui" // 01 + 235: third-party controlled serialised item
  | "sscc" // 00: a logistic unit
  | "giai" // 8004: an individual asset
  | "grai" // 8003 with serial: a returnable asset
  | "grai-type" // 8003 without serial: a returnable asset type
  | "gln" // 414: a location
  | "sgln" // 414 + 254: a sub-location
  | "pgln" // 417: a party
  | "gdti" // 253: a document (type, or instance when serialised)
  | "sgcn" // 255: a coupon
  | "ginc" // 401: a consignment
  | "gsin" // 402: a shipment
  | "gsrn" // 8018: a service relation (recipient)
  | "gsrnp" // 8017: a service relation (provider)
  | "cpi" // 8010 + 8011: one component/part
  | "cpi-class" // 8010 alone: a component/part class
  | "itip" // 8006 + 21: a piece of a trade item, serialised
  | "itip-lot" // 8006 + 10
  | "itip-class"; // 8006 alone

export type EpcUriForm = "id" | "class" | "idpat";

export interface ParsedEpcUri {
  readonly identifier: Gs1Identifier;
  readonly form: EpcUriForm;
  /** The EPC scheme, e.g. "sgtin", "lgtin". */
  readonly scheme: string;
  /** Number of digits of the GS1 Company Prefix, which the EPC URI carries. */
  readonly companyPrefixLength: number;
}

export interface ParsedDigitalLink {
  readonly identifier: Gs1Identifier;
  /** Scheme and host, e.g. "https://example.com". */
  readonly origin: string;
  /** Any path before the GS1 key, e.g. "/some/path" (empty when none). */
  readonly pathStem: string;
  /** Query string parameters (GS1 data attributes, linkType, anything else), decoded. */
  readonly attributes: Readonly<Record<string, string>>;
  /** The input was a compressed Digital Link, decompressed with digital-link.js. */
  readonly decompressed: boolean;
}

export interface DigitalLinkParseOptions {
  /** Verify check digits (default true). The event hash normaliser switches this off. */
  readonly checkDigits?: boolean;
  /** Accept DL 1.0/1.1 convenience alphas such as /gtin/ and /ser/ (default true). */
  readonly convenienceAlphas?: boolean;
  /** Accept GTIN-8/12/13 in the /01/ segment and pad them to 14 digits (default true). */
  readonly shortGtins?: boolean;
  /** Decompress compressed Digital Links (default true). */
  readonly decompress?: boolean;
}

/** Thrown for anything that is not a well-formed GS1 identifier; the message says what is wrong. */
export class IdentifierError extends Error {
  readonly input: string;
  constructor(message: string, input: string) {
    super(message);
    this.name = "IdentifierError";
    this.input = input;
  }
}

// ------------------------------------------------------------------------------------- constants

export const CANONICAL_HOST = "https://id.gs1.org";

/** GS1 keys that can start a Digital Link path, with the key qualifier sequences they accept. */
const QUALIFIER_PATHS: Readonly<Record<string, readonly (readonly string[])[]>> = {
  "01": [["22", "10", "21"], ["235"]],
  "8006": [["22", "10", "21"]],
  "8010": [["8011"]],
  "414": [["254"], ["7040"]],
  "417": [["7040"]],
  "8017": [["8019"]],
  "8018": [["8019"]],
  "00": [],
  "253": [],
  "255": [],
  "401": [],
  "402": [],
  "8003": [],
  "8004": [],
};

const AI_NAMES: Readonly<Record<string, string>> = {
  "00": "SSCC",
  "01": "GTIN",
  "10": "lot number",
  "21": "serial number",
  "22": "consumer product variant",
  "235": "third-party controlled serial (TPX)",
  "253": "GDTI",
  "254": "GLN extension",
  "255": "GCN",
  "401": "GINC",
  "402": "GSIN",
  "414": "GLN",
  "417": "party GLN",
  "7040": "UIC with extension",
  "8003": "GRAI",
  "8004": "GIAI",
  "8006": "ITIP",
  "8010": "CPID",
  "8011": "CPID serial",
  "8017": "GSRN (provider)",
  "8018": "GSRN (recipient)",
  "8019": "service relation instance number",
};

/** DL 1.0/1.1 convenience alphas (removed from later DL versions; accepted on input only). */
const CONVENIENCE_ALPHAS: Readonly<Record<string, string>> = {
  gtin: "01",
  itip: "8006",
  cpid: "8010",
  gln: "414",
  party: "417",
  gsrnp: "8017",
  gsrn: "8018",
  gcn: "255",
  sscc: "00",
  gdti: "253",
  ginc: "401",
  gsin: "402",
  grai: "8003",
  giai: "8004",
  cpv: "22",
  lot: "10",
  ser: "21",
  glnx: "254",
  tpx: "235",
  cpsn: "8011",
  srin: "8019",
};

/** GS1 AI encodable character set 82 (the X in "X..20"). */
const CSET82 = /^[!"%&'()*+,\-./0-9:;<=>?A-Z_a-z]*$/;
/** GS1 AI encodable character set 39 (CPID). */
const CSET39 = /^[#\-/0-9A-Z]*$/;
const DIGITS = /^[0-9]*$/;

// ---------------------------------------------------------------------------------- check digits

/** The GS1 mod-10 check digit for `body` (all digits, check digit excluded). */
export function gs1CheckDigit(body: string): number {
  if (!DIGITS.test(body) || body.length === 0) throw new IdentifierError(`"${body}" is not a string of digits`, body);
  let sum = 0;
  // Weights 3,1,3,1... from the rightmost body digit.
  for (let i = body.length - 1, w = 3; i >= 0; i--, w = 4 - w) sum += (body.charCodeAt(i) - 48) * w;
  return (10 - (sum % 10)) % 10;
}

/** True when the last digit of `digits` is the GS1 check digit of the ones before it. */
export function hasValidCheckDigit(digits: string): boolean {
  if (digits.length < 2 || !DIGITS.test(digits)) return false;
  return gs1CheckDigit(digits.slice(0, -1)) === digits.charCodeAt(digits.length - 1) - 48;
}

function checkDigitError(label: string, digits: string, input: string): IdentifierError | undefined {
  const expected = gs1CheckDigit(digits.slice(0, -1));
  const actual = digits.charCodeAt(digits.length - 1) - 48;
  if (expected === actual) return undefined;
  return new IdentifierError(`${label} check digit is ${actual}, expected ${expected} (in ${digits})`, input);
}

// ------------------------------------------------------------------------------ percent-encoding

/** Percent-encodes an AI value for the canonical Digital Link (rule 3 in the header). */
export function encodeAiValue(value: string): string {
  let out = "";
  for (const ch of value) {
    if (/^[A-Za-z0-9\-._';=]$/.test(ch)) out += ch;
    else for (const b of utf8.encode(ch)) out += "%" + b.toString(16).toUpperCase().padStart(2, "0");
  }
  return out;
}

const utf8 = new TextEncoder();

function decodeComponent(raw: string, what: string, input: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new IdentifierError(`${what} "${raw}" has malformed percent-encoding`, input);
  }
}

// ------------------------------------------------------------------------- element value checks

function describeAi(ai: string): string {
  const name = AI_NAMES[ai];
  return name ? `${name} (AI ${ai})` : `AI ${ai}`;
}

function expectDigits(label: string, value: string, length: number, input: string): void {
  if (!DIGITS.test(value)) throw new IdentifierError(`${label} "${value}" must contain digits only`, input);
  if (value.length !== length)
    throw new IdentifierError(`${label} "${value}" has ${value.length} digits, expected ${length}`, input);
}

function expectChars(label: string, value: string, max: number, input: string, min = 1, set: RegExp = CSET82): void {
  if (value.length < min) throw new IdentifierError(`${label} is empty`, input);
  if (value.length > max)
    throw new IdentifierError(`${label} "${value}" has ${value.length} characters, at most ${max} allowed`, input);
  if (!set.test(value)) {
    const bad = [...value].find((c) => !set.test(c)) ?? "";
    throw new IdentifierError(
      `${label} "${value}" contains "${bad}", which is not in the GS1 character set ${set === CSET39 ? "39" : "82"}`,
      input,
    );
  }
}

/**
 * Validates one element value; returns the value, normalised where GS1 allows (a GTIN-8/12/13 is
 * padded to 14 digits).
 */
function checkElement(ai: string, value: string, input: string, checkDigits: boolean, shortGtins: boolean): string {
  const label = describeAi(ai);
  const cd = (digits: string, what = label) => {
    if (!checkDigits) return;
    const err = checkDigitError(what.replace(/ \(AI \d+\)$/, ""), digits, input);
    if (err) throw err;
  };
  switch (ai) {
    case "01": {
      let v = value;
      if (shortGtins && DIGITS.test(v) && (v.length === 8 || v.length === 12 || v.length === 13)) v = v.padStart(14, "0");
      if (!DIGITS.test(v)) throw new IdentifierError(`${label} "${value}" must contain digits only`, input);
      if (v.length !== 14)
        throw new IdentifierError(
          `${label} "${value}" has ${value.length} digits, expected 14${shortGtins ? " (or 8, 12, 13)" : ""}`,
          input,
        );
      if (checkDigits) {
        const err = checkDigitError("GTIN", v, input);
        if (err) throw new IdentifierError(err.message.replace(`(in ${v})`, `(in ${value})`), input);
      }
      return v;
    }
    case "00":
    case "8017":
    case "8018":
      expectDigits(label, value, 18, input);
      cd(value);
      return value;
    case "414":
    case "417":
      expectDigits(label, value, 13, input);
      cd(value);
      return value;
    case "402":
      expectDigits(label, value, 17, input);
      cd(value);
      return value;
    case "253":
    case "255": {
      const head = value.slice(0, 13);
      expectDigits(`${label} document type`, head, 13, input);
      cd(head);
      const serial = value.slice(13);
      if (ai === "255") {
        if (!DIGITS.test(serial) || serial.length > 12)
          throw new IdentifierError(`${label} serial "${serial}" must be at most 12 digits`, input);
      } else if (serial.length > 0) expectChars(`${label} serial`, serial, 17, input);
      return value;
    }
    case "8003": {
      const head = value.slice(0, 14);
      expectDigits(`${label} asset type`, head, 14, input);
      if (head[0] !== "0") throw new IdentifierError(`${label} "${value}" must start with 0`, input);
      cd(head);
      const serial = value.slice(14);
      if (serial.length > 0) expectChars(`${label} serial`, serial, 16, input);
      return value;
    }
    case "8006": {
      expectDigits(label, value, 18, input);
      cd(value.slice(0, 14), "ITIP GTIN");
      const piece = Number(value.slice(14, 16));
      const total = Number(value.slice(16, 18));
      if (piece < 1 || total < 1 || piece > total)
        throw new IdentifierError(`${label} piece ${piece} of ${total} is not a valid piece number`, input);
      return value;
    }
    case "8004":
    case "401":
      expectChars(label, value, 30, input);
      if (!/^[0-9]{4}/.test(value))
        throw new IdentifierError(`${label} "${value}" must start with a GS1 Company Prefix (digits)`, input);
      return value;
    case "8010":
      expectChars(label, value, 30, input, 1, CSET39);
      if (!/^[0-9]{4}/.test(value))
        throw new IdentifierError(`${label} "${value}" must start with a GS1 Company Prefix (digits)`, input);
      return value;
    case "8011":
      if (!DIGITS.test(value) || value.length < 1 || value.length > 12)
        throw new IdentifierError(`${label} "${value}" must be 1 to 12 digits`, input);
      if (value.length > 1 && value[0] === "0")
        throw new IdentifierError(`${label} "${value}" must not have leading zeros`, input);
      return value;
    case "8019":
      if (!DIGITS.test(value) || value.length < 1 || value.length > 10)
        throw new IdentifierError(`${label} "${value}" must be 1 to 10 digits`, input);
      return value;
    case "10":
    case "21":
    case "22":
    case "254":
      expectChars(label, value, 20, input);
      return value;
    case "235":
      expectChars(label, value, 28, input);
      return value;
    case "7040":
      if (!/^[0-9][\x21-\x22\x25-\x2F\x30-\x39\x3A-\x3F\x41-\x5A\x5F\x61-\x7A]{3}$/.test(value))
        throw new IdentifierError(`${label} "${value}" must be one digit and three characters`, input);
      return value;
    default:
      throw new IdentifierError(`${label} is not supported`, input);
  }
}

// -------------------------------------------------------------------------------- classification

/** What the identifier designates. */
export function identifierType(id: Gs1Identifier): IdentifierType {
  const q = new Set(id.qualifiers.map((e) => e.ai));
  switch (id.primary.ai) {
    case "01":
      return q.has("21") ? "sgtin" : q.has("235") ? "upui" : q.has("10") ? "lgtin" : "gtin";
    case "8006":
      return q.has("21") ? "itip" : q.has("10") ? "itip-lot" : "itip-class";
    case "00":
      return "sscc";
    case "8004":
      return "giai";
    case "8003":
      return id.primary.value.length > 14 ? "grai" : "grai-type";
    case "414":
      return q.has("254") ? "sgln" : "gln";
    case "417":
      return "pgln";
    case "253":
      return "gdti";
    case "255":
      return "sgcn";
    case "401":
      return "ginc";
    case "402":
      return "gsin";
    case "8017":
      return "gsrnp";
    case "8018":
      return "gsrn";
    case "8010":
      return q.has("8011") ? "cpi" : "cpi-class";
    default:
      throw new IdentifierError(`AI ${id.primary.ai} is not a supported GS1 key`, id.primary.value);
  }
}

const ITEM_TYPES: ReadonlySet<IdentifierType> = new Set(["sgtin", "upui", "sscc", "giai", "grai", "cpi", "itip"]);
const BATCH_TYPES: ReadonlySet<IdentifierType> = new Set(["lgtin"]);

export function isItemType(t: IdentifierType): boolean {
  return ITEM_TYPES.has(t);
}

export function isBatchType(t: IdentifierType): boolean {
  return BATCH_TYPES.has(t);
}

// ---------------------------------------------------------------------------------- EPC URIs

interface EpcSchemeSpec {
  /** Number of dot-separated fields after the scheme. */
  readonly fields: number;
  readonly build: (f: readonly string[], input: string) => { id: Gs1Identifier; cpl: number };
}

function companyPrefix(cp: string, input: string): number {
  if (!DIGITS.test(cp) || cp.length < 6 || cp.length > 12)
    throw new IdentifierError(`GS1 Company Prefix "${cp}" must be 6 to 12 digits`, input);
  return cp.length;
}

/** Company prefix + reference of fixed total length, for keys built as prefix||ref||check. */
function fixedRef(cp: string, ref: string, total: number, what: string, input: string): number {
  const cpl = companyPrefix(cp, input);
  if (!DIGITS.test(ref)) throw new IdentifierError(`${what} "${ref}" must contain digits only`, input);
  if (cpl + ref.length !== total)
    throw new IdentifierError(
      `${what} "${ref}" has ${ref.length} digits; with a ${cpl}-digit company prefix it must have ${total - cpl}`,
      input,
    );
  return cpl;
}

function withCheck(body: string): string {
  return body + String(gs1CheckDigit(body));
}

/** Decodes an EPC URI component (its own percent-escapes) and checks its character set. */
function epcComponent(raw: string, what: string, max: number, input: string, set: RegExp = CSET82): string {
  const value = decodeComponent(raw, what, input);
  expectChars(what, value, max, input, 1, set);
  return value;
}

function gtinFromEpc(cp: string, indicatorItemRef: string, input: string): { gtin: string; cpl: number } {
  const cpl = fixedRef(cp, indicatorItemRef, 13, "Indicator digit and item reference", input);
  return { gtin: withCheck(indicatorItemRef[0] + cp + indicatorItemRef.slice(1)), cpl };
}

const el = (ai: string, value: string): Gs1Element => ({ ai, value });

const EPC_ID_SCHEMES: Readonly<Record<string, EpcSchemeSpec>> = {
  sgtin: {
    fields: 3,
    build: ([cp, ir, serial], input) => {
      const { gtin, cpl } = gtinFromEpc(cp!, ir!, input);
      return { id: { primary: el("01", gtin), qualifiers: [el("21", epcComponent(serial!, "Serial number", 20, input))] }, cpl };
    },
  },
  sscc: {
    fields: 2,
    build: ([cp, ref], input) => {
      const cpl = fixedRef(cp!, ref!, 17, "Extension digit and serial reference", input);
      return { id: { primary: el("00", withCheck(ref![0] + cp! + ref!.slice(1))), qualifiers: [] }, cpl };
    },
  },
  sgln: {
    fields: 3,
    build: ([cp, loc, ext], input) => {
      const cpl = fixedRef(cp!, loc!, 12, "Location reference", input);
      const extension = epcComponent(ext!, "GLN extension", 20, input);
      const qualifiers = extension === "0" ? [] : [el("254", extension)];
      return { id: { primary: el("414", withCheck(cp! + loc!)), qualifiers }, cpl };
    },
  },
  grai: {
    fields: 3,
    build: ([cp, type, serial], input) => {
      const cpl = fixedRef(cp!, type!, 12, "Asset type", input);
      const s = epcComponent(serial!, "GRAI serial", 16, input);
      return { id: { primary: el("8003", "0" + withCheck(cp! + type!) + s), qualifiers: [] }, cpl };
    },
  },
  giai: {
    fields: 2,
    build: ([cp, ref], input) => {
      const cpl = companyPrefix(cp!, input);
      const r = epcComponent(ref!, "Individual asset reference", 30 - cpl, input);
      return { id: { primary: el("8004", cp! + r), qualifiers: [] }, cpl };
    },
  },
  gsrn: {
    fields: 2,
    build: ([cp, ref], input) => {
      const cpl = fixedRef(cp!, ref!, 17, "Service reference", input);
      return { id: { primary: el("8018", withCheck(cp! + ref!)), qualifiers: [] }, cpl };
    },
  },
  gsrnp: {
    fields: 2,
    build: ([cp, ref], input) => {
      const cpl = fixedRef(cp!, ref!, 17, "Service reference", input);
      return { id: { primary: el("8017", withCheck(cp! + ref!)), qualifiers: [] }, cpl };
    },
  },
  gdti: {
    fields: 3,
    build: ([cp, type, serial], input) => {
      const cpl = fixedRef(cp!, type!, 12, "Document type", input);
      const s = epcComponent(serial!, "GDTI serial", 17, input);
      return { id: { primary: el("253", withCheck(cp! + type!) + s), qualifiers: [] }, cpl };
    },
  },
  cpi: {
    fields: 3,
    build: ([cp, ref, serial], input) => {
      const cpl = companyPrefix(cp!, input);
      const r = epcComponent(ref!, "Component/part reference", 30 - cpl, input, CSET39);
      if (!/^[0-9]{1,12}$/.test(serial!) || (serial!.length > 1 && serial![0] === "0"))
        throw new IdentifierError(`CPI serial "${serial}" must be 1 to 12 digits without leading zeros`, input);
      return { id: { primary: el("8010", cp! + r), qualifiers: [el("8011", serial!)] }, cpl };
    },
  },
  sgcn: {
    fields: 3,
    build: ([cp, ref, serial], input) => {
      const cpl = fixedRef(cp!, ref!, 12, "Coupon reference", input);
      if (!/^[0-9]{1,12}$/.test(serial!)) throw new IdentifierError(`SGCN serial "${serial}" must be 1 to 12 digits`, input);
      return { id: { primary: el("255", withCheck(cp! + ref!) + serial!), qualifiers: [] }, cpl };
    },
  },
  ginc: {
    fields: 2,
    build: ([cp, ref], input) => {
      const cpl = companyPrefix(cp!, input);
      const r = epcComponent(ref!, "Consignment reference", 30 - cpl, input);
      return { id: { primary: el("401", cp! + r), qualifiers: [] }, cpl };
    },
  },
  gsin: {
    fields: 2,
    build: ([cp, ref], input) => {
      const cpl = fixedRef(cp!, ref!, 16, "Shipper reference", input);
      return { id: { primary: el("402", withCheck(cp! + ref!)), qualifiers: [] }, cpl };
    },
  },
  itip: {
    fields: 5,
    build: ([cp, ir, piece, total, serial], input) => {
      const { gtin, cpl } = gtinFromEpc(cp!, ir!, input);
      if (!/^[0-9]{2}$/.test(piece!) || !/^[0-9]{2}$/.test(total!))
        throw new IdentifierError(`ITIP piece "${piece}" and total "${total}" must be two digits each`, input);
      const s = epcComponent(serial!, "Serial number", 20, input);
      return { id: { primary: el("8006", gtin + piece! + total!), qualifiers: [el("21", s)] }, cpl };
    },
  },
  upui: {
    fields: 3,
    build: ([cp, ir, tpx], input) => {
      const { gtin, cpl } = gtinFromEpc(cp!, ir!, input);
      return { id: { primary: el("01", gtin), qualifiers: [el("235", epcComponent(tpx!, "TPX", 28, input))] }, cpl };
    },
  },
  pgln: {
    fields: 2,
    build: ([cp, ref], input) => {
      const cpl = fixedRef(cp!, ref!, 12, "Party reference", input);
      return { id: { primary: el("417", withCheck(cp! + ref!)), qualifiers: [] }, cpl };
    },
  },
};

const EPC_CLASS_SCHEMES: Readonly<Record<string, EpcSchemeSpec>> = {
  lgtin: {
    fields: 3,
    build: ([cp, ir, lot], input) => {
      const { gtin, cpl } = gtinFromEpc(cp!, ir!, input);
      return { id: { primary: el("01", gtin), qualifiers: [el("10", epcComponent(lot!, "Lot number", 20, input))] }, cpl };
    },
  },
};

/** EPC pattern URIs whose pattern is exactly "every serial of one class" (…*). */
const EPC_PATTERN_SCHEMES: Readonly<Record<string, EpcSchemeSpec>> = {
  sgtin: { fields: 2, build: ([cp, ir], input) => { const { gtin, cpl } = gtinFromEpc(cp!, ir!, input); return { id: { primary: el("01", gtin), qualifiers: [] }, cpl }; } },
  upui: { fields: 2, build: ([cp, ir], input) => { const { gtin, cpl } = gtinFromEpc(cp!, ir!, input); return { id: { primary: el("01", gtin), qualifiers: [] }, cpl }; } },
  grai: { fields: 2, build: ([cp, type], input) => { const cpl = fixedRef(cp!, type!, 12, "Asset type", input); return { id: { primary: el("8003", "0" + withCheck(cp! + type!)), qualifiers: [] }, cpl }; } },
  gdti: { fields: 2, build: ([cp, type], input) => { const cpl = fixedRef(cp!, type!, 12, "Document type", input); return { id: { primary: el("253", withCheck(cp! + type!)), qualifiers: [] }, cpl }; } },
  sgcn: { fields: 2, build: ([cp, ref], input) => { const cpl = fixedRef(cp!, ref!, 12, "Coupon reference", input); return { id: { primary: el("255", withCheck(cp! + ref!)), qualifiers: [] }, cpl }; } },
  cpi: { fields: 2, build: ([cp, ref], input) => { const cpl = companyPrefix(cp!, input); return { id: { primary: el("8010", cp! + epcComponent(ref!, "Component/part reference", 30 - cpl, input, CSET39)), qualifiers: [] }, cpl }; } },
  itip: {
    fields: 4,
    build: ([cp, ir, piece, total], input) => {
      const { gtin, cpl } = gtinFromEpc(cp!, ir!, input);
      if (!/^[0-9]{2}$/.test(piece!) || !/^[0-9]{2}$/.test(total!))
        throw new IdentifierError(`ITIP piece "${piece}" and total "${total}" must be two digits each`, input);
      return { id: { primary: el("8006", gtin + piece! + total!), qualifiers: [] }, cpl };
    },
  },
};

/**
 * Parses an EPC pure-identity URI (urn:epc:id:...), an EPC class URI (urn:epc:class:lgtin:...) or
 * an EPC pattern URI that names one class (urn:epc:idpat:sgtin:CP.IR.*).
 */
export function parseEpcUri(uri: string): ParsedEpcUri {
  const m = /^urn:epc:(id|class|idpat):([a-z]+):(.*)$/.exec(uri);
  if (!m) throw new IdentifierError(`"${uri}" is not an EPC URI (urn:epc:id:, urn:epc:class: or urn:epc:idpat:)`, uri);
  const form = m[1] as EpcUriForm;
  const scheme = m[2]!;
  const table = form === "id" ? EPC_ID_SCHEMES : form === "class" ? EPC_CLASS_SCHEMES : EPC_PATTERN_SCHEMES;
  const spec = table[scheme];
  if (!spec) throw new IdentifierError(`EPC scheme "urn:epc:${form}:${scheme}" is not supported`, uri);
  let rest = m[3]!;
  if (form === "idpat") {
    if (!rest.endsWith(".*") || rest.slice(0, -2).includes("*"))
      throw new IdentifierError(`EPC pattern "${uri}" must end in ".*" and fix every other field`, uri);
    rest = rest.slice(0, -2);
  }
  // The last field (serial, asset or consignment reference) may itself contain dots.
  const fields: string[] = [];
  for (let i = 1; i < spec.fields; i++) {
    const dot = rest.indexOf(".");
    if (dot < 0) break;
    fields.push(rest.slice(0, dot));
    rest = rest.slice(dot + 1);
  }
  fields.push(rest);
  // References may be empty (12-digit company prefixes), but never missing.
  if (fields.length !== spec.fields)
    throw new IdentifierError(
      `"${uri}" has ${fields.length} dot-separated fields after "urn:epc:${form}:${scheme}:", expected ${spec.fields}`,
      uri,
    );
  const { id, cpl } = spec.build(fields, uri);
  return { identifier: id, form, scheme, companyPrefixLength: cpl };
}

// ------------------------------------------------------------------------------- Digital Link

interface DigitalLinkModule {
  readonly Utils: {
    isCompressedWebUri(uri: string): boolean;
    decompressWebUri(uri: string, useShortText?: boolean): string;
  };
  readonly DigitalLink: (input?: unknown) => { isValid(): boolean };
}

let digitalLinkJs: DigitalLinkModule | undefined;

/**
 * digital-link.js is CommonJS and untyped; load it lazily (its grammar parser is heavy). In the
 * browser it is not loaded: compressed links and full grammar checks are then refused, and the
 * gateway's /resolve answers them.
 */
function dlJs(): DigitalLinkModule {
  digitalLinkJs ??= loadCommonJs("digital-link.js") as DigitalLinkModule;
  return digitalLinkJs;
}

const URI_PARTS = /^(https?):\/\/([^/?#]+)([^?#]*)(\?[^#]*)?(#.*)?$/i;

function aiOfSegment(seg: string, alphas: boolean): string | undefined {
  if (/^[0-9]+$/.test(seg)) return seg;
  return alphas ? CONVENIENCE_ALPHAS[seg] : undefined;
}

/**
 * Parses a GS1 Digital Link URI on any host. Key qualifiers must follow the order the standard
 * defines (e.g. /10/ before /21/); the query string is kept as attributes and never changes the
 * identifier.
 */
export function parseDigitalLink(uri: string, options: DigitalLinkParseOptions = {}): ParsedDigitalLink {
  const checkDigits = options.checkDigits ?? true;
  const alphas = options.convenienceAlphas ?? true;
  const shortGtins = options.shortGtins ?? true;
  const m = URI_PARTS.exec(uri);
  if (!m) throw new IdentifierError(`"${uri}" is not an http(s) URI`, uri);
  const origin = `${m[1]!.toLowerCase()}://${m[2]!}`;
  const rawPath = m[3] ?? "";
  const segments = rawPath.split("/").slice(1);
  if (segments.length > 0 && segments[segments.length - 1] === "") segments.pop(); // one trailing slash
  // The GS1 path starts at the first segment from which the rest reads as key/value pairs whose
  // first key is a primary key and whose other keys are AIs.
  let start = -1;
  for (let i = 0; i < segments.length; i++) {
    const ai = aiOfSegment(segments[i]!, alphas);
    if (ai === undefined || !(ai in QUALIFIER_PATHS) || (segments.length - i) % 2 !== 0) continue;
    let ok = true;
    for (let j = i + 2; j < segments.length; j += 2) if (aiOfSegment(segments[j]!, alphas) === undefined) ok = false;
    if (ok) {
      start = i;
      break;
    }
  }
  if (start < 0) {
    if ((options.decompress ?? true) && segments.length > 0 && /^[A-Za-z0-9_-]{6,}$/.test(segments[segments.length - 1]!)) {
      let expanded: string | undefined;
      try {
        if (dlJs().Utils.isCompressedWebUri(uri)) expanded = dlJs().Utils.decompressWebUri(uri);
      } catch {
        expanded = undefined;
      }
      if (expanded !== undefined && expanded !== uri) return { ...parseDigitalLink(expanded, { ...options, decompress: false }), decompressed: true };
    }
    throw new IdentifierError(`"${uri}" has no GS1 primary key in its path (e.g. /01/{gtin}, /00/{sscc}, /8004/{giai})`, uri);
  }
  for (const s of segments.slice(0, start))
    if (s === "") throw new IdentifierError(`"${uri}" has an empty path segment`, uri);
  const pathStem = start === 0 ? "" : "/" + segments.slice(0, start).join("/");
  const pairs: Gs1Element[] = [];
  for (let j = start; j < segments.length; j += 2) {
    const ai = aiOfSegment(segments[j]!, alphas)!;
    pairs.push({ ai, value: decodeComponent(segments[j + 1]!, describeAi(ai), uri) });
  }
  const [primary, ...qualifiers] = pairs;
  // The key itself first: a wrong GTIN says more than the order of what follows it.
  const primaryValue = checkElement(primary!.ai, primary!.value, uri, checkDigits, shortGtins);
  const allowed = QUALIFIER_PATHS[primary!.ai]!;
  const qAis = qualifiers.map((q) => q.ai);
  const fits = qAis.length === 0 || allowed.some((seq) => {
    let k = 0;
    for (const ai of qAis) {
      while (k < seq.length && seq[k] !== ai) k++;
      if (k === seq.length) return false;
      k++;
    }
    return true;
  });
  if (!fits) {
    for (const ai of qAis)
      if (!allowed.some((seq) => seq.includes(ai)))
        throw new IdentifierError(`${describeAi(ai)} is not a key qualifier of ${describeAi(primary!.ai)}`, uri);
    if (new Set(qAis).size !== qAis.length) throw new IdentifierError(`"${uri}" repeats a key qualifier`, uri);
    const order = allowed.find((seq) => qAis.every((a) => seq.includes(a))) ?? allowed[0]!;
    throw new IdentifierError(
      `key qualifiers of ${describeAi(primary!.ai)} are out of order: /${qAis.join("/…/")}/ given, the order is /${order.filter((a) => qAis.includes(a)).join("/…/")}/`,
      uri,
    );
  }
  const identifier: Gs1Identifier = {
    primary: el(primary!.ai, primaryValue),
    qualifiers: qualifiers.map((q) => el(q.ai, checkElement(q.ai, q.value, uri, checkDigits, shortGtins))),
  };
  const attributes: Record<string, string> = {};
  const query = m[4] ? m[4].slice(1) : "";
  if (query !== "")
    for (const part of query.split("&")) {
      if (part === "") continue;
      const eq = part.indexOf("=");
      const k = decodeComponent(eq < 0 ? part : part.slice(0, eq), "Query parameter", uri);
      attributes[k] = decodeComponent(eq < 0 ? "" : part.slice(eq + 1).replace(/\+/g, "%20"), `Query parameter ${k}`, uri);
    }
  return { identifier, origin, pathStem, attributes, decompressed: false };
}

/**
 * Full grammar validation of a Digital Link with digital-link.js (the GS1 DL 1.1/1.2 ABNF,
 * including query attributes). Slow (milliseconds per call): for resolvers and forms, not for
 * bulk ingestion, where `parseDigitalLink` is the check.
 */
export function digitalLinkGrammarValid(uri: string): boolean {
  try {
    return dlJs().DigitalLink(uri).isValid();
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------- generic entry points

/** Parses an EPC URI or a Digital Link into its GS1 key and qualifiers. */
export function parseIdentifier(input: string): Gs1Identifier {
  if (typeof input !== "string") throw new IdentifierError("identifier must be a string", String(input));
  const s = input.trim();
  if (s !== input) throw new IdentifierError(`"${input}" has leading or trailing white space`, input);
  if (s.startsWith("urn:epc:")) return parseEpcUri(s).identifier;
  if (/^https?:\/\//i.test(s)) return parseDigitalLink(s).identifier;
  throw new IdentifierError(`"${input}" is neither an EPC URI (urn:epc:...) nor a GS1 Digital Link (https://...)`, input);
}

/** Drops what is coarser than the finest identification present (CBV 2.0 event hash rule 18). */
export function finestGranularity(id: Gs1Identifier): Gs1Identifier {
  const ais = new Set(id.qualifiers.map((q) => q.ai));
  const keep = (ai: string): boolean => {
    switch (ai) {
      case "22":
        return false;
      case "10":
        return !ais.has("21");
      case "7040":
      case "8019":
        return false;
      default:
        return true;
    }
  };
  return { primary: id.primary, qualifiers: id.qualifiers.filter((q) => keep(q.ai)) };
}

/** Writes a Digital Link for `id` (numeric AIs, canonical percent-encoding) on `host`. */
export function toDigitalLink(id: Gs1Identifier, host: string = CANONICAL_HOST): string {
  let out = host.replace(/\/+$/, "");
  for (const e of [id.primary, ...id.qualifiers]) out += `/${e.ai}/${encodeAiValue(e.value)}`;
  return out;
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

// --------------------------------------------------------------------------- to EPC URIs

function splitCp(digits: string, cpl: number, input: string): [string, string] {
  if (!Number.isInteger(cpl) || cpl < 6 || cpl > 12)
    throw new IdentifierError(`company prefix length must be 6 to 12, got ${cpl}`, input);
  return [digits.slice(0, cpl), digits.slice(cpl)];
}

/** EPC URI escaping (TDS): " % & / < > ? must be escaped; # as well for safety. */
function epcEscape(value: string): string {
  return value.replace(/["%&/<>?#]/g, (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase().padStart(2, "0"));
}

/**
 * Writes `id` as an EPC URI. EPC URIs split the GS1 Company Prefix from the reference, so the
 * prefix length is required; it is not derivable from the key itself.
 */
export function toEpcUri(input: string | Gs1Identifier, companyPrefixLength: number): string {
  const id = finestGranularity(typeof input === "string" ? parseIdentifier(input) : input);
  const s = typeof input === "string" ? input : toDigitalLink(id);
  const t = identifierType(id);
  const v = id.primary.value;
  const q = (ai: string) => id.qualifiers.find((e) => e.ai === ai)?.value;
  const gtinParts = (gtin: string) => {
    const [cp, rest] = splitCp(gtin.slice(1, 13), companyPrefixLength, s);
    return `${cp}.${gtin[0]}${rest}`;
  };
  switch (t) {
    case "sgtin":
      return `urn:epc:id:sgtin:${gtinParts(v)}.${epcEscape(q("21")!)}`;
    case "lgtin":
      return `urn:epc:class:lgtin:${gtinParts(v)}.${epcEscape(q("10")!)}`;
    case "gtin":
      return `urn:epc:idpat:sgtin:${gtinParts(v)}.*`;
    case "upui":
      return `urn:epc:id:upui:${gtinParts(v)}.${epcEscape(q("235")!)}`;
    case "sscc": {
      const [cp, rest] = splitCp(v.slice(1, 17), companyPrefixLength, s);
      return `urn:epc:id:sscc:${cp}.${v[0]}${rest}`;
    }
    case "gln":
    case "sgln": {
      const [cp, rest] = splitCp(v.slice(0, 12), companyPrefixLength, s);
      return `urn:epc:id:sgln:${cp}.${rest}.${epcEscape(q("254") ?? "0")}`;
    }
    case "pgln": {
      const [cp, rest] = splitCp(v.slice(0, 12), companyPrefixLength, s);
      return `urn:epc:id:pgln:${cp}.${rest}`;
    }
    case "grai":
    case "grai-type": {
      const [cp, rest] = splitCp(v.slice(1, 13), companyPrefixLength, s);
      return t === "grai" ? `urn:epc:id:grai:${cp}.${rest}.${epcEscape(v.slice(14))}` : `urn:epc:idpat:grai:${cp}.${rest}.*`;
    }
    case "giai": {
      const [cp, rest] = splitCp(v, companyPrefixLength, s);
      if (!DIGITS.test(cp)) throw new IdentifierError(`GIAI "${v}" does not start with a ${companyPrefixLength}-digit company prefix`, s);
      return `urn:epc:id:giai:${cp}.${epcEscape(rest)}`;
    }
    case "gsrn":
    case "gsrnp": {
      const [cp, rest] = splitCp(v.slice(0, 17), companyPrefixLength, s);
      return `urn:epc:id:${t}:${cp}.${rest}`;
    }
    case "gdti": {
      const [cp, rest] = splitCp(v.slice(0, 12), companyPrefixLength, s);
      const serial = v.slice(13);
      return serial === "" ? `urn:epc:idpat:gdti:${cp}.${rest}.*` : `urn:epc:id:gdti:${cp}.${rest}.${epcEscape(serial)}`;
    }
    case "sgcn": {
      const [cp, rest] = splitCp(v.slice(0, 12), companyPrefixLength, s);
      const serial = v.slice(13);
      return serial === "" ? `urn:epc:idpat:sgcn:${cp}.${rest}.*` : `urn:epc:id:sgcn:${cp}.${rest}.${serial}`;
    }
    case "ginc": {
      const [cp, rest] = splitCp(v, companyPrefixLength, s);
      return `urn:epc:id:ginc:${cp}.${epcEscape(rest)}`;
    }
    case "gsin": {
      const [cp, rest] = splitCp(v.slice(0, 16), companyPrefixLength, s);
      return `urn:epc:id:gsin:${cp}.${rest}`;
    }
    case "cpi":
    case "cpi-class": {
      const [cp, rest] = splitCp(v, companyPrefixLength, s);
      const ref = rest.replace(/[#/]/g, (c) => (c === "#" ? "%23" : "%2F"));
      return t === "cpi" ? `urn:epc:id:cpi:${cp}.${ref}.${q("8011")!}` : `urn:epc:idpat:cpi:${cp}.${ref}.*`;
    }
    case "itip":
    case "itip-class": {
      const head = `${gtinParts(v.slice(0, 14))}.${v.slice(14, 16)}.${v.slice(16, 18)}`;
      return t === "itip" ? `urn:epc:id:itip:${head}.${epcEscape(q("21")!)}` : `urn:epc:idpat:itip:${head}.*`;
    }
    default:
      throw new IdentifierError(`a ${t.toUpperCase()} has no EPC URI form`, s);
  }
}
