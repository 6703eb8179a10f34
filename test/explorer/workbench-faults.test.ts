/**
 * Spreadsheet faults in the explorer's languages (explorer/src/sheet-faults.ts): every fault code
 * of lib/workbench/sheet.ts has its words in English and Chinese, every parameter is filled in,
 * and a faulty sheet's rows read in Chinese. (The same in Chromium: test/demo/workbench.test.ts.)
 */
import { describe, expect, it } from "vitest";
import { hasMessage, translator } from "../../explorer/src/messages.ts";
import { faultLine, faultText } from "../../explorer/src/sheet-faults.ts";
import { SHEET_FAULT_CODES, checkSheet } from "../../lib/workbench/sheet.ts";

const HEADER = ["gtin", "serial", "lot", "production_date", "location"];
const GLN = "9521002000016";
const GTIN = "09521002000214";
const TODAY = { today: "2026-12-05" };

describe("spreadsheet faults in the reader's language", () => {
  it("every fault code has English and Chinese words", () => {
    for (const code of SHEET_FAULT_CODES) expect(hasMessage(`wb.fault.${code}`), code).toBe(true);
  });

  it("a faulty sheet's rows read in Chinese, every parameter filled in", () => {
    const { faults } = checkSheet(
      [
        HEADER,
        ["09521002000218", "S-1", "L1", "2026-11-30", GLN],
        [GTIN, "BAD SERIAL", "L1", "2026-11-30", GLN],
        [GTIN, "S-3", "L1", "2027-01-01", ""],
        [GTIN, "S-4", "L1", "2026-11-30", GLN],
        [GTIN, "S-4", "L1", "2026-11-30", GLN],
      ],
      TODAY,
    );
    const zh = translator("zh");
    expect(faults.map((f) => faultLine(zh, f))).toEqual([
      "第 2 行，GTIN：GTIN 校验位是 8，应为 4",
      "第 3 行，序列号：“BAD SERIAL”含有“ ”，该字符不在 GS1 字符集 82 中",
      "第 4 行，生产日期：2027-01-01 是将来的日期",
      "第 4 行，地点：地点为空",
      "第 6 行，序列号：GTIN 09521002000214 的序列号 S-4 也出现在第 5 行",
    ]);
    expect(faults.map((f) => faultLine(translator("en"), f))).toEqual([
      "Row 2, gtin: GTIN check digit is 8, expected 4",
      "Row 3, serial: “BAD SERIAL” contains “ ”, which is not in the GS1 character set 82",
      "Row 4, production_date: 2027-01-01 is in the future",
      "Row 4, location: location is empty",
      "Row 6, serial: serial S-4 of GTIN 09521002000214 is also on row 5",
    ]);
  });

  it("a sheet without its columns, too long or empty, in Chinese", () => {
    const zh = translator("zh");
    const words = [
      ...checkSheet([["gtin", "lot"], [GTIN, "L1"]]).faults,
      ...checkSheet([HEADER]).faults,
      ...checkSheet([HEADER, [GTIN, "A", "", "", GLN], [GTIN, "B", "", "", GLN]], { ...TODAY, maxRows: 1 }).faults,
    ].map((f) => faultText(zh, f));
    expect(words).toEqual(["表头缺少“serial”列（应有的列：gtin, serial, lot, production_date, location）", "表头缺少“location”列（应有的列：gtin, serial, lot, production_date, location）", "表格中没有可登记的行", "表格有 2 行，一次最多接受 1 行：请拆分"]);
    for (const w of words) expect(w).not.toMatch(/[{}]/);
  });
});
