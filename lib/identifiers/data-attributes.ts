/**
 * GS1 Digital Link data attributes: the GS1 AIs a Digital Link may carry in its query string
 * (`?17=261231&10…`), with the format of each value as the GS1 General Specifications give it.
 * A query parameter whose name is all digits is an AI and must be one of these, once, with a
 * non-empty valid value; a key or key qualifier belongs in the path, never in the query.
 */
import { CSET82, IdentifierError, QUALIFIER_PATHS, describeAi, hasValidCheckDigit } from "./gs1-keys.ts";

/** How a value is written: digits (fixed or up to n), characters of set 82 (up to n), or a date. */
type Format = { kind: "N"; min: number; max: number; check?: boolean } | { kind: "X"; max: number } | { kind: "date" } | { kind: "N3X"; max: number };

const N = (min: number, max = min, check = false): Format => ({ kind: "N", min, max, check });
const X = (max: number): Format => ({ kind: "X", max });
const DATE: Format = { kind: "date" };

const FIXED: Readonly<Record<string, Format>> = {
  "11": DATE, "12": DATE, "13": DATE, "15": DATE, "16": DATE, "17": DATE,
  "20": N(2), "30": N(1, 8), "37": N(1, 8),
  "240": X(30), "241": X(30), "242": N(1, 6), "243": X(20), "250": X(30), "251": X(30),
  "400": X(30), "403": X(30),
  "410": N(13, 13, true), "411": N(13, 13, true), "412": N(13, 13, true), "413": N(13, 13, true), "415": N(13, 13, true), "416": N(13, 13, true),
  "420": X(20), "421": { kind: "N3X", max: 9 }, "422": N(3), "423": N(3, 15), "424": N(3), "425": N(3, 15), "426": N(3), "427": X(3),
  "7001": N(13), "7003": N(10), "7006": DATE, "7007": N(6, 12), "7020": X(20), "7021": X(20), "7022": X(20), "7023": X(30), "7240": X(20),
  "8005": N(6), "8007": X(34), "8008": N(8, 12), "8012": X(20), "8013": X(25), "8020": X(25), "8200": X(70),
  "90": X(30),
};

/** The format of data attribute `ai`, or undefined when it is not one. */
export function dataAttributeFormat(ai: string): Format | undefined {
  if (FIXED[ai]) return FIXED[ai];
  if (/^9[1-9]$/.test(ai)) return X(90); // company internal information
  if (/^3[1-6][0-9][0-9]$/.test(ai)) return N(6); // trade and logistic measures, implied decimal point in the 4th digit
  if (/^39[02][0-9]$/.test(ai)) return N(1, 15); // amounts payable
  if (/^39[13][0-9]$/.test(ai)) return N(4, 18); // ISO 4217 currency code + amount
  return undefined;
}

/** Whether `ai` is a GS1 key or key qualifier (which a Digital Link carries in its path). */
function isPathAi(ai: string): boolean {
  return ai in QUALIFIER_PATHS || Object.values(QUALIFIER_PATHS).some((seqs) => seqs.some((s) => s.includes(ai)));
}

/** Checks one data attribute; throws an IdentifierError naming the fault. */
export function checkDataAttribute(ai: string, value: string, input: string): void {
  const label = describeAi(ai);
  if (isPathAi(ai)) throw new IdentifierError(`${label} is a GS1 key or key qualifier: it belongs in the path, not in the query string`, input);
  const f = dataAttributeFormat(ai);
  if (!f) throw new IdentifierError(`query parameter ${ai} is not a GS1 data attribute this resolver knows`, input);
  if (value === "") throw new IdentifierError(`${label} in the query string has an empty value`, input);
  switch (f.kind) {
    case "date": {
      const m = /^(\d\d)(\d\d)(\d\d)$/.exec(value);
      if (!m || Number(m[2]) < 1 || Number(m[2]) > 12 || Number(m[3]) > 31) throw new IdentifierError(`${label} "${value}" is not a date YYMMDD`, input);
      return;
    }
    case "N":
      if (!/^[0-9]+$/.test(value) || value.length < f.min || value.length > f.max)
        throw new IdentifierError(`${label} "${value}" must be ${f.min === f.max ? f.min : `${f.min} to ${f.max}`} digits`, input);
      if (f.check && !hasValidCheckDigit(value)) throw new IdentifierError(`${label} "${value}" has a wrong check digit`, input);
      return;
    case "N3X":
      if (!/^[0-9]{3}/.test(value) || value.length > 3 + f.max || !CSET82.test(value.slice(3)))
        throw new IdentifierError(`${label} "${value}" must be an ISO 3166 country code (3 digits) and up to ${f.max} characters`, input);
      return;
    case "X":
      if (value.length > f.max) throw new IdentifierError(`${label} "${value}" has ${value.length} characters, at most ${f.max} allowed`, input);
      if (!CSET82.test(value)) throw new IdentifierError(`${label} "${value}" contains characters outside the GS1 character set 82`, input);
      return;
  }
}
