/**
 * The EPCIS XML binding (lib/epcis/xml.ts) against GS1's material: every XML example of the hash
 * reference hashes to its reference value and to its JSON twin's; every XML example document either
 * reads into a document the EPCIS JSON Schema accepts, or is refused naming why; XML written back
 * reads to the same hashes; hostile XML (DTDs, entities, depth, size, event count) is refused.
 */
import { execSync } from "node:child_process";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { documentEventHashes } from "../../../lib/epcis/event-hash.ts";
import { createEpcisValidator } from "../../../lib/epcis/validate.ts";
import { EpcisXmlError, epcisXmlOf, parseEpcisXml } from "../../../lib/epcis/xml.ts";
import { NOT_CAPTURABLE, REFERENCE_XML_QUIRKS } from "../../helpers/epcis-xml-fixtures.ts";

const FIXTURES = fileURLToPath(new URL("../../../../shared/fixtures/epcis/", import.meta.url));
const EXAMPLES = `${FIXTURES}event-hash/examples/`;
const read = (p: string) => readFileSync(p, "utf8");
const hashesOf = (doc: unknown) => documentEventHashes(doc).map((h) => h.hashId);
const validator = createEpcisValidator({ schemaPath: `${FIXTURES}EPCIS-JSON-Schema.json` });


describe("XML twins of GS1's hash reference", () => {
  const xmls = readdirSync(EXAMPLES).filter((f) => f.endsWith(".xml")).sort();
  it("has the 17 XML examples", () => expect(xmls).toHaveLength(17));

  for (const f of xmls) {
    const name = f.slice(0, -4);
    it(`${name}: hashes equal the reference, and the JSON twin's`, () => {
      const refusal = NOT_CAPTURABLE[`event-hash/examples/${f}`];
      if (refusal) {
        expect(() => parseEpcisXml(read(EXAMPLES + f))).toThrow(refusal);
        return;
      }
      const got = hashesOf(parseEpcisXml(read(EXAMPLES + f)));
      const expected = read(`${EXAMPLES}${name}.hashes`).split("\n").filter((l) => l !== "");
      expect(got).toHaveLength(expected.length);
      got.forEach((h, i) => expect(h === expected[i], `${name}#${i}`).toBe(!REFERENCE_XML_QUIRKS.has(`${name}#${i}`)));
      if (existsSync(`${EXAMPLES}${name}.jsonld`)) expect(got).toEqual(hashesOf(JSON.parse(read(`${EXAMPLES}${name}.jsonld`))));
    });
  }
});

describe("GS1's XML example documents (EPCIS 2.0, and 1.2 from the XSLT's examples)", () => {
  const files = execSync(`find ${FIXTURES}XML ${FIXTURES}XSL/1.2/XML -name '*.xml'`).toString().trim().split("\n").map((f) => f.slice(FIXTURES.length)).sort();
  it("finds them", () => expect(files.length).toBeGreaterThanOrEqual(40));

  for (const f of files) {
    it(`${f}: read, valid, written back to the same hashes, or refused naming why`, () => {
      let doc: Record<string, unknown>;
      try {
        doc = parseEpcisXml(read(FIXTURES + f));
      } catch (e) {
        expect(e).toBeInstanceOf(EpcisXmlError);
        expect(NOT_CAPTURABLE[f], `${f}: ${(e as Error).message}`).toBeDefined();
        expect((e as Error).message).toMatch(NOT_CAPTURABLE[f]!);
        return;
      }
      const v = validator.validate(doc);
      if (NOT_CAPTURABLE[f]) expect(v.errors.map((x) => `${x.path} ${x.message}`).join("; ")).toMatch(NOT_CAPTURABLE[f]);
      else expect(v.errors).toEqual([]);
      expect(hashesOf(parseEpcisXml(epcisXmlOf(doc)))).toEqual(hashesOf(doc));
    });
  }

  it("EPCIS 1.2 and 2.0 spellings of the same events hash the same (GS1's 1.2 examples and their 2.0 conversions)", () => {
    for (const t of ["ObjectEvent", "AggregationEvent", "TransformationEvent"]) {
      const v12 = parseEpcisXml(read(`${FIXTURES}XSL/1.2/XML/${t}.xml`));
      expect((v12["epcisBody"] as { eventList: unknown[] }).eventList.length).toBeGreaterThan(0);
      expect(hashesOf(v12).every((h) => h.startsWith("ni:///sha-256;"))).toBe(true);
    }
    expect(hashesOf(parseEpcisXml(read(`${FIXTURES}XSL/1.2/XML/ObjectEvent.xml`)))).toEqual(hashesOf(parseEpcisXml(read(`${FIXTURES}XML/Example_9.6.1-ObjectEvent-2020_06_18a.xml`))));
  });

  it("the same event in XML (several spellings) and JSON has one eventID hash", () => {
    const dir = `${FIXTURES}XML/WithEventHashID/`;
    const json = hashesOf(JSON.parse(read(`${dir}event_with_identical_hash_id_7.json`)));
    for (const n of [1, 3, 4, 5, 6]) expect(hashesOf(parseEpcisXml(read(`${dir}event_with_identical_hash_id_${n}.xml`))), `#${n}`).toEqual(json);
    // #2 moves the event to another time zone offset, which the hash covers.
    expect(hashesOf(parseEpcisXml(read(`${dir}event_with_identical_hash_id_2.xml`)))).not.toEqual(json);
  });
});

describe("the JSON-LD form read from XML", () => {
  const doc = parseEpcisXml(read(`${FIXTURES}XML/WithEventHashID/event_with_identical_hash_id_1.xml`));
  const event = (doc["epcisBody"] as { eventList: Record<string, unknown>[] }).eventList[0]!;
  it("declares extension namespaces, types typed values, writes CBV values in the JSON spelling", () => {
    expect(doc["@context"]).toContainEqual({ ext1: "http://example.com/ext1" });
    expect(event["ext1:int"]).toBe(10);
    expect(event["ext1:float"]).toBe(20);
    expect(event["ext1:default"]).toBe("stringAsDefaultValue");
    expect(event["bizStep"]).toBe("receiving");
    expect(event["quantityList"]).toEqual([
      { epcClass: "urn:epc:class:lgtin:4012345.012345.998877", quantity: 200, uom: "KGM" },
      { epcClass: "urn:epc:class:lgtin:4012345.012345.998876", quantity: 300, uom: "KGM" },
    ]);
    const sensor = (event["sensorElementList"] as Record<string, unknown>[])[0]!;
    expect((sensor["sensorReport"] as Record<string, unknown>[])[0]).toMatchObject({ value: 26, booleanValue: true, sDev: 0.1, "ext1:someFurtherReportData": "someText" });
  });
  it("keeps error declarations and certification info", () => {
    const d = parseEpcisXml(read(`${EXAMPLES}epcisDocWithXMLstartTagAndErrorDeclaration.xml`));
    expect(JSON.stringify(d)).toContain("errorDeclaration");
    const c = parseEpcisXml(read(`${EXAMPLES}CertificationInfoAndSensorReportWithCRS.xml`));
    expect(JSON.stringify(c)).toContain("certificationInfo");
  });
});

describe("hostile or malformed XML is refused naming what is wrong", () => {
  const wrap = (events: string, extra = "") =>
    `<?xml version="1.0"?>${extra}<epcis:EPCISDocument xmlns:epcis="urn:epcglobal:epcis:xsd:2" schemaVersion="2.0" creationDate="2024-01-01T00:00:00Z"><EPCISBody><EventList>${events}</EventList></EPCISBody></epcis:EPCISDocument>`;
  const ok = "<ObjectEvent><eventTime>2024-01-01T00:00:00Z</eventTime><eventTimeZoneOffset>+00:00</eventTimeZoneOffset><epcList><epc>urn:epc:id:sgtin:4012345.011111.1</epc></epcList><action>OBSERVE</action></ObjectEvent>";
  const refused = (xml: string, limits = {}) => {
    try {
      parseEpcisXml(xml, limits);
    } catch (e) {
      expect(e).toBeInstanceOf(EpcisXmlError);
      return (e as EpcisXmlError).errors[0]!;
    }
    throw new Error("not refused");
  };
  it("reads a minimal document", () => expect(hashesOf(parseEpcisXml(wrap(ok)))).toHaveLength(1));
  it("an external entity (XXE) or an internal subset", () => {
    expect(refused(wrap(ok, '<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>')).message).toMatch(/DTD/);
    expect(refused(wrap(ok, '<!DOCTYPE x SYSTEM "http://127.0.0.1/x.dtd">')).message).toMatch(/DTD/);
    expect(refused(wrap(ok.replace("OBSERVE", "&e;"))).message).toMatch(/not well-formed/);
  });
  it("a bare DOCTYPE (as in GS1's examples) is harmless", () => expect(hashesOf(parseEpcisXml(wrap(ok, "<!DOCTYPE project>")))).toHaveLength(1));
  it("size, events and depth limits", () => {
    expect(refused(wrap(ok), { maxBytes: 100 }).message).toMatch(/at most 100/);
    expect(refused(wrap(ok + ok + ok), { maxEvents: 2 }).message).toMatch(/more than 2 events/);
    const deep = `<x:a xmlns:x="urn:x">${"<x:b>".repeat(40)}v${"</x:b>".repeat(40)}</x:a>`;
    expect(refused(wrap(ok.replace("</ObjectEvent>", `${deep}</ObjectEvent>`))).message).toMatch(/nested \d+ deep/);
  });
  it("names the element: unknown, missing, not a number, not well-formed", () => {
    expect(refused(wrap(ok.replace("<action>", "<bogus>1</bogus><action>")))).toEqual({ path: "/EPCISDocument/EPCISBody/EventList/ObjectEvent/bogus", message: '"bogus" is not an element of ObjectEvent' });
    expect(refused(wrap(ok.replace("<action>OBSERVE</action>", "")))).toEqual({ path: "/EPCISDocument/EPCISBody/EventList/ObjectEvent", message: "ObjectEvent has no action" });
    expect(refused(wrap(ok + ok.replace("</epcList>", "</epcList><quantityList><quantityElement><epcClass>urn:epc:class:lgtin:4012345.011111.1</epcClass><quantity>lots</quantity></quantityElement></quantityList>"))).path).toBe(
      "/EPCISDocument/EPCISBody/EventList/ObjectEvent[2]/quantityList/quantityElement/quantity",
    );
    expect(refused(wrap(ok).replace("</EventList>", "</EventLis>")).message).toMatch(/not well-formed/);
    expect(refused("<foo/>").message).toMatch(/not an EPCIS document/);
  });
});
