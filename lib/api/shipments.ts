/** GET /workbench/shipments: an organisation's shipments on their way in and out (types only). */
import type { OrganisationRef } from "./common.ts";

export interface ShippedItem {
  /** The item's key on chain. */
  key: string;
  /** Its GS1 Digital Link, where this node holds a document about it the caller may read; else null. */
  identifier: string | null;
  state: "in-transit" | "received" | "cancelled";
}

/** The items one ship record sent from one organisation to another. */
export interface ShipmentAnswer {
  /** The ship record (Provenance record id). */
  record: number;
  /** Unix s of the block that recorded it; null if the record is not indexed. */
  time: number | null;
  from: OrganisationRef | null;
  to: OrganisationRef | null;
  transfersOwnership: boolean;
  items: ShippedItem[];
  /** Items still in transit. */
  open: number;
}

export interface MyShipmentsAnswer {
  organisation: OrganisationRef;
  /** Shipped to the organisation, newest first. */
  incoming: ShipmentAnswer[];
  /** Shipped by the organisation, newest first. */
  outgoing: ShipmentAnswer[];
}
