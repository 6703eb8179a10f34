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

/** A lot quantity on its way in, with the GLNs a receipt of it may name as its sender. */
export interface IncomingLotAnswer extends LotInTransitAnswer {
  /**
   * The sender organisation's party GLNs (13 digits) in this node's directory of parties (member
   * config `parties`), the directory capture resolves a receipt's sender with. Empty where it
   * names none; the receiver types the GLN from the dispatch document.
   */
  fromParties: string[];
}

export interface MyLotsAnswer {
  organisation: OrganisationRef;
  /** Quantity on hand per lot (not counting what is in transit). */
  holdings: LotQuantityAnswer[];
  /** Shipped to the organisation and not yet received. */
  incoming: IncomingLotAnswer[];
  /** Shipped by the organisation and not yet received (or withdrawn). */
  outgoing: LotInTransitAnswer[];
}
