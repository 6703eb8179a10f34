/** GET /workbench/items: an organisation's items, a page at a time (types only). */
import type { OrganisationRef } from "./common.ts";
import type { ItemAnswer } from "./trace.ts";

export interface MyItem {
  /** The item's GS1 Digital Link, as the organisation's event named it. */
  identifier: string;
  /** What the chain index says of it; null when the chain has not recorded it (yet). */
  chain: ItemAnswer | null;
}

export interface MyItemsAnswer {
  organisation: OrganisationRef;
  items: MyItem[];
  /** Items the search (q) leaves, before the status filter. */
  matching: number;
  /** Asks for the next page (same q, status and perPage); absent on the last page. */
  nextPageToken?: string;
}
