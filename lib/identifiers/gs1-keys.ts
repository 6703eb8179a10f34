/**
 * GS1 keys and their element strings: what an identifier is made of (a GS1 key with its key
 * qualifiers), the application identifiers Tracemesh reads, their value rules and check digits,
 * what an identifier designates (item, batch, class, location...) and which of its qualifiers
 * are the finest identification. The spellings (EPC URIs, Digital Links) and the canonical form
 * build on this file.
 */
import { TracemeshError } from "../errors.ts";

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

/** Thrown for anything that is not a well-formed GS1 identifier; the message says what is wrong. */
export class IdentifierError extends TracemeshError {
  readonly input: string;
  constructor(message: string, input: string) {
    super("invalid-identifier", message);
    this.input = input;
  }
}

// ------------------------------------------------------------------------------------- constants

/** GS1 keys that can start a Digital Link path, with the key qualifier sequences they accept. */
export const QUALIFIER_PATHS: Readonly<Record<string, readonly (readonly string[])[]>> = {
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

/** GS1 AI encodable character set 82 (the X in "X..20"). */
export const CSET82 = /^[!"%&'()*+,\-./0-9:;<=>?A-Z_a-z]*$/;
/** GS1 AI encodable character set 39 (CPID). */
export const CSET39 = /^[#\-/0-9A-Z]*$/;
export const DIGITS = /^[0-9]*$/;

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

/** Percent-decodes one URI component; a malformed escape is an IdentifierError naming `what`. */
export function decodeComponent(raw: string, what: string, input: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new IdentifierError(`${what} "${raw}" has malformed percent-encoding`, input);
  }
}

// ------------------------------------------------------------------------- element value checks

export function describeAi(ai: string): string {
  const name = AI_NAMES[ai];
  return name ? `${name} (AI ${ai})` : `AI ${ai}`;
}

function expectDigits(label: string, value: string, length: number, input: string): void {
  if (!DIGITS.test(value)) throw new IdentifierError(`${label} "${value}" must contain digits only`, input);
  if (value.length !== length)
    throw new IdentifierError(`${label} "${value}" has ${value.length} digits, expected ${length}`, input);
}

export function expectChars(label: string, value: string, max: number, input: string, min = 1, set: RegExp = CSET82): void {
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
export function checkElement(ai: string, value: string, input: string, checkDigits: boolean, shortGtins: boolean): string {
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
