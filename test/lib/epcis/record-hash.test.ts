/**
 * The record hash (lib/epcis/record-hash.ts): the bytes32 an event's record carries on chain, and
 * that every component recomputing it (capture, recorder, receiver, p2p documents, trace route,
 * explorer badge) gets the same value through the one function.
 */
import { describe, expect, it } from "vitest";
import { errorDeclarationHash } from "../../../lib/epcis/declaration.ts";
import { eventHash } from "../../../lib/epcis/event-hash.ts";
import { isErrorDeclaration, recordHashOf, recordIdentityOf } from "../../../lib/epcis/record-hash.ts";
import { computeEventDigest } from "../../../explorer/src/verify-event.ts";
import { documentRecordHashes } from "../../../node/events/capture.ts";
import { identitiesOf } from "../../../node/p2p/documents.ts";

const EPCIS = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld";
const TM = { tm: "https://tracemesh.example/ns#" };

const shipping = {
  type: "ObjectEvent",
  action: "OBSERVE",
  bizStep: "shipping",
  eventTime: "2024-05-01T10:00:00.000+02:00",
  eventTimeZoneOffset: "+02:00",
  epcList: ["urn:epc:id:sgtin:0614141.107346.2017"],
  "tm:note": "dock 4",
};
const declaring = {
  ...shipping,
  errorDeclaration: { declarationTime: "2024-05-02T09:00:00+02:00", reason: "incorrect_data", correctiveEventIDs: ["urn:uuid:a"] },
};
const context = [EPCIS, TM];

describe("recordHashOf", () => {
  it("is the CBV 2.0 event hash digest of an ordinary event", () => {
    expect(recordHashOf(shipping, { context })).toBe(eventHash(shipping, { context }).digest);
    expect(isErrorDeclaration(shipping)).toBe(false);
  });

  it("is the declaration hash of an error declaration, not the hash of the event it declares wrong", () => {
    expect(isErrorDeclaration(declaring)).toBe(true);
    expect(recordHashOf(declaring, { context })).toBe(errorDeclarationHash(declaring, { context }));
    expect(recordHashOf(declaring, { context })).not.toBe(recordHashOf(shipping, { context }));
  });

  it("reads prefixed members with the document's @context", () => {
    const other = [EPCIS, { tm: "https://elsewhere.example/ns#" }];
    expect(recordHashOf(shipping, { context })).not.toBe(recordHashOf(shipping, { context: other }));
    expect(recordHashOf(declaring, { context })).not.toBe(recordHashOf(declaring, { context: other }));
  });

  it("refuses what is not an event, and a declaration without a readable time", () => {
    expect(() => recordHashOf("not an event")).toThrow();
    expect(() => recordHashOf({ ...shipping, errorDeclaration: { declarationTime: "soon" } })).toThrow(/declarationTime/);
  });
});

describe("recordIdentityOf", () => {
  it("keeps the CBV hash ID of a declaration (the declared event's) beside its own record hash", () => {
    const id = recordIdentityOf(declaring, { context }, 3);
    const cbv = eventHash(shipping, { context });
    expect(id.hashId).toBe(cbv.hashId);
    expect(id.digest).toBe(cbv.digest);
    expect(id.index).toBe(3);
    expect(id.recordHash).toBe(recordHashOf(declaring, { context }));
    expect(recordIdentityOf(shipping, { context }).recordHash).toBe(cbv.digest);
  });
});

describe("every component computes the same record hash", () => {
  const doc = { "@context": context, type: "EPCISDocument", schemaVersion: "2.0", creationDate: "2024-05-02T10:00:00Z", epcisBody: { eventList: [shipping, declaring] } };
  const expected = [recordHashOf(shipping, { context }), recordHashOf(declaring, { context })];

  it("capture, p2p documents and the explorer badge agree with recordHashOf", () => {
    expect(documentRecordHashes(doc)).toEqual(expected);
    expect([shipping, declaring].map((event) => identitiesOf({ event, context }).recordHash)).toEqual(expected);
    expect([shipping, declaring].map((event) => computeEventDigest({ ...event, "@context": context }))).toEqual(expected);
  });
});
