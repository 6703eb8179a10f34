/**
 * The W3C Verifiable Credentials Data Model 2.0, as rules a credential is checked against before
 * it is signed and when it is verified (lib/credentials.ts). Each rule has a stable name, and a
 * refusal names the rule and the JSON Pointer of the offending value, so an issuer can fix it.
 *
 * These are the rules that need no JSON-LD processing; the ones that do (every type defined by
 * the credential's contexts, no protected term redefined) are in ./contexts.ts.
 */

export const VC_V2_CONTEXT = "https://www.w3.org/ns/credentials/v2";

/** One broken rule: its name (see DATA_MODEL_RULES), where (JSON Pointer), and what is wrong. */
export interface DataModelProblem {
  rule: DataModelRule;
  path: string;
  message: string;
}

/** The rules, by name, with the section of VC 2.0 each one comes from. */
export const DATA_MODEL_RULES = {
  context: "§4.3 Contexts: @context is an array, first https://www.w3.org/ns/credentials/v2, then URLs or context objects",
  id: "§4.4 Identifiers: id, when present, is one URL",
  type: "§4.5 Types: type includes VerifiableCredential; every type is a non-empty string",
  "language-value": "§11.1 Language and Base Direction: a language value object has @value and only @language/@direction",
  name: "§4.6 Names and Descriptions: name and description are strings or language value objects",
  issuer: "§4.7 Issuer: issuer is a URL, or an object whose id is a URL",
  "credential-subject": "§4.8 Credential Subject: one or more objects, each with at least one claim",
  "subject-id": "§4.8 Credential Subject: a subject's id, when present, is one URL",
  "date-time": "§4.9 Validity Period: validFrom and validUntil are XML Schema dateTimeStamp values",
  "validity-period": "§4.9 Validity Period: validUntil is not before validFrom",
  "typed-object": "§4.10–§5.6 status, schema, evidence, refresh, terms of use and proofs each have a type (and an id URL where required)",
  // JSON-LD rules (./contexts.ts)
  "context-offline": "§4.3 Contexts: every context resolves (here: offline, never fetched)",
  "type-defined": "§4.5 Types: every type is defined by the credential's contexts",
  "protected-term": "§4.3 Contexts: no context redefines a term the VC 2.0 context protects",
  "json-ld": "§4.3 Contexts: the credential is valid JSON-LD",
} as const;
export type DataModelRule = keyof typeof DATA_MODEL_RULES;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * An absolute URL (URI) as VC 2.0 identifiers are: a scheme, then no whitespace or control
 * characters; http(s) URLs must also parse with a host. `urn:uuid:…` and `did:…` qualify.
 */
export function isUrl(v: unknown): v is string {
  if (typeof v !== "string" || !/^[A-Za-z][A-Za-z0-9+.-]*:[^\s\p{Cc}]+$/u.test(v)) return false;
  if (/^https?:/i.test(v)) {
    try {
      return new URL(v).host !== "";
    } catch {
      return false;
    }
  }
  return true;
}

// XML Schema 1.1 dateTimeStamp: dateTime with a mandatory time zone.
const DATE_TIME_STAMP = /^(-?(?:[1-9][0-9]{3,}|0[0-9]{3}))-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T(?:([01][0-9]|2[0-3]):([0-5][0-9]):([0-5][0-9])(?:\.[0-9]+)?|24:00:00(?:\.0+)?)(Z|[+-](?:(?:0[0-9]|1[0-3]):[0-5][0-9]|14:00))$/;

/** Milliseconds since the epoch of an XML Schema dateTimeStamp; undefined when `v` is not one. */
export function parseDateTimeStamp(v: unknown): number | undefined {
  if (typeof v !== "string") return undefined;
  const m = DATE_TIME_STAMP.exec(v);
  if (!m) return undefined;
  const year = Number(m[1]);
  const month = Number(m[2]);
  const day = Number(m[3]);
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  const days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]!;
  if (day > days) return undefined;
  // Date.parse handles the forms this regex admits for four-digit years; wider years are out of
  // any certificate's range and refused rather than guessed.
  if (!/^\d{4}$/.test(m[1]!)) return undefined;
  const ms = Date.parse(v.replace("T24:00:00", "T00:00:00"));
  if (Number.isNaN(ms)) return undefined;
  return m[4] === undefined ? ms + 86_400_000 : ms;
}

const pointer = (...parts: (string | number)[]) => parts.map((p) => "/" + String(p).replace(/~/g, "~0").replace(/\//g, "~1")).join("");

/** The VC 2.0 properties whose values are typed objects, and whether each needs an id. */
const TYPED_PROPERTIES: Readonly<Record<string, { idRequired: boolean }>> = {
  credentialStatus: { idRequired: false },
  credentialSchema: { idRequired: true },
  evidence: { idRequired: false },
  refreshService: { idRequired: false },
  // VC 1.1's name for refreshService; a 2.0 credential using it still gets its entries checked.
  refresh: { idRequired: false },
  termsOfUse: { idRequired: false },
  proof: { idRequired: false },
};

/** Every problem of `c` against the data model rules (empty when it conforms). */
export function dataModelProblems(c: unknown): DataModelProblem[] {
  const out: DataModelProblem[] = [];
  const fail = (rule: DataModelRule, path: string, message: string) => out.push({ rule, path, message });
  if (!isObject(c)) {
    fail("context", "", "a credential is a JSON object");
    return out;
  }

  const ctx = c["@context"];
  if (!Array.isArray(ctx) || ctx.length === 0) fail("context", "/@context", `@context must be an array starting with ${VC_V2_CONTEXT}`);
  else {
    if (ctx[0] !== VC_V2_CONTEXT) fail("context", pointer("@context", 0), `@context must be an array starting with ${VC_V2_CONTEXT}, not ${JSON.stringify(ctx[0])}`);
    ctx.forEach((entry, i) => {
      if (i > 0 && !isUrl(entry) && !isObject(entry)) fail("context", pointer("@context", i), `a @context entry must be a URL or a context object, not ${JSON.stringify(entry)}`);
    });
  }

  if ("id" in c && !isUrl(c.id)) fail("id", "/id", `the credential's id must be one URL, not ${JSON.stringify(c.id)}`);

  const type = c.type;
  const types = typeof type === "string" ? [type] : Array.isArray(type) ? type : undefined;
  if (types === undefined) fail("type", "/type", "type is required: a string or an array of strings including VerifiableCredential");
  else {
    types.forEach((t, i) => {
      if (typeof t !== "string" || t === "") fail("type", typeof type === "string" ? "/type" : pointer("type", i), `a type is a non-empty string, not ${JSON.stringify(t)}`);
    });
    if (!types.includes("VerifiableCredential")) fail("type", "/type", "type must include VerifiableCredential");
  }

  checkNames(c, "", fail);

  const issuer = c.issuer;
  if (issuer === undefined) fail("issuer", "/issuer", "issuer is required");
  else if (isObject(issuer)) {
    if (!isUrl(issuer.id)) fail("issuer", "/issuer/id", `an issuer object's id must be a URL, not ${JSON.stringify(issuer.id)}`);
    checkNames(issuer, "/issuer", fail);
  } else if (!isUrl(issuer)) fail("issuer", "/issuer", `issuer must be a URL or an object with a URL id, not ${JSON.stringify(issuer)}`);

  const subject = c.credentialSubject;
  const subjects = isObject(subject) ? [subject] : Array.isArray(subject) ? subject : undefined;
  if (subjects === undefined || subjects.length === 0) fail("credential-subject", "/credentialSubject", "credentialSubject is required: an object, or an array of objects, with claims");
  else
    subjects.forEach((s, i) => {
      const path = Array.isArray(subject) ? pointer("credentialSubject", i) : "/credentialSubject";
      if (!isObject(s)) fail("credential-subject", path, `a credential subject is an object, not ${JSON.stringify(s)}`);
      else {
        if (Object.keys(s).length === 0) fail("credential-subject", path, "a credential subject makes at least one claim");
        if ("id" in s && !isUrl(s.id)) fail("subject-id", `${path}/id`, `a subject's id must be one URL, not ${JSON.stringify(s.id)}`);
      }
    });

  const from = c.validFrom === undefined ? undefined : parseDateTimeStamp(c.validFrom);
  const until = c.validUntil === undefined ? undefined : parseDateTimeStamp(c.validUntil);
  for (const [field, value] of [["validFrom", from], ["validUntil", until]] as const)
    if (c[field] !== undefined && value === undefined)
      fail("date-time", `/${field}`, `${field} must be an XML Schema dateTimeStamp (e.g. 2025-01-31T12:00:00Z), not ${JSON.stringify(c[field])}`);
  if (from !== undefined && until !== undefined && until < from) fail("validity-period", "/validUntil", `validUntil ${String(c.validUntil)} is before validFrom ${String(c.validFrom)}`);

  for (const [property, { idRequired }] of Object.entries(TYPED_PROPERTIES)) {
    const value = c[property];
    if (value === undefined) continue;
    const entries = Array.isArray(value) ? value : [value];
    if (entries.length === 0) fail("typed-object", `/${property}`, `${property} must be an object or a non-empty array of objects`);
    entries.forEach((e, i) => {
      const path = Array.isArray(value) ? pointer(property, i) : `/${property}`;
      if (!isObject(e)) return fail("typed-object", path, `a ${property} entry is an object, not ${JSON.stringify(e)}`);
      const t = e.type;
      const ok = typeof t === "string" ? t !== "" : Array.isArray(t) && t.length > 0 && t.every((x) => typeof x === "string" && x !== "");
      if (!ok) fail("typed-object", `${path}/type`, `a ${property} entry must have a type`);
      if (idRequired && e.id === undefined) fail("typed-object", `${path}/id`, `a ${property} entry must have an id URL`);
      else if (e.id !== undefined && !isUrl(e.id)) fail("typed-object", `${path}/id`, `a ${property} entry's id must be a URL, not ${JSON.stringify(e.id)}`);
    });
  }
  return out;
}

/** name and description of `o` (the credential, or its issuer): strings or language value objects. */
function checkNames(o: Record<string, unknown>, at: string, fail: (rule: DataModelRule, path: string, message: string) => void): void {
  for (const field of ["name", "description"]) {
    const v = o[field];
    if (v === undefined || typeof v === "string") continue;
    const values = Array.isArray(v) ? v : [v];
    values.forEach((lv, i) => {
      const path = Array.isArray(v) ? `${at}/${field}/${i}` : `${at}/${field}`;
      if (typeof lv === "string") return;
      if (!isObject(lv)) return fail("name", path, `${field} must be a string or a language value object, not ${JSON.stringify(lv)}`);
      const extra = Object.keys(lv).filter((k) => !["@value", "@language", "@direction"].includes(k));
      if (extra.length > 0) fail("language-value", path, `a language value object has only @value, @language and @direction; ${extra.join(", ")} is not allowed`);
      if (typeof lv["@value"] !== "string") fail("language-value", `${path}/@value`, "a language value object needs a string @value");
      if (lv["@language"] !== undefined && (typeof lv["@language"] !== "string" || !/^[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*$/.test(lv["@language"])))
        fail("language-value", `${path}/@language`, `@language must be a BCP 47 language tag, not ${JSON.stringify(lv["@language"])}`);
      if (lv["@direction"] !== undefined && lv["@direction"] !== "ltr" && lv["@direction"] !== "rtl")
        fail("language-value", `${path}/@direction`, `@direction is "ltr" or "rtl", not ${JSON.stringify(lv["@direction"])}`);
    });
  }
}
