/**
 * EPC URIs (GS1 Tag Data Standard): parsing pure-identity URIs (urn:epc:id:...), class URIs
 * (urn:epc:class:lgtin:...) and pattern URIs naming one class (urn:epc:idpat:...), and writing
 * an identifier as an EPC URI, which needs the GS1 Company Prefix length.
 */
import { toDigitalLink } from "./digital-link.ts";
import {
  CSET39,
  CSET82,
  DIGITS,
  type Gs1Element,
  type Gs1Identifier,
  IdentifierError,
  decodeComponent,
  expectChars,
  finestGranularity,
  gs1CheckDigit,
  identifierType,
} from "./gs1-keys.ts";

export type EpcUriForm = "id" | "class" | "idpat";

export interface ParsedEpcUri {
  readonly identifier: Gs1Identifier;
  readonly form: EpcUriForm;
  /** The EPC scheme, e.g. "sgtin", "lgtin". */
  readonly scheme: string;
  /** Number of digits of the GS1 Company Prefix, which the EPC URI carries. */
  readonly companyPrefixLength: number;
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
 * Writes `identifier` (at its finest granularity) as an EPC URI. EPC URIs split the GS1 Company
 * Prefix from the reference, so the prefix length is required; it is not derivable from the key
 * itself. A string of any spelling is read with parseIdentifier (canonical.ts) first.
 */
export function toEpcUri(identifier: Gs1Identifier, companyPrefixLength: number): string {
  const id = finestGranularity(identifier);
  const s = toDigitalLink(id);
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
