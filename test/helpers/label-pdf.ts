/**
 * Reading label sheets back from a PDF in tests, without trusting the writer: pdf-lib only finds
 * the pages; their content streams are inflated with zlib and their operators parsed here (filled
 * rectangles, shown text). A label's QR code is rasterised from the rectangles painted in its
 * square and decoded with jsQR, an independent decoder.
 */
import { inflateSync } from "node:zlib";
import { PDFDocument, PDFName, PDFRawStream } from "pdf-lib";
import { PT_PER_MM } from "../../lib/workbench/labels-pdf.ts";
import { LABEL_SIZES, type LabelSize } from "../../lib/workbench/labels.ts";
import { jsQR } from "../explorer/browser.ts";

export interface Rect {
  x: number;
  y: number;
  w: number;
  h: number;
}
export interface Page {
  width: number;
  height: number;
  rects: Rect[];
  /** Text shown (Tj) with where its line starts (Tm) and its size (Tf). */
  texts: { x: number; y: number; size: number; text: string }[];
}

/** The PDF's pages: size, filled rectangles and shown text, read from the inflated content streams. */
export async function readPdf(bytes: Uint8Array): Promise<Page[]> {
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
export function decodeSquare(rects: readonly Rect[], square: { x: number; y: number; size: number }): string | undefined {
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
export function expectedQr(size: LabelSize, i: number) {
  const s = LABEL_SIZES[size];
  const x = s.left + (i % s.columns) * (s.width + s.gapX) + 1.5;
  const top = s.top + Math.floor(i / s.columns) * (s.height + s.gapY) + 1.5;
  const qr = s.height - 3;
  return { x: x * PT_PER_MM, y: (297 - top - qr) * PT_PER_MM, size: qr * PT_PER_MM };
}
