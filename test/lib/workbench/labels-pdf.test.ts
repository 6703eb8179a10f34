/**
 * lib/workbench/labels-pdf.ts: label sheets as PDF. The PDF is read back with a small reader of
 * the tests' own (test/helpers/label-pdf.ts: pdf-lib only finds the pages; the content streams are
 * inflated with zlib and their operators parsed there): the pages are A4 in points, each label's QR code sits where the label
 * size's table puts it, and the rectangles painted there, rasterised and decoded by jsQR (an
 * independent QR decoder), give the item's Digital Link on the member's host, beside the
 * element string in text. The demo journey (test/demo/workbench.test.ts) follows a decoded link
 * through the running gateway's resolver to the item.
 */
import { describe, expect, it } from "vitest";
import { parseDigitalLink } from "../../../lib/identifiers/digital-link.ts";
import { LabelTextError, PT_PER_MM, labelPdf } from "../../../lib/workbench/labels-pdf.ts";
import { LABEL_SIZES, LABEL_SIZE_NAMES } from "../../../lib/workbench/labels.ts";
import { decodeSquare, expectedQr, readPdf } from "../../helpers/label-pdf.ts";

const GTIN = "09521002000214";
const HOST = "http://127.0.0.1:4000";
const items = Array.from({ length: 30 }, (_, i) => `https://id.gs1.org/01/${GTIN}/21/C%2F${i}`);

describe("label sheets as PDF", () => {
  it.each(LABEL_SIZE_NAMES)("%s: A4 pages whose QR codes sit where the size puts them and decode to each item's link", async (size) => {
    const s = LABEL_SIZES[size];
    const pages = await readPdf(await labelPdf(items, { host: HOST, size }));
    expect(pages).toHaveLength(Math.ceil(items.length / (s.columns * s.rows)));
    for (const [p, page] of pages.entries()) {
      // A4 at its true size: 210 x 297 mm.
      expect(page.width).toBeCloseTo(595.28, 1);
      expect(page.height).toBeCloseTo(841.89, 1);
      const onPage = items.slice(p * s.columns * s.rows, (p + 1) * s.columns * s.rows);
      for (const [i, id] of onPage.entries()) {
        const square = expectedQr(size, i);
        const link = decodeSquare(page.rects, square);
        expect(link, `label ${i} of page ${p + 1}`).toBe(`${HOST}/01/${GTIN}/21/C%2F${p * s.columns * s.rows + i}`);
        expect(parseDigitalLink(link!).identifier).toEqual(parseDigitalLink(id).identifier);
        // The code is centred in its square: the quiet zone is as wide on every side.
        const inside = page.rects.filter((r) => r.x >= square.x - 0.01 && r.y >= square.y - 0.01 && r.x + r.w <= square.x + square.size + 0.01 && r.y + r.h <= square.y + square.size + 0.01);
        const quiet = [
          Math.min(...inside.map((r) => r.x)) - square.x,
          square.x + square.size - Math.max(...inside.map((r) => r.x + r.w)),
          Math.min(...inside.map((r) => r.y)) - square.y,
          square.y + square.size - Math.max(...inside.map((r) => r.y + r.h)),
        ];
        for (const q of quiet) expect(q).toBeCloseTo(quiet[0]!, 2);
        // The human-readable text starts right of the QR code, in the label's top half.
        const texts = page.texts.filter((t) => Math.abs(t.x - (square.x + square.size + PT_PER_MM)) < 0.01 && t.y > square.y && t.y < square.y + square.size);
        expect(texts.map((t) => t.text)).toEqual([`(01)${GTIN}`, `(21)C/${p * s.columns * s.rows + i}`]);
        expect(texts[0]!.size).toBeCloseTo(Math.min(2.8, s.height / 10) * PT_PER_MM, 2);
      }
      // Nothing is painted outside the labels' QR squares.
      const squares = onPage.map((_, i) => expectedQr(size, i));
      const stray = page.rects.filter((r) => !squares.some((q) => r.x >= q.x - 0.01 && r.y >= q.y - 0.01 && r.x + r.w <= q.x + q.size + 0.01 && r.y + r.h <= q.y + q.size + 0.01));
      expect(stray).toEqual([]);
    }
  });

  it("the same items give the same bytes; the caption is a third line", async () => {
    const one = items.slice(0, 1);
    expect(Buffer.from(await labelPdf(one, { host: HOST }))).toEqual(Buffer.from(await labelPdf(one, { host: HOST })));
    const [page] = await readPdf(await labelPdf(one, { host: HOST, caption: "Casting, grade EN-GJS-400" }));
    expect(page!.texts.map((t) => t.text)).toEqual([`(01)${GTIN}`, "(21)C/0", "Casting, grade EN-GJS-400"]);
  });

  it("refuses a caption its font cannot write, and what is not a Digital Link", async () => {
    await expect(labelPdf(items.slice(0, 1), { host: HOST, caption: "铸件" })).rejects.toThrow(LabelTextError);
    await expect(labelPdf(items.slice(0, 1), { host: HOST, caption: "铸件" })).rejects.toThrow(/download the SVG sheet/);
    await expect(labelPdf(["urn:nope"], { host: HOST })).rejects.toThrow();
  });
});
