/**
 * Label sheets as one PDF: the layout of labels.ts (A4 pages, common label sizes) drawn at its
 * true size with pdf-lib, each QR code as filled rectangles (one per run of dark modules in a
 * row) and the element string in Courier, one of the PDF's standard fonts, so nothing is embedded
 * and a printer draws the same sheet as the SVG. Loaded only when a PDF is asked for (the explorer
 * imports this file on demand: pdf-lib is large).
 */
import { PDFDocument, StandardFonts, fill, popGraphicsState, pushGraphicsState, rectangle, setFillingGrayscaleColor } from "pdf-lib";
import { A4, type LabelOptions, QR_QUIET_ZONE, labelLayout } from "./labels.ts";

/** PDF points per millimetre. */
export const PT_PER_MM = 72 / 25.4;

/** What the standard fonts' WinAnsi encoding writes: printable ASCII and Latin-1. */
const WIN_ANSI_SAFE = /^[\x20-\x7e\xa0-\xff]*$/;

/** A label text the PDF's standard font cannot write (the SVG sheet can: it uses the system's fonts). */
export class LabelTextError extends Error {}

/** The rectangles (mm, top-left origin) covering a QR code's dark modules: one per run in a row. */
export function qrRuns(modules: readonly (readonly boolean[])[], x: number, y: number, size: number): { x: number; y: number; width: number; height: number }[] {
  const n = modules.length;
  const unit = size / (n + 2 * QR_QUIET_ZONE);
  const runs: { x: number; y: number; width: number; height: number }[] = [];
  for (let r = 0; r < n; r++) {
    for (let c = 0; c < n; c++) {
      if (!modules[r]![c]) continue;
      const start = c;
      while (c + 1 < n && modules[r]![c + 1]) c++;
      runs.push({ x: x + (start + QR_QUIET_ZONE) * unit, y: y + (r + QR_QUIET_ZONE) * unit, width: (c - start + 1) * unit, height: unit });
    }
  }
  return runs;
}

/**
 * One PDF of A4 pages of labels for `items` (Digital Links), as labels.ts lays them out. Throws
 * LabelTextError when the caption holds characters the standard font cannot write.
 */
export async function labelPdf(items: readonly string[], o: LabelOptions): Promise<Uint8Array> {
  if (o.caption !== undefined && !WIN_ANSI_SAFE.test(o.caption))
    throw new LabelTextError(`the PDF's label font writes Latin letters, digits and signs only; the caption "${o.caption}" has others: shorten it, or download the SVG sheet, which writes any script`);
  // No creation date: the same items give the same bytes.
  const doc = await PDFDocument.create({ updateMetadata: false });
  doc.setTitle(`Labels: ${items.length} items`);
  doc.setProducer("Tracemesh");
  const font = await doc.embedFont(StandardFonts.Courier);
  const pt = (mm: number) => mm * PT_PER_MM;
  // PDF's origin is the page's bottom left; the layout's is the top left.
  const fromTop = (mm: number) => pt(A4.height - mm);
  for (const labels of labelLayout(items, o)) {
    const page = doc.addPage([pt(A4.width), pt(A4.height)]);
    for (const l of labels) {
      const runs = qrRuns(l.qr.modules, l.qr.x, l.qr.y, l.qr.size);
      page.pushOperators(
        pushGraphicsState(),
        setFillingGrayscaleColor(0),
        ...runs.map((r) => rectangle(pt(r.x), fromTop(r.y + r.height), pt(r.width), pt(r.height))),
        fill(),
        popGraphicsState(),
      );
      for (const line of l.lines) page.drawText(line.text, { x: pt(line.x), y: fromTop(line.y), size: pt(l.font), font });
    }
  }
  return doc.save();
}
