/**
 * Registering items from a spreadsheet: the template's columns, CSV parsing, row-by-row
 * validation with each fault named (GTIN check digit, serial per GS1 AI 21, lot per AI 10,
 * production date, location GLN, repeated serials), and the capture pages the valid rows become
 * (EPCIS commissioning documents from lib/epcis/builders.ts, sent to POST /capture one page at a
 * time). XLSX files are read into the same table of cells by read-excel-file (explorer and CLI).
 *
 * Nothing is captured while any row has a fault: a sheet is registered whole or not at all, so a
 * supplier never has to find out which half of a sheet went in.
 */
import readXlsx from "read-excel-file/universal";
import { commission, epcisDocument, sgtin } from "../epcis/builders.ts";
import { CSET82, DIGITS, IdentifierError, checkElement, gs1CheckDigit, hasValidCheckDigit } from "../identifiers/gs1-keys.ts";

/** The template's columns, in order; names are matched without regard to case, spaces or "_". */
export const SHEET_COLUMNS = ["gtin", "serial", "lot", "production_date", "location"] as const;
export type SheetColumn = (typeof SHEET_COLUMNS)[number];

/** A template with two example rows (GS1's prefix 952 for examples). */
export function templateCsv(): string {
  return [SHEET_COLUMNS.join(","), "09521002000214,C-0001,L2026-12,2026-12-01,9521002000016", "09521002000214,C-0002,L2026-12,2026-12-01,9521002000016"].join("\r\n") + "\r\n";
}

/** One cell as read from CSV or XLSX: text, a number, a date, a boolean or empty. */
export type Cell = string | number | boolean | Date | null | undefined;

/** A valid row, normalised: GTIN-14, serial, optional lot and date, location GLN. */
export interface SheetItem {
  /** The spreadsheet row number (1 is the header). */
  row: number;
  gtin: string;
  serial: string;
  lot?: string;
  productionDate?: string;
  location: string;
  /** The item's GS1 Digital Link (01 + 21). */
  id: string;
}

/**
 * Why a row (or the sheet) is refused, as a code with its parameters: the explorer words each
 * code in the reader's language (messages "wb.fault.<code>"); `message` says it in English.
 */
export const SHEET_FAULT_CODES = [
  "missingColumn", // column, columns
  "tooManyRows", // rows, max
  "noRows",
  "empty", // column
  "notDigits", // value
  "gtinLength", // value, length
  "gtinCheckDigit", // actual, expected
  "tooLong", // value, length, max
  "charset", // value, char
  "notDate", // value
  "notCalendarDate", // value
  "futureDate", // value
  "glnLength", // value
  "glnCheckDigit", // value
  "repeatedSerial", // serial, gtin, first
  "invalid", // message
] as const;
export type SheetFaultCode = (typeof SHEET_FAULT_CODES)[number];

/** What is wrong with one cell (or, with column undefined, with the sheet). */
export interface RowFault {
  row: number;
  column?: SheetColumn;
  value?: string;
  code: SheetFaultCode;
  params: Record<string, string | number>;
  /** The fault in English (the command line prints it). */
  message: string;
}

export interface CheckedSheet {
  items: SheetItem[];
  faults: RowFault[];
}

/** Parses CSV (RFC 4180: quoted fields, "" inside quotes, CRLF or LF; a leading BOM is dropped). */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = "";
  let quoted = false;
  const s = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (quoted) {
      if (c === '"' && s[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"' && field === "") quoted = true;
    else if (c === ",") {
      row.push(field);
      field = "";
    } else if (c === "\n" || c === "\r") {
      if (c === "\r" && s[i + 1] === "\n") i++;
      row.push(field);
      rows.push(row);
      row = [];
      field = "";
    } else field += c;
  }
  if (field !== "" || row.length > 0) rows.push([...row, field]);
  return rows;
}

/** The bytes start like a ZIP archive (an XLSX workbook is one). */
const isZip = (b: Uint8Array) => b[0] === 0x50 && b[1] === 0x4b && b[2] === 0x03 && b[3] === 0x04;

/**
 * The first sheet of an uploaded file as a table of cells: XLSX (recognised by its bytes) through
 * read-excel-file, anything else as UTF-8 CSV.
 */
export async function readSheetFile(bytes: Uint8Array): Promise<Cell[][]> {
  if (isZip(bytes)) {
    const copy = bytes.slice().buffer;
    const sheets = await readXlsx(copy);
    return (sheets[0]?.data ?? []) as Cell[][];
  }
  return parseCsv(new TextDecoder("utf-8", { fatal: false }).decode(bytes));
}

/** Cell text as the checks read it: numbers as plain digits (a GTIN typed into Excel is a number), dates as YYYY-MM-DD. */
export function cellText(c: Cell): string {
  if (c === null || c === undefined) return "";
  if (c instanceof Date) return Number.isNaN(c.getTime()) ? "" : c.toISOString().slice(0, 10);
  if (typeof c === "number") return Number.isInteger(c) ? BigInt(c).toString() : String(c);
  return String(c).trim();
}

const normalName = (h: string) => h.toLowerCase().replace(/[\s_-]+/g, "");

/** What is wrong with a GLN (13 digits, GS1 check digit): its fault code, or undefined when nothing is. */
function glnFaultCode(value: string): "empty" | "glnLength" | "glnCheckDigit" | undefined {
  if (value === "") return "empty";
  if (!/^\d{13}$/.test(value)) return "glnLength";
  if (!hasValidCheckDigit(value)) return "glnCheckDigit";
  return undefined;
}

/** What is wrong with a GLN (13 digits, GS1 check digit) given as `what`; undefined when nothing is. */
export function glnFault(value: string, what: string): string | undefined {
  const code = glnFaultCode(value);
  if (code === "empty") return `${what} is empty: a GLN of 13 digits`;
  if (code === "glnLength") return `${what} "${value}" is not a GLN of 13 digits`;
  if (code === "glnCheckDigit") return `${what} GLN ${value} has a wrong check digit`;
  return undefined;
}

/**
 * The code of what checkElement refused in a GTIN (AI 01), serial (21) or lot (10) cell, read
 * from the value with GS1's own rules; checkElement's English message stays the fault's message.
 */
function elementFaultCode(ai: string, value: string, message: string): Pick<RowFault, "code" | "params"> {
  if (ai === "01") {
    if (!DIGITS.test(value)) return { code: "notDigits", params: { value } };
    if (![8, 12, 13, 14].includes(value.length)) return { code: "gtinLength", params: { value, length: value.length } };
    const digits = value.padStart(14, "0");
    return { code: "gtinCheckDigit", params: { actual: Number(digits[13]), expected: gs1CheckDigit(digits.slice(0, 13)) } };
  }
  if (value.length > 20) return { code: "tooLong", params: { value, length: value.length, max: 20 } };
  const char = [...value].find((c) => !CSET82.test(c));
  if (char !== undefined) return { code: "charset", params: { value, char } };
  return { code: "invalid", params: { message } };
}

/** Where the sheet's header puts the template's `k`-th column (-1 when it has none). */
export function columnIndex(table: Cell[][], k: number): number {
  return (table[0] ?? []).map((h) => normalName(cellText(h))).indexOf(normalName(SHEET_COLUMNS[k]!));
}

/** A real calendar date, YYYY-MM-DD, not after today: the fault's code and English words, if any. */
function checkDate(value: string, today: string): { code: SheetFaultCode; message: string } | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  if (!m) return { code: "notDate", message: `"${value}" is not a date written YYYY-MM-DD` };
  const d = new Date(`${value}T00:00:00Z`);
  if (Number.isNaN(d.getTime()) || d.toISOString().slice(0, 10) !== value) return { code: "notCalendarDate", message: `${value} is not a calendar date` };
  if (value > today) return { code: "futureDate", message: `${value} is in the future` };
  return undefined;
}

/**
 * Checks every row of a sheet (header first) and returns the valid items and every fault found.
 * At most `maxRows` data rows are read (a larger sheet is one fault: split it).
 */
export function checkSheet(table: Cell[][], options: { today?: string; maxRows?: number } = {}): CheckedSheet {
  const today = options.today ?? new Date().toISOString().slice(0, 10);
  const maxRows = options.maxRows ?? 50_000;
  const faults: RowFault[] = [];
  const items: SheetItem[] = [];
  const header = (table[0] ?? []).map((h) => normalName(cellText(h)));
  const columnOf = new Map<SheetColumn, number>();
  for (const c of SHEET_COLUMNS) {
    const at = header.indexOf(normalName(c));
    if (at >= 0) columnOf.set(c, at);
  }
  for (const required of ["gtin", "serial", "location"] as const)
    if (!columnOf.has(required))
      faults.push({ row: 1, column: required, code: "missingColumn", params: { column: required, columns: SHEET_COLUMNS.join(", ") }, message: `the header has no "${required}" column (columns: ${SHEET_COLUMNS.join(", ")})` });
  if (faults.length > 0) return { items, faults };
  const body = table.slice(1);
  if (body.length > maxRows)
    return { items, faults: [{ row: maxRows + 2, code: "tooManyRows", params: { rows: body.length, max: maxRows }, message: `the sheet has ${body.length} rows; at most ${maxRows} are taken at once: split it` }] };

  const seen = new Map<string, number>();
  body.forEach((cells, i) => {
    const row = i + 2;
    const get = (c: SheetColumn) => (columnOf.has(c) ? cellText(cells[columnOf.get(c)!]) : "");
    if (SHEET_COLUMNS.every((c) => get(c) === "")) return; // blank line
    const before = faults.length;
    const fault = (column: SheetColumn, value: string, code: SheetFaultCode, params: RowFault["params"], message: string) => faults.push({ row, column, value, code, params, message });
    const element = (column: SheetColumn, ai: string, value: string): string | undefined => {
      if (value === "") return void fault(column, value, "empty", { column }, `${column} is empty`);
      try {
        return checkElement(ai, value, value, true, true);
      } catch (e) {
        if (!(e instanceof IdentifierError)) throw e;
        const { code, params } = elementFaultCode(ai, value, e.message);
        return void fault(column, value, code, params, e.message);
      }
    };
    const gtin = element("gtin", "01", get("gtin"));
    const serial = element("serial", "21", get("serial"));
    const lotText = get("lot");
    const lot = lotText === "" ? undefined : element("lot", "10", lotText);
    const dateText = get("production_date");
    if (dateText !== "") {
      const why = checkDate(dateText, today);
      if (why) fault("production_date", dateText, why.code, { value: dateText }, why.message);
    }
    const location = get("location");
    const locationCode = glnFaultCode(location);
    if (locationCode) fault("location", location, locationCode, locationCode === "empty" ? { column: "location" } : { value: location }, glnFault(location, "location")!);
    if (gtin !== undefined && serial !== undefined) {
      const id = sgtin(gtin, serial);
      const first = seen.get(id);
      if (first !== undefined) fault("serial", serial, "repeatedSerial", { serial, gtin, first }, `serial ${serial} of GTIN ${gtin} is also on row ${first}`);
      else seen.set(id, row);
      if (faults.length === before)
        items.push({ row, gtin, serial, ...(lot !== undefined ? { lot } : {}), ...(dateText !== "" ? { productionDate: dateText } : {}), location, id });
    }
  });
  if (items.length === 0 && faults.length === 0) faults.push({ row: 2, code: "noRows", params: {}, message: "the sheet has no rows to register" });
  return { items, faults };
}

/** Serials one per line; "C-001..C-100" counts from the first to the last, keeping the zero padding. */
export function expandSerials(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== "")) {
    const m = /^(.*?)(\d+)\.\.(.*?)(\d+)$/.exec(line);
    if (m && m[1] === m[3] && Number(m[4]) >= Number(m[2]) && Number(m[4]) - Number(m[2]) < 10_000) {
      for (let n = Number(m[2]); n <= Number(m[4]); n++) out.push(`${m[1]}${String(n).padStart(m[2]!.length, "0")}`);
    } else out.push(line);
  }
  return out;
}

/** Rows that may share one commissioning event: same GTIN, lot, production date and site. */
const groupKey = (i: SheetItem) => [i.gtin, i.lot ?? "", i.productionDate ?? "", i.location].join("\u0000");

export interface CapturePageOptions {
  /** Creation and event time of the documents (ISO). */
  time: string;
  /** Items per commissioning event: one Provenance transaction each (default 100). */
  itemsPerEvent?: number;
  /** Events per document: one capture job each (default 10). */
  eventsPerDocument?: number;
}

/** A page of the registration: one EPCIS document and the items it commissions. */
export interface CapturePage {
  document: Record<string, unknown>;
  items: string[];
}

/**
 * The capture pages for a checked sheet's items: commissioning events of at most
 * `itemsPerEvent` items sharing GTIN, lot, date and site, gathered `eventsPerDocument` to a
 * document. Same items and time, same documents: a page sent again is the same capture.
 */
export function capturePages(items: readonly SheetItem[], o: CapturePageOptions): CapturePage[] {
  const perEvent = o.itemsPerEvent ?? 100;
  const perDoc = o.eventsPerDocument ?? 10;
  const groups = new Map<string, SheetItem[]>();
  for (const i of items) {
    const k = groupKey(i);
    const g = groups.get(k);
    if (g) g.push(i);
    else groups.set(k, [i]);
  }
  const events: { event: Record<string, unknown>; items: string[] }[] = [];
  for (const g of groups.values()) {
    for (let at = 0; at < g.length; at += perEvent) {
      const chunk = g.slice(at, at + perEvent);
      const first = chunk[0]!;
      const ids = chunk.map((i) => i.id);
      events.push({
        items: ids,
        event: commission({ time: o.time, at: first.location, items: ids, ...(first.lot !== undefined ? { lot: first.lot } : {}), ...(first.productionDate !== undefined ? { productionDate: first.productionDate } : {}) }),
      });
    }
  }
  const pages: CapturePage[] = [];
  for (let at = 0; at < events.length; at += perDoc) {
    const slice = events.slice(at, at + perDoc);
    pages.push({ document: epcisDocument(slice.map((e) => e.event), o.time), items: slice.flatMap((e) => e.items) });
  }
  return pages;
}
