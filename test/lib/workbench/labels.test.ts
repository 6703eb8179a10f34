/**
 * lib/workbench/labels.ts: A4 label sheets in common sizes, one label per item with its Digital
 * Link on the member's resolver host and the human-readable element string. (Decoding a QR from
 * a rendered sheet is in test/explorer/workbench.test.ts, in Chromium.)
 */
import QRCode from "qrcode";
import { describe, expect, it } from "vitest";
import { LABEL_SIZES, LABEL_SIZE_NAMES, labelLink, labelSheets } from "../../../lib/workbench/labels.ts";

const GTIN = "09521002000214";
const items = Array.from({ length: 30 }, (_, i) => `https://id.gs1.org/01/${GTIN}/21/C%2F${i}`);

describe("label sheets", () => {
  it("puts the item's Digital Link on the member's host", () => {
    expect(labelLink(items[1]!, "http://127.0.0.1:4000/")).toBe(`http://127.0.0.1:4000/01/${GTIN}/21/C%2F1`);
  });

  it("fills A4 pages in each size, one labelled group per item", () => {
    for (const size of LABEL_SIZE_NAMES) {
      const { columns, rows, width, height, left, top, gapX, gapY } = LABEL_SIZES[size];
      // Every size fits on A4.
      expect(left * 2 + columns * width + (columns - 1) * gapX).toBeLessThanOrEqual(210.01);
      expect(top + rows * height + (rows - 1) * gapY).toBeLessThanOrEqual(297);
      const pages = labelSheets(items, { host: "http://gw", size });
      expect(pages).toHaveLength(Math.ceil(items.length / (columns * rows)));
      expect(pages.join("").match(/<g data-label=/g)).toHaveLength(items.length);
      expect(pages[0]).toMatch(/^<svg xmlns="http:\/\/www.w3.org\/2000\/svg" width="210mm" height="297mm"/);
    }
  });

  it("prints the element string and caption, escaped", () => {
    const [page] = labelSheets(items.slice(0, 1), { host: "http://gw", caption: "casting <A&B>" });
    expect(page).toContain(`>(01)${GTIN}</text>`);
    expect(page).toContain(">(21)C/0</text>");
    expect(page).toContain(">casting &#60;A&#38;B&#62;</text>");
  });

  it("draws exactly the QR code's dark modules", () => {
    const [page] = labelSheets(items.slice(0, 1), { host: "http://gw" });
    const dark = QRCode.create(`http://gw/01/${GTIN}/21/C%2F0`, { errorCorrectionLevel: "M" }).modules.data.reduce((n: number, b: number) => n + b, 0);
    expect(page!.match(/M[\d.]+ [\d.]+h/g)).toHaveLength(dark);
  });

  it("refuses what is not a Digital Link", () => {
    expect(() => labelSheets(["urn:nope"], { host: "http://gw" })).toThrow();
  });
});
