/**
 * The lib/epcis pieces capture relies on: the error declaration hash, the subjects of an event
 * (indexing and visibility), reading bindings, and offline JSON-LD contexts.
 */
import { createHash } from "node:crypto";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { OfflineContexts } from "../../../lib/epcis/contexts.ts";
import { declarationPreHash, errorDeclarationHash } from "../../../lib/epcis/declaration.ts";
import { eventHash, eventPreHash } from "../../../lib/epcis/event-hash.ts";
import { toEpcisEvent } from "../../../lib/epcis/events.ts";
import { ReadingBindingError, readingBindingsOf } from "../../../lib/epcis/readings.ts";
import { canonicalEpcValue, epcClassOf, subjectsOf } from "../../../lib/epcis/subjects.ts";
import { batchKey, canonicalIdentifier, itemKey } from "../../../lib/identifiers/canonical.ts";

const CONTEXT_FILE = fileURLToPath(new URL("../../../../shared/fixtures/epcis/epcis-context.jsonld", import.meta.url));
const EPCIS = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld";

const shipping = {
  type: "ObjectEvent",
  action: "OBSERVE",
  bizStep: "shipping",
  eventTime: "2024-05-01T10:00:00.000+02:00",
  eventTimeZoneOffset: "+02:00",
  epcList: ["urn:epc:id:sgtin:0614141.107346.2017"],
};

describe("error declaration hash", () => {
  const declaring = {
    ...shipping,
    errorDeclaration: { declarationTime: "2024-05-02T09:00:00+02:00", reason: "incorrect_data", correctiveEventIDs: ["urn:uuid:b", "urn:uuid:a"] },
  };

  it("extends the event's CBV pre-hash with the declaration, so it differs from the declared event's hash", () => {
    expect(eventHash(declaring).digest).toBe(eventHash(shipping).digest); // the CBV hash leaves errorDeclaration out
    const pre = declarationPreHash(declaring);
    expect(pre).toBe(
      eventPreHash(shipping) +
        "errorDeclarationdeclarationTime=2024-05-02T07:00:00.000Zreason=https://ref.gs1.org/cbv/ER-incorrect_datacorrectiveEventID=urn:uuid:acorrectiveEventID=urn:uuid:b",
    );
    expect(errorDeclarationHash(declaring)).toBe("0x" + createHash("sha256").update(pre).digest("hex"));
    expect(errorDeclarationHash(declaring)).not.toBe(eventHash(shipping).digest);
  });

  it("tells two declarations of one event apart, and ignores the order of corrective IDs", () => {
    const later = { ...declaring, errorDeclaration: { ...declaring.errorDeclaration, declarationTime: "2024-05-03T09:00:00+02:00" } };
    expect(errorDeclarationHash(later)).not.toBe(errorDeclarationHash(declaring));
    const reordered = { ...declaring, errorDeclaration: { ...declaring.errorDeclaration, correctiveEventIDs: ["urn:uuid:a", "urn:uuid:b"] } };
    expect(errorDeclarationHash(reordered)).toBe(errorDeclarationHash(declaring));
  });

  it("refuses an event without a declaration or with an unreadable declaration time", () => {
    expect(() => errorDeclarationHash(shipping)).toThrow(/no errorDeclaration/);
    expect(() => errorDeclarationHash({ ...shipping, errorDeclaration: { declarationTime: "soon" } })).toThrow(/declarationTime/);
  });
});

describe("subjects of an event", () => {
  it("names EPCs by role in one spelling, their classes, and the keys of items and lots", () => {
    const t = toEpcisEvent({
      type: "TransformationEvent",
      eventTime: "2024-05-01T10:00:00Z",
      eventTimeZoneOffset: "+00:00",
      inputEPCList: ["urn:epc:id:sgtin:4012345.011111.B1", "https://example.com/01/04012345111118/21/B1"],
      outputEPCList: ["urn:epc:id:sgtin:4012345.022222.C1"],
      inputQuantityList: [{ epcClass: "urn:epc:class:lgtin:4012345.011111.HEAT-42", quantity: 2, uom: "KGM" }],
    });
    const s = subjectsOf(t);
    expect(s.epcs.input).toEqual([canonicalIdentifier("urn:epc:id:sgtin:4012345.011111.B1")]); // both spellings are one item
    expect(s.epcClasses.input).toEqual([canonicalIdentifier("urn:epc:idpat:sgtin:4012345.011111.*")]);
    expect(s.classes.inputClass).toEqual([canonicalIdentifier("urn:epc:class:lgtin:4012345.011111.HEAT-42")]);
    expect(s.itemKeys).toEqual([itemKey("urn:epc:id:sgtin:4012345.011111.B1"), itemKey("urn:epc:id:sgtin:4012345.022222.C1")]);
    expect(s.batchKeys).toEqual([batchKey("urn:epc:class:lgtin:4012345.011111.HEAT-42")]);
  });

  it("keeps private identifiers as written, with no class and no key", () => {
    expect(canonicalEpcValue(" https://example.com/asset/7 ")).toBe("https://example.com/asset/7");
    expect(epcClassOf("https://example.com/asset/7")).toBeUndefined();
    expect(epcClassOf("urn:epc:id:sscc:0614141.1234567890")).toBeUndefined();
    const s = subjectsOf(toEpcisEvent({ ...shipping, epcList: ["https://example.com/asset/7"] }));
    expect(s.epcs.epc).toEqual(["https://example.com/asset/7"]);
    expect(s.itemKeys).toEqual([]);
  });
});

describe("reading bindings", () => {
  const ctx = [EPCIS, { tm: "https://tracemesh.dev/ns/epcis/" }];

  it("reads event-level lists and sensor elements, under any prefix of the namespace", () => {
    const ev = {
      ...shipping,
      "tm:readings": [{ "tm:stream": ["a/x", "b/y"], "tm:startTime": "2024-05-01T10:00:00Z", "tm:endTime": "2024-05-01T10:05:00+00:00" }],
      sensorElementList: [{ sensorMetadata: { startTime: "2024-05-01T10:00:00Z", endTime: "2024-05-01T10:01:00Z", "tm:stream": "c/z" } }, { sensorMetadata: { time: "2024-05-01T10:00:00Z" } }],
    };
    const from = Date.parse("2024-05-01T10:00:00Z");
    expect(readingBindingsOf(ev, ctx)).toEqual([
      { stream: "a/x", from, to: from + 300_000, source: "event" },
      { stream: "b/y", from, to: from + 300_000, source: "event" },
      { stream: "c/z", from, to: from + 60_000, source: { sensorElement: 0 } },
    ]);
    const other = JSON.parse(JSON.stringify({ ...ev, sensorElementList: [] }).replace(/"tm:/g, '"proc:')) as Record<string, unknown>;
    expect(readingBindingsOf(other, [EPCIS, { proc: "https://tracemesh.dev/ns/epcis/" }])).toHaveLength(2);
    // Without the namespace declared, "tm:readings" is someone else's extension.
    expect(readingBindingsOf(ev, [EPCIS])).toEqual([]);
  });

  it("refuses malformed bindings with the reason", () => {
    const bad = (b: unknown) => () => readingBindingsOf({ ...shipping, "tm:readings": b }, ctx);
    expect(bad({})).toThrow(ReadingBindingError);
    expect(bad([{ "tm:stream": "a", "tm:startTime": "yesterday", "tm:endTime": "2024-05-01T10:00:00Z" }])).toThrow(/startTime/);
    expect(bad([{ "tm:stream": "a", "tm:startTime": "2024-05-01T10:00:00Z", "tm:endTime": "2024-05-01T09:00:00Z" }])).toThrow(/after startTime/);
    expect(bad([{ "tm:stream": [], "tm:startTime": "2024-05-01T10:00:00Z", "tm:endTime": "2024-05-01T11:00:00Z" }])).toThrow(/stream/);
  });
});

describe("offline JSON-LD contexts", () => {
  const contexts = OfflineContexts.load(CONTEXT_FILE);
  const doc = (context: unknown) => ({ "@context": context, type: "EPCISDocument", schemaVersion: "2.0", creationDate: "2024-05-01T10:00:00Z", epcisBody: { eventList: [shipping] } });

  it("resolves the EPCIS context under its published URLs, without the network", async () => {
    expect(await contexts.check(doc([EPCIS, { ex: "https://ns.example.com/" }]))).toEqual([]);
    expect(await contexts.check(doc(["https://gs1.github.io/EPCIS/epcis-context.jsonld"]))).toEqual([]);
  });

  it("refuses remote contexts it cannot resolve offline, also inside events, and malformed contexts", async () => {
    const remote = await contexts.check(doc([EPCIS, "https://evil.example.com/ctx.jsonld"]));
    expect(remote[0]!.message).toMatch(/evil\.example\.com.*cannot be resolved offline/);
    const inEvent = { ...doc([EPCIS]), epcisBody: { eventList: [{ ...shipping, "@context": "https://elsewhere.example.com/c" }] } };
    expect((await contexts.check(inEvent))[0]!.message).toMatch(/elsewhere\.example\.com/);
    expect((await contexts.check(doc([EPCIS, { ex: 42 }])))[0]!.message).toMatch(/not valid JSON-LD/);
  });

  it("names the file when the context is not installed", () => {
    expect(() => OfflineContexts.load("/nonexistent/epcis-context.jsonld")).toThrow(/TRACEMESH_EPCIS_CONTEXT/);
  });
});
