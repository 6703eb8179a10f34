/**
 * lib/workbench/sheet.ts: a spreadsheet's rows are checked one by one, each fault named with its
 * row and column; valid rows become commissioning pages; CSV and XLSX read alike.
 */
import writeXlsx from "write-excel-file/node";
import { describe, expect, it } from "vitest";
import { eventsOf, provenanceActionsOf } from "../../../lib/epcis/events.ts";
import { dispatchCsv, readDispatch } from "../../../lib/workbench/dispatch.ts";
import { type Cell, capturePages, checkSheet, expandSerials, parseCsv, readSheetFile, templateCsv } from "../../../lib/workbench/sheet.ts";

const HEADER = ["gtin", "serial", "lot", "production_date", "location"];
const GLN = "9521002000016";
const GTIN = "09521002000214";
const row = (serial: string, o: Partial<Record<"gtin" | "lot" | "date" | "location", string>> = {}) => [o.gtin ?? GTIN, serial, o.lot ?? "L1", o.date ?? "2026-11-30", o.location ?? GLN];
const TODAY = { today: "2026-12-05" };

describe("spreadsheet import", () => {
  it("parses CSV with quotes, escaped quotes, CRLF and a BOM", () => {
    expect(parseCsv('\ufeffa,b\r\n"x, y","say ""hi"""\n1,\n')).toEqual([["a", "b"], ["x, y", 'say "hi"'], ["1", ""]]);
  });

  it("the template is a valid sheet", () => {
    const { items, faults } = checkSheet(parseCsv(templateCsv()), TODAY);
    expect(faults).toEqual([]);
    expect(items.map((i) => i.serial)).toEqual(["C-0001", "C-0002"]);
  });

  it("names every fault by row and column and keeps only clean rows", () => {
    const table: Cell[][] = [
      HEADER,
      row("OK-1"),
      row("OK-2", { gtin: "09521002000218" }), // check digit
      row("BAD SERIAL"), // space is not in GS1 character set 82
      row("X".repeat(21)), // AI 21 is at most 20
      row("OK-3", { lot: "L~1" }),
      row("OK-4", { date: "2026-02-30" }),
      row("OK-5", { date: "2027-01-01" }),
      row("OK-6", { location: "9521002000017" }),
      row("OK-7", { location: "" }),
      row("OK-1"), // repeated
      ["", "", "", "", ""], // blank lines are skipped
    ];
    const { items, faults } = checkSheet(table, TODAY);
    expect(items.map((i) => i.row)).toEqual([2]);
    const by = faults.map((f) => `${f.row}:${f.column}`);
    expect(by).toEqual(["3:gtin", "4:serial", "5:serial", "6:lot", "7:production_date", "8:production_date", "9:location", "10:location", "11:serial"]);
    const msg = (r: number) => faults.find((f) => f.row === r)!.message;
    expect(msg(3)).toMatch(/check digit is 8, expected 4/);
    expect(msg(4)).toMatch(/contains " ", which is not in the GS1 character set 82/);
    expect(msg(5)).toMatch(/21 characters, at most 20/);
    expect(msg(6)).toMatch(/"~"/);
    expect(msg(7)).toMatch(/not a calendar date/);
    expect(msg(8)).toMatch(/in the future/);
    expect(msg(9)).toMatch(/wrong check digit/);
    expect(msg(10)).toMatch(/location is empty: a GLN/);
    expect(msg(11)).toMatch(/also on row 2/);
    // The same faults as codes and parameters, which the explorer words in the reader's language.
    expect(faults.map((f) => [f.code, f.params])).toEqual([
      ["gtinCheckDigit", { actual: 8, expected: 4 }],
      ["charset", { value: "BAD SERIAL", char: " " }],
      ["tooLong", { value: "X".repeat(21), length: 21, max: 20 }],
      ["charset", { value: "L~1", char: "~" }],
      ["notCalendarDate", { value: "2026-02-30" }],
      ["futureDate", { value: "2027-01-01" }],
      ["glnCheckDigit", { value: "9521002000017" }],
      ["empty", { column: "location" }],
      ["repeatedSerial", { serial: "OK-1", gtin: GTIN, first: 2 }],
    ]);
    expect(checkSheet([HEADER, row("S1", { gtin: "0952100200021A" }), row("S2", { gtin: "095210020002" + "1" }), row("S3", { date: "30.11.2026" }), row("S4", { location: "95210" })], TODAY).faults.map((f) => f.code)).toEqual([
      "notDigits",
      "gtinCheckDigit",
      "notDate",
      "glnLength",
    ]);
  });

  it("refuses a sheet without the required columns, or without rows", () => {
    expect(checkSheet([["gtin", "lot"], [GTIN, "L1"]]).faults.map((f) => [f.column, f.code])).toEqual([["serial", "missingColumn"], ["location", "missingColumn"]]);
    expect(checkSheet([HEADER, row("S1", { gtin: "0952100200021" + "45" })]).faults.map((f) => [f.code, f.params])).toEqual([["gtinLength", { value: "095210020002145", length: 15 }]]);
    expect(checkSheet([HEADER]).faults[0]!.message).toMatch(/no rows/);
    expect(checkSheet([HEADER, row("A"), row("B")], { ...TODAY, maxRows: 1 }).faults[0]!.message).toMatch(/split it/);
  });

  it("turns 10,000 rows into capture pages of commissioning events, one batch per lot", () => {
    const table: Cell[][] = [HEADER, ...Array.from({ length: 10_000 }, (_, i) => row(`S${i}`, { lot: i < 5_000 ? "L1" : "L2" }))];
    const t0 = performance.now();
    const { items, faults } = checkSheet(table, TODAY);
    const pages = capturePages(items, { time: "2026-12-05T10:00:00Z" });
    expect(performance.now() - t0).toBeLessThan(5_000);
    expect(faults).toEqual([]);
    expect(pages).toHaveLength(10);
    expect(pages.flatMap((p) => p.items)).toHaveLength(10_000);
    const events = eventsOf(pages[9]!.document);
    expect(events).toHaveLength(10);
    const a = provenanceActionsOf(events[0]!, { context: pages[9]!.document["@context"] as unknown[] });
    expect(a.recorded && a.action.op === "commission" && a.action.keys.length).toBe(100);
    expect(a.recorded && a.action.op === "commission" && a.action.batch?.identifier).toBe(`https://id.gs1.org/01/${GTIN}/10/L2`);
    // Same rows and time, same documents: a page sent again is the same capture.
    expect(JSON.stringify(capturePages(items, { time: "2026-12-05T10:00:00Z" }))).toBe(JSON.stringify(pages));
  });

  it("reads an XLSX workbook like CSV: numbers and dates as Excel stores them", async () => {
    const blob = await writeXlsx([
      HEADER.map((value) => ({ value })),
      [{ value: 9521002000214 }, { value: 1001 }, { value: "L1" }, { value: new Date("2026-11-30T00:00:00Z"), format: "yyyy-mm-dd" }, { value: 9521002000016 }],
      [{ value: "9521002000218" }, { value: "A" }, null, null, { value: GLN }],
    ] as never).toBuffer();
    const table = await readSheetFile(new Uint8Array(blob));
    const { items, faults } = checkSheet(table, TODAY);
    expect(items).toMatchObject([{ row: 2, gtin: GTIN, serial: "1001", lot: "L1", productionDate: "2026-11-30", location: GLN }]);
    expect(faults).toMatchObject([{ row: 3, column: "gtin" }]);
    expect(await readSheetFile(new TextEncoder().encode(templateCsv()))).toEqual(parseCsv(templateCsv()));
  });
});

describe("dispatch documents and serial ranges", () => {
  it("round-trips a dispatch document and names what is wrong in one", () => {
    const d = { despatchAdvice: "DA, 7", from: GLN, to: "9521004000014", items: [`https://id.gs1.org/01/${GTIN}/21/A1`, `https://id.gs1.org/01/${GTIN}/21/A2`] };
    expect(readDispatch(dispatchCsv(d))).toEqual(d);
    expect(() => readDispatch("item\nx\n")).toThrow(/first line must be despatch_advice,from,to,item/);
    expect(() => readDispatch(dispatchCsv({ ...d, to: "9521004000015" }))).toThrow(/row 2: to GLN 9521004000015 has a wrong check digit/);
    expect(() => readDispatch(dispatchCsv(d) + `other,${GLN},9521004000014,${d.items[0]}\r\n`)).toThrow(/row 4 belongs to another shipment/);
    expect(() => readDispatch(dispatchCsv({ ...d, items: [`https://id.gs1.org/01/09521002000215/21/A1`] }))).toThrow(/row 2: .*check digit/);
  });

  it("expands serial ranges, keeping the zero padding", () => {
    expect(expandSerials("C-008..C-011\n\n X \n")).toEqual(["C-008", "C-009", "C-010", "C-011", "X"]);
    expect(expandSerials("A1..B3")).toEqual(["A1..B3"]);
  });
});
