/**
 * The dispatch document that travels with a shipment: its number (the despatch advice the
 * shipping event names), the sender's and the consignee's GLNs, and the items, as CSV a person
 * can open. The consignee's workbench reads it back to receive the shipment (all of it, or what
 * arrived with the rest named as missing), so identifiers reach the receiver with the goods and no
 * grant on the sender's documents is needed to receive.
 */
import { parseDigitalLink } from "../identifiers/digital-link.ts";
import { IdentifierError } from "../identifiers/gs1-keys.ts";
import { glnFault, parseCsv } from "./sheet.ts";

export interface DispatchDocument {
  despatchAdvice: string;
  /** GLN of the sender. */
  from: string;
  /** GLN of the consignee. */
  to: string;
  /** Digital Links of the items shipped. */
  items: string[];
}

const HEADER = ["despatch_advice", "from", "to", "item"];

const quote = (v: string) => (/[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);

export function dispatchCsv(d: DispatchDocument): string {
  return [HEADER.join(","), ...d.items.map((i) => [d.despatchAdvice, d.from, d.to, i].map(quote).join(","))].join("\r\n") + "\r\n";
}

/** Reads a dispatch document; throws an Error naming the first thing wrong (row and what). */
export function readDispatch(text: string): DispatchDocument {
  const rows = parseCsv(text).filter((r) => r.some((c) => c.trim() !== ""));
  if (rows.length < 2 || rows[0]!.map((h) => h.trim().toLowerCase()).join(",") !== HEADER.join(","))
    throw new Error(`not a dispatch document: the first line must be ${HEADER.join(",")}, followed by one line per item`);
  const [, first] = rows;
  const [despatchAdvice, from, to] = first!.map((c) => c.trim());
  for (const [what, v] of [["from", from], ["to", to]] as const) {
    const fault = glnFault(v ?? "", what);
    if (fault) throw new Error(`dispatch document row 2: ${fault}`);
  }
  const items = rows.slice(1).map((r, i) => {
    const row = i + 2;
    if (r[0]?.trim() !== despatchAdvice || r[1]?.trim() !== from || r[2]?.trim() !== to) throw new Error(`dispatch document row ${row} belongs to another shipment`);
    const item = (r[3] ?? "").trim();
    try {
      parseDigitalLink(item);
    } catch (e) {
      if (e instanceof IdentifierError) throw new Error(`dispatch document row ${row}: ${e.message}`);
      throw e;
    }
    return item;
  });
  return { despatchAdvice: despatchAdvice ?? "", from: from!, to: to!, items };
}
