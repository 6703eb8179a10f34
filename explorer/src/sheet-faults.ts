/**
 * Spreadsheet faults (lib/workbench/sheet.ts) in the reader's language: each fault is a code with
 * its parameters, worded by the messages "wb.fault.<code>"; a column named in a fault is worded
 * by "wb.col.<column>".
 */
import { type RowFault, SHEET_COLUMNS, type SheetColumn } from "../../lib/workbench/sheet.ts";
import type { Translate } from "./messages.ts";

const isColumn = (c: unknown): c is SheetColumn => (SHEET_COLUMNS as readonly unknown[]).includes(c);

/** What is wrong, in the reader's language (an "empty" cell's column named in it too). */
export function faultText(t: Translate, f: RowFault): string {
  const column = f.params["column"];
  return t(`wb.fault.${f.code}`, f.code === "empty" && isColumn(column) ? { ...f.params, column: t(`wb.col.${column}`) } : f.params);
}

/** The fault's line in the list: its row, column and what is wrong. */
export function faultLine(t: Translate, f: RowFault): string {
  return t("wb.reg.fault", { row: f.row, column: f.column === undefined ? "-" : t(`wb.col.${f.column}`), message: faultText(t, f) });
}
