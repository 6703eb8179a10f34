/**
 * lib/workbench/labels-pdf.ts: label sheets as PDF. The PDF is read back with a small reader of
 * its own (pdf-lib only finds the pages; the content streams are inflated with zlib and their
 * operators parsed here): the pages are A4 in points, each label's QR code sits where the label
 * size's table puts it, and the rectangles painted there, rasterised and decoded by jsQR (an
 * independent QR decoder), give the item's Digital Link on the member's host, beside the
 * element string in text. The demo journey (test/demo/workbench.test.ts) follows a decoded link
 * through the running gateway's resolver to the item.
 */
import { inflateSync } from "node:zlib";
import { PDFDocument, PDFName, PDFRawStream } from "pdf-lib";
import { describe, expect, it } from "vitest";
import { parseDigitalLink } from "../../../lib/identifiers/digital-link.ts";
import { LabelTextError, PT_PER_MM, labelPdf } from "../../../lib/workbench/labels-pdf.ts";
import { LABEL_SIZES, LABEL_SIZE_NAMES, type LabelSize } from "../../../lib/workbench/labels.ts";
import { jsQR } from "../../explorer/browser.ts";

const GTIN = "09521002000214";
const HOST = "http://127.0.0.1:4000";
const items = Array.from({ length: 30 }, (_, i) => `https://id.gs1.org/01/${GTIN}/21/C%2F${i}`);

interface Rect {
  x: number;
  y: number;
  w: number;
  h: number;
}
interface Page {
  width: number;
  height: number;
  rects: Rect[];
  /** Text shown (Tj) with where its line starts (Tm) and its size (Tf). */
  texts: { x: number; y: number; size: number; text: string }[];
}

/** The PDF's pages: size, filled rectangles and shown text, read from the inflated content streams. */
async function readPdf(bytes: Uint8Array): Promise<Page[]> {
  const doc = await PDFDocument.load(bytes);
  return doc.getPages().map((page) => {
    const { width, height } = page.getSize();
    const contents = page.node.Contents();
    const streams = contents === undefined ? [] : "asArray" in contents ? contents.asArray().map((r) => doc.context.lookup(r)) : [contents];
    const ops = streams
      .map((s) => {
        if (!(s instanceof PDFRawStream)) throw new Error("unexpected content stream");
        const raw = s.getContents();
        return s.dict.get(PDFName.of("Filter")) === PDFName.of("FlateDecode") ? inflateSync(raw).toString("latin1") : Buffer.from(raw).toString("latin1");
      })
      .join("\n");
    const rects: Rect[] = [];
    const texts: Page["texts"] = [];
    let stack: string[] = [];
    let size = 0;
    let at = { x: 0, y: 0 };
    for (const token of ops.match(/<[0-9A-Fa-f]*>|\([^)]*\)|\/[^\s/<(]+|[^\s<(/]+/g) ?? []) {
      if (/^[-\d.]/.test(token) || token.startsWith("<") || token.startsWith("(") || token.startsWith("/")) {
        stack.push(token);
        continue;
      }
      const n = stack.map(Number);
      if (token === "re") rects.push({ x: n[0]!, y: n[1]!, w: n[2]!, h: n[3]! });
      else if (token === "Tf") size = n[1]!;
      else if (token === "Tm") at = { x: n[4]!, y: n[5]! };
      else if (token === "Tj") {
        const s = stack[0]!;
        const text = s.startsWith("<") ? Buffer.from(s.slice(1, -1), "hex").toString("latin1") : s.slice(1, -1);
        texts.push({ ...at, size, text });
      }
      stack = [];
    }
    return { width, height, rects, texts };
  });
}

/** Paints the rectangles inside `square` (pt, bottom-left origin) black on white and decodes the QR. */
function decodeSquare(rects: readonly Rect[], square: { x: number; y: number; size: number }): string | undefined {
  const scale = 4; // pixels per point
  const margin = 16;
  const side = Math.ceil(square.size * scale) + 2 * margin;
  const rgba = new Uint8ClampedArray(side * side * 4).fill(255);
  for (const r of rects) {
    if (r.x < square.x - 0.01 || r.y < square.y - 0.01 || r.x + r.w > square.x + square.size + 0.01 || r.y + r.h > square.y + square.size + 0.01) continue;
    // Pixel rows run down the page; PDF's y runs up.
    const x0 = Math.round((r.x - square.x) * scale) + margin;
    const x1 = Math.round((r.x + r.w - square.x) * scale) + margin;
    const y0 = Math.round((square.y + square.size - (r.y + r.h)) * scale) + margin;
    const y1 = Math.round((square.y + square.size - r.y) * scale) + margin;
    for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) rgba.fill(0, (y * side + x) * 4, (y * side + x) * 4 + 3);
  }
  return jsQR(rgba, side, side)?.data;
}

/** Where a size's table puts label `i` of a page, in pt from the bottom left: its QR square. */
function expectedQr(size: LabelSize, i: number) {
  const s = LABEL_SIZES[size];
  const x = s.left + (i % s.columns) * (s.width + s.gapX) + 1.5;
  const top = s.top + Math.floor(i / s.columns) * (s.height + s.gapY) + 1.5;
  const qr = s.height - 3;
  return { x: x * PT_PER_MM, y: (297 - top - qr) * PT_PER_MM, size: qr * PT_PER_MM };
}

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
