/** GET /workbench/lots: an organisation's lots held by quantity and its lot quantities in transit (types only). */
import type { OrganisationRef } from "./common.ts";

/** A quantity of one lot; quantities are decimal strings (whole numbers, possibly beyond 2^53). */
export interface LotQuantityAnswer {
  /** The lot's key on chain. */
  lot: string;
  /** Its GS1 Digital Link, where this node holds a document about it the caller may read; else null. */
  identifier: string | null;
  quantity: string;
  /** UN/ECE Rec 20 unit code, "" for a count. */
  unit: string;
}

export interface LotInTransitAnswer extends LotQuantityAnswer {
  from: OrganisationRef | null;
  to: OrganisationRef | null;
}

export interface MyLotsAnswer {
  organisation: OrganisationRef;
  /** Quantity on hand per lot (not counting what is in transit). */
  holdings: LotQuantityAnswer[];
  /** Shipped to the organisation and not yet received. */
  incoming: LotInTransitAnswer[];
  /** Shipped by the organisation and not yet received (or withdrawn). */
  outgoing: LotInTransitAnswer[];
}
