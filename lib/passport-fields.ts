/**
 * The extra fields a maker may choose to show on an item's public passport (GET /passport/{id}),
 * beyond what is public on chain. Each is computed from the maker's own data by its member node:
 *
 * - productName, productDescription: the maker's EPCIS master data of the item's GTIN (EPCClass);
 * - productionDate: the commissioning event's ILMD productionDate, else the event's date;
 * - lot: the lot number (ILMD lotNumber, or the batch's own lot);
 * - countryOfOrigin: ILMD countryOfOrigin, else the product's master data.
 */
export const PASSPORT_FIELDS = ["productName", "productDescription", "productionDate", "lot", "countryOfOrigin"] as const;

export type PassportField = (typeof PASSPORT_FIELDS)[number];

export function isPassportField(v: unknown): v is PassportField {
  return typeof v === "string" && (PASSPORT_FIELDS as readonly string[]).includes(v);
}
