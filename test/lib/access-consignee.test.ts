/**
 * lib/access.ts: the consignee of a shipment reads that shipment's shipping document, and nothing
 * more through that right: not another organisation, not the items' earlier events, not after the
 * shipment was cancelled, never an anonymous caller. The checker here answers "no grant" always,
 * so every "allowed" comes from the consignee rule alone.
 */
import { describe, expect, it } from "vitest";
import { type AccessChecker, type ShipmentSource, type ShippedItem, describeDecision, mayReadEvent } from "../../lib/access.ts";
import { RecordKind } from "../../lib/registry.ts";

const SENDER = 3;
const CONSIGNEE = 4;
const THIRD = 5;
const SHIP_HASH = "0x" + "51".repeat(32);
const EARLIER_HASH = "0x" + "c0".repeat(32);
const [A, B, OTHER] = ["0x" + "0a".repeat(32), "0x" + "0b".repeat(32), "0x" + "0f".repeat(32)];

/** No grants at all: whatever is allowed comes from the consignee rule. */
const noGrants: AccessChecker = {
  isAllowed: async () => false,
  isAllowedAt: async () => false,
  grantKind: async () => undefined,
};

/** The chain index as the rule sees it: the ship record of SHIP_HASH by SENDER shipped `items`. */
const index = (items: ShippedItem[]): ShipmentSource => ({
  shippedByRecord: async (hash, owner) => (hash === SHIP_HASH && owner === SENDER ? items : []),
});

const shippingDoc = (shipments: ShipmentSource, subjects = [A, B], recordHash = SHIP_HASH) => ({
  subjects: subjects.map((key) => ({ key })),
  recordKind: RecordKind.Ship,
  shipping: { recordHash, shipments },
});

describe("lib/access: the consignee of a shipment", () => {
  const inTransit = index([
    { item: A, to: CONSIGNEE, state: "in-transit" },
    { item: B, to: CONSIGNEE, state: "in-transit" },
  ]);

  it("reads the shipping document that names the items shipped to it", async () => {
    const d = await mayReadEvent(noGrants, CONSIGNEE, SENDER, shippingDoc(inTransit));
    expect(d).toEqual({ allowed: true, via: "consignee" });
    expect(describeDecision(d)).toBe("consignee of the shipment");
    // Received, it keeps the document that came with the goods.
    const received = index([
      { item: A, to: CONSIGNEE, state: "received" },
      { item: B, to: CONSIGNEE, state: "received" },
    ]);
    expect(await mayReadEvent(noGrants, CONSIGNEE, SENDER, shippingDoc(received))).toEqual({ allowed: true, via: "consignee" });
  });

  it("gives a third member, an anonymous caller and a rule without the index nothing", async () => {
    expect(await mayReadEvent(noGrants, THIRD, SENDER, shippingDoc(inTransit))).toEqual({ allowed: false });
    expect(await mayReadEvent(noGrants, 0, SENDER, shippingDoc(inTransit))).toEqual({ allowed: false });
    // Anonymous even where the index (wrongly) recorded organisation 0 as the consignee.
    expect(await mayReadEvent(noGrants, 0, SENDER, shippingDoc(index([{ item: A, to: 0, state: "in-transit" }]), [A]))).toEqual({ allowed: false });
    expect(await mayReadEvent(noGrants, CONSIGNEE, SENDER, { subjects: [{ key: A }, { key: B }], recordKind: RecordKind.Ship })).toEqual({ allowed: false });
  });

  it("does not reach the items' earlier events, another owner's record, or a document naming more than was shipped", async () => {
    // The items' commissioning by the sender: a record that shipped nothing.
    expect(await mayReadEvent(noGrants, CONSIGNEE, SENDER, shippingDoc(inTransit, [A], EARLIER_HASH))).toEqual({ allowed: false });
    // The same hash recorded by another organisation is that organisation's document, not the shipment's.
    expect(await mayReadEvent(noGrants, CONSIGNEE, THIRD, shippingDoc(inTransit))).toEqual({ allowed: false });
    // A document that also names an item not shipped to the consignee would disclose it: refused.
    expect(await mayReadEvent(noGrants, CONSIGNEE, SENDER, shippingDoc(inTransit, [A, OTHER]))).toEqual({ allowed: false });
    // One record shipping A to the consignee and B to a third member: neither reads the whole document.
    const split = index([
      { item: A, to: CONSIGNEE, state: "in-transit" },
      { item: B, to: THIRD, state: "in-transit" },
    ]);
    expect(await mayReadEvent(noGrants, CONSIGNEE, SENDER, shippingDoc(split))).toEqual({ allowed: false });
    expect(await mayReadEvent(noGrants, THIRD, SENDER, shippingDoc(split))).toEqual({ allowed: false });
  });

  it("loses the document once the shipment is cancelled, even in part", async () => {
    const cancelled = index([
      { item: A, to: CONSIGNEE, state: "cancelled" },
      { item: B, to: CONSIGNEE, state: "cancelled" },
    ]);
    expect(await mayReadEvent(noGrants, CONSIGNEE, SENDER, shippingDoc(cancelled))).toEqual({ allowed: false });
    const partly = index([
      { item: A, to: CONSIGNEE, state: "in-transit" },
      { item: B, to: CONSIGNEE, state: "cancelled" },
    ]);
    expect(await mayReadEvent(noGrants, CONSIGNEE, SENDER, shippingDoc(partly))).toEqual({ allowed: false });
    // What is still shipped to it stays readable in a document naming only that.
    expect(await mayReadEvent(noGrants, CONSIGNEE, SENDER, shippingDoc(partly, [A]))).toEqual({ allowed: true, via: "consignee" });
  });
});
