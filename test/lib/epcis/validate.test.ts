import { globSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import {
  DEFAULT_LIMITS,
  EpcisSchemaUnavailableError,
  createEpcisValidator,
  defaultSchemaPath,
  loadEpcisSchema,
} from "../../../lib/epcis/validate.ts";

const FIXTURES = new URL("../../../../shared/fixtures/epcis/", import.meta.url);
const SCHEMA_PATH = fileURLToPath(new URL("EPCIS-JSON-Schema.json", FIXTURES));
const schema = loadEpcisSchema(SCHEMA_PATH);
const validator = createEpcisValidator({ schema });
const read = (rel: string) => readFileSync(new URL(rel, FIXTURES), "utf8");

const example = JSON.parse(read("JSON/Example_9.6.1-ObjectEvent.jsonld")) as {
  epcisBody: { eventList: Record<string, unknown>[] };
} & Record<string, unknown>;
/** The first GS1 example with one change; returns the errors. */
const errorsAfter = (change: (doc: typeof example, ev: Record<string, unknown>) => void) => {
  const doc = structuredClone(example);
  change(doc, doc.epcisBody.eventList[0]!);
  const r = validator.validate(doc);
  expect(r.valid).toBe(false);
  return r.errors;
};

describe("the GS1 EPCIS 2.0 examples", () => {
  const files = globSync(fileURLToPath(new URL("JSON/**/*.jsonld", FIXTURES))).sort();

  it("finds all 47 documents with 56 events", () => {
    expect(files).toHaveLength(47);
    expect(files.reduce((n, f) => n + validator.validate(readFileSync(f, "utf8")).eventCount, 0)).toBe(56);
  });

  for (const f of files) {
    const name = f.slice(f.indexOf("/JSON/") + 1);
    it(`${name} is valid`, () => {
      const r = validator.validate(readFileSync(f, "utf8"));
      expect(r.errors).toEqual([]);
      expect(r.valid).toBe(true);
      expect(r.document).toEqual(JSON.parse(readFileSync(f, "utf8")));
    });
  }

  it("refuses the XML-derived JSON example that uses URN vocabulary, as GS1 intends", () => {
    const r = validator.validate(read("XML/WithEventHashID/event_with_identical_hash_id_7.json"));
    expect(r.valid).toBe(false);
    const paths = r.errors.map((e) => e.path);
    for (const p of ["bizStep", "disposition", "bizTransactionList/0/type", "sourceList/0/type", "destinationList/0/type", "persistentDisposition/set/0"])
      expect(paths, p).toContain(`/epcisBody/eventList/0/${p}`);
    expect(r.errors.find((e) => e.path === "/epcisBody/eventList/0/bizStep")!.message).toBe(
      'must not be an EPCIS 1.x URN or ns.gs1.org URI: write the bare CBV term (e.g. "shipping") or its CBV Web URI (https://ref.gs1.org/cbv/...) (got "urn:epcglobal:cbv:bizstep:receiving")',
    );
    // Every error is a URN value, and every URN value is an error (11 of them).
    expect(r.errors).toHaveLength(11);
    for (const e of r.errors) expect(e.message).toMatch(/^must not be an EPCIS 1\.x URN .*\(got "urn:epcglobal:cbv:/);
  });
});

describe("malformed documents are refused with a path and a plain message", () => {
  it("an event without type", () => {
    expect(errorsAfter((_, ev) => delete ev["type"])).toEqual([
      {
        path: "/epcisBody/eventList/0",
        message: 'event has no "type" (one of ObjectEvent, AggregationEvent, TransactionEvent, TransformationEvent, AssociationEvent)',
      },
    ]);
  });

  it("a document without type, or of another type", () => {
    expect(errorsAfter((doc) => delete doc["type"])).toEqual([
      { path: "/type", message: 'missing document "type": expected "EPCISDocument" or "EPCISQueryDocument"' },
    ]);
    expect(errorsAfter((doc) => (doc["type"] = "ObjectEvent"))).toEqual([
      { path: "/type", message: 'document "type" must be "EPCISDocument" or "EPCISQueryDocument" (got "ObjectEvent")' },
    ]);
  });

  it("an event time without a time zone, and a bad time zone offset", () => {
    expect(errorsAfter((_, ev) => (ev["eventTime"] = "2005-04-03T20:33:31"))).toEqual([
      {
        path: "/epcisBody/eventList/0/eventTime",
        message: 'must be a date and time with a UTC offset, e.g. 2024-05-01T12:00:00.000+02:00 (got "2005-04-03T20:33:31")',
      },
    ]);
    expect(errorsAfter((_, ev) => (ev["eventTimeZoneOffset"] = "+25:00"))).toEqual([
      { path: "/epcisBody/eventList/0/eventTimeZoneOffset", message: 'must be a UTC offset from -14:00 to +14:00 written like +02:00 (got "+25:00")' },
    ]);
  });

  it("an unknown event type", () => {
    expect(errorsAfter((_, ev) => (ev["type"] = "FooEvent"))).toEqual([
      {
        path: "/epcisBody/eventList/0/type",
        message:
          'unknown event type "FooEvent": expected one of ObjectEvent, AggregationEvent, TransactionEvent, TransformationEvent, AssociationEvent (an extension event type must be a URI)',
      },
    ]);
    expect(errorsAfter((_, ev) => (ev["type"] = 42))).toEqual([{ path: "/epcisBody/eventList/0/type", message: 'event "type" must be a string (got 42)' }]);
  });

  it("bad EPCs: not a URI, a malformed EPC URI, a wrong check digit", () => {
    expect(errorsAfter((_, ev) => ((ev["epcList"] as string[])[1] = "not an epc"))).toEqual([
      { path: "/epcisBody/eventList/0/epcList/1", message: 'must be an absolute URI (got "not an epc")' },
    ]);
    expect(errorsAfter((_, ev) => ((ev["epcList"] as string[])[0] = "urn:epc:id:sgtin:0614141.1073461.2017"))).toEqual([
      {
        path: "/epcisBody/eventList/0/epcList/0",
        message: 'invalid GS1 identifier: Indicator digit and item reference "1073461" has 7 digits; with a 7-digit company prefix it must have 6',
      },
    ]);
    expect(errorsAfter((_, ev) => ((ev["epcList"] as string[])[0] = "https://id.example.com/01/09506000134353/21/1"))).toEqual([
      { path: "/epcisBody/eventList/0/epcList/0", message: "invalid GS1 identifier: GTIN check digit is 3, expected 2 (in 09506000134353)" },
    ]);
    expect(errorsAfter((_, ev) => (ev["epcList"] = ["urn:epc:id:sgtin:0614141.107346.2017", "urn:epc:id:sgtin:0614141.107346.2017"]))).toEqual([
      { path: "/epcisBody/eventList/0/epcList", message: "lists the same value twice (items 0 and 1)" },
    ]);
    // Private identifiers that are not GS1 keys pass: EPCIS allows any URI.
    const doc = structuredClone(example);
    doc.epcisBody.eventList[0]!["epcList"] = ["urn:example:part:1", "https://parts.example.com/p/1"];
    expect(validator.validate(doc).errors).toEqual([]);
  });

  it("identifier checks reach parentID, child and output lists and quantity classes", () => {
    const agg = JSON.parse(read("JSON/Example_9.6.3-AggregationEvent.jsonld"));
    agg.epcisBody.eventList[0].parentID = "urn:epc:id:sscc:0614141.12345678";
    agg.epcisBody.eventList[0].childEPCs[0] = "https://x.example/01/10614141073465/21/1";
    const r = validator.validate(agg);
    expect(r.errors.map((e) => e.path)).toEqual(["/epcisBody/eventList/0/childEPCs/0", "/epcisBody/eventList/0/parentID"]);
    const tr = JSON.parse(read("JSON/Example_9.6.4-TransformationEvent.jsonld"));
    tr.epcisBody.eventList[0].inputQuantityList[0].epcClass = "urn:epc:class:lgtin:4012345.0111.LOT";
    expect(validator.validate(tr).errors.map((e) => e.path)).toEqual(["/epcisBody/eventList/0/inputQuantityList/0/epcClass"]);
    expect(createEpcisValidator({ schema, checkIdentifiers: false }).validate(tr).valid).toBe(true);
  });

  it("missing or wrong fields say which", () => {
    expect(errorsAfter((_, ev) => delete ev["action"])).toEqual([{ path: "/epcisBody/eventList/0", message: 'missing required field "action"' }]);
    expect(errorsAfter((_, ev) => (ev["action"] = "MOVE"))).toEqual([
      { path: "/epcisBody/eventList/0/action", message: 'must be one of "OBSERVE", "ADD", "DELETE" (got "MOVE")' },
    ]);
    expect(errorsAfter((_, ev) => (ev["foo"] = 1))).toEqual([
      {
        path: "/epcisBody/eventList/0",
        message: 'unknown field "foo": not a field of an ObjectEvent, and an extension field needs a namespace prefix declared in @context (e.g. "ex:foo")',
      },
    ]);
    expect(errorsAfter((doc) => delete doc["@context"])).toEqual([{ path: "", message: 'missing required field "@context"' }]);
    expect(errorsAfter((doc) => delete (doc.epcisBody as Record<string, unknown>)["eventList"])).toEqual([{ path: "/epcisBody", message: 'missing required field "eventList"' }]);
    expect(errorsAfter((_, ev) => (ev["type"] = "AggregationEvent"))).toEqual([
      {
        path: "/epcisBody/eventList/0",
        message: 'unknown field "epcList": not a field of an AggregationEvent, and an extension field needs a namespace prefix declared in @context (e.g. "ex:epcList")',
      },
      { path: "/epcisBody/eventList/0", message: 'needs at least one of "childEPCs", "childQuantityList" (or action "DELETE")' },
    ]);
    expect(errorsAfter((_, ev) => (ev["readPoint"] = "urn:epc:id:sgln:0614141.07346.1234"))).toEqual([
      { path: "/epcisBody/eventList/0/readPoint", message: 'must be an object (got "urn:epc:id:sgln:0614141.07346.1234")' },
    ]);
  });

  it("query documents are checked at their own event list", () => {
    const q = JSON.parse(read("JSON/EPCISQueryDocument.jsonld"));
    delete q.epcisBody.queryResults.resultsBody.eventList[1].eventTime;
    expect(validator.validate(q).errors).toEqual([
      { path: "/epcisBody/queryResults/resultsBody/eventList/1", message: 'missing required field "eventTime"' },
    ]);
  });

  it("text that is not JSON, or not an object", () => {
    expect(validator.validate("{bad json").errors[0]!.message).toMatch(/^not valid JSON: /);
    expect(validator.validate("[]").errors).toEqual([{ path: "", message: "an EPCIS document must be a JSON object (got [])" }]);
    expect(validator.validate(new TextEncoder().encode(read("JSON/Example_9.6.1-ObjectEvent.jsonld"))).valid).toBe(true);
    expect(validator.validate({ ...example, epcisBody: { eventList: [7] } }).errors).toEqual([
      { path: "/epcisBody/eventList/0", message: "an event must be a JSON object (got 7)" },
    ]);
  });
});

describe("limits", () => {
  it("has sensible defaults", () => {
    expect(DEFAULT_LIMITS).toEqual({ maxBytes: 8 * 1024 * 1024, maxEvents: 10_000, maxDepth: 32, maxErrors: 50 });
  });

  it("refuses documents over the size limit, as text and as objects", () => {
    const text = read("JSON/Example_9.6.1-ObjectEvent.jsonld");
    const bytes = Buffer.byteLength(text);
    const v = createEpcisValidator({ schema, maxBytes: bytes - 1 });
    expect(v.validate(text).errors).toEqual([{ path: "", message: `document is ${bytes} bytes; the limit is ${bytes - 1} bytes` }]);
    const asJson = Buffer.byteLength(JSON.stringify(JSON.parse(text)));
    expect(createEpcisValidator({ schema, maxBytes: asJson - 1 }).validate(JSON.parse(text)).errors[0]!.message).toBe(
      `document is ${asJson} bytes as JSON; the limit is ${asJson - 1} bytes`,
    );
    expect(createEpcisValidator({ schema, maxBytes: bytes }).validate(text).valid).toBe(true);
  });

  it("refuses too many events, and too deep nesting", () => {
    const doc = structuredClone(example);
    const v = createEpcisValidator({ schema, maxEvents: 1 });
    expect(v.validate(doc).errors).toEqual([{ path: "/epcisBody/eventList", message: "document has 2 events; the limit is 1 per document" }]);
    let deep: unknown = "x";
    for (let i = 0; i < 40; i++) deep = { "ex:n": deep };
    const d2 = structuredClone(example);
    d2.epcisBody.eventList[0]!["ex:deep"] = deep;
    expect(validator.validate(d2).errors).toEqual([{ path: "", message: "document nests deeper than 32 levels" }]);
  });

  it("reports at most maxErrors errors", () => {
    const doc = structuredClone(example);
    doc.epcisBody.eventList = Array.from({ length: 10 }, () => ({ type: "FooEvent" }));
    expect(createEpcisValidator({ schema, maxErrors: 3 }).validate(doc).errors).toHaveLength(3);
  });

  it("refuses nonsensical limits", () => {
    expect(() => createEpcisValidator({ schema, maxEvents: 0 })).toThrow("maxEvents must be a positive number (got 0)");
    expect(() => createEpcisValidator({ schema, maxBytes: Number.NaN })).toThrow(RangeError);
  });
});

describe("the schema comes from a local file, never the network", () => {
  const saved = process.env["TRACEMESH_EPCIS_SCHEMA"];
  afterEach(() => {
    if (saved === undefined) delete process.env["TRACEMESH_EPCIS_SCHEMA"];
    else process.env["TRACEMESH_EPCIS_SCHEMA"] = saved;
  });

  it("reads it from TRACEMESH_EPCIS_SCHEMA or from lib/epcis/schema/", () => {
    process.env["TRACEMESH_EPCIS_SCHEMA"] = SCHEMA_PATH;
    expect(defaultSchemaPath()).toBe(SCHEMA_PATH);
    expect(createEpcisValidator().validate(example).valid).toBe(true);
    delete process.env["TRACEMESH_EPCIS_SCHEMA"];
    expect(defaultSchemaPath()).toMatch(/lib\/epcis\/schema\/EPCIS-JSON-Schema\.json$/);
  });

  it("says where to put it when it is missing", () => {
    const missing = "/nonexistent/EPCIS-JSON-Schema.json";
    expect(() => loadEpcisSchema(missing)).toThrow(EpcisSchemaUnavailableError);
    expect(() => createEpcisValidator({ schemaPath: missing })).toThrow(
      /^EPCIS 2\.0 JSON Schema not readable at \/nonexistent\/EPCIS-JSON-Schema\.json \(.*\)\. Place GS1's EPCIS-JSON-Schema\.json there or set TRACEMESH_EPCIS_SCHEMA; see lib\/epcis\/schema\/README\.md\.$/,
    );
    expect(() => loadEpcisSchema(fileURLToPath(new URL("JSON/Example_9.6.1-ObjectEvent.jsonld", FIXTURES)))).toThrow(/the file is not a JSON Schema/);
  });
});
