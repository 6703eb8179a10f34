/**
 * Printable label sheets: one label per item with its GS1 Digital Link as a QR code and the
 * human-readable element string beside it, laid out on A4 pages in common label sizes. The layout
 * is computed here once, in millimetres from the page's top left; this file draws it as SVG (a
 * browser prints it at its true size; no font or image is fetched) and labels-pdf.ts as PDF. The
 * QR's link is on the member's own resolver host, so a phone scanning a label reaches the item's page.
 */
import QRCode from "qrcode";
import { elementString, parseDigitalLink, toDigitalLink } from "../identifiers/digital-link.ts";

/** Common A4 label sheets (label width x height in mm, columns x rows, margins and gaps). */
export const LABEL_SIZES = {
  "70x37": { width: 70, height: 37, columns: 3, rows: 8, top: 0.5, left: 0, gapX: 0, gapY: 0 },
  "99x38": { width: 99.1, height: 38.1, columns: 2, rows: 7, top: 15.1, left: 4.65, gapX: 2.5, gapY: 0 },
  "48x25": { width: 48.5, height: 25.4, columns: 4, rows: 10, top: 21.5, left: 8, gapX: 0, gapY: 0 },
} as const;
export type LabelSize = keyof typeof LABEL_SIZES;
export const LABEL_SIZE_NAMES = Object.keys(LABEL_SIZES) as LabelSize[];

export const A4 = { width: 210, height: 297 };

/** Modules of white around the QR code (ISO/IEC 18004 asks for 4; labels print 2, which phones read). */
export const QR_QUIET_ZONE = 2;

export interface LabelOptions {
  /** Origin of the member's resolver, e.g. https://gw.foundry.example. */
  host: string;
  size?: LabelSize;
  /** An extra line under the element string. */
  caption?: string;
}

/** One label placed on its page; every length in mm, (x, y) from the page's top left. */
export interface PlacedLabel {
  /** The item's Digital Link as given. */
  id: string;
  /** What the QR code says: the item on the member's host. */
  link: string;
  /** The label's box. */
  box: { x: number; y: number; width: number; height: number };
  /** The QR code's square (quiet zone included) and its modules, row by row (true is dark). */
  qr: { x: number; y: number; size: number; modules: boolean[][] };
  /** Text lines: element string split after each AI, then the caption; y is the baseline. */
  lines: { x: number; y: number; text: string }[];
  /** Font size of the lines (mm). */
  font: number;
}

/** The QR code of `link` as rows of modules (error correction M). */
export function qrModules(link: string): boolean[][] {
  const qr = QRCode.create(link, { errorCorrectionLevel: "M" });
  const n = qr.modules.size;
  return Array.from({ length: n }, (_, r) => Array.from({ length: n }, (_, c) => Boolean(qr.modules.get(r, c))));
}

/** The Digital Link a label carries: the item's identifier on `host` (the member's resolver). */
export function labelLink(digitalLink: string, host: string): string {
  return toDigitalLink(parseDigitalLink(digitalLink).identifier, host);
}

/** The labels of `items` (Digital Links) on A4 pages: where each label, its QR code and its lines go. */
export function labelLayout(items: readonly string[], o: LabelOptions): PlacedLabel[][] {
  const size = LABEL_SIZES[o.size ?? "70x37"];
  const perPage = size.columns * size.rows;
  const pages: PlacedLabel[][] = [];
  for (let first = 0; first < items.length; first += perPage) {
    pages.push(
      items.slice(first, first + perPage).map((id, i) => {
        const col = i % size.columns;
        const row = Math.floor(i / size.columns);
        const x = size.left + col * (size.width + size.gapX);
        const y = size.top + row * (size.height + size.gapY);
        const pad = 1.5;
        const qr = size.height - 2 * pad;
        // Element string split after each AI so it wraps on narrow labels.
        const parts = elementString(parseDigitalLink(id)).split(/(?=\()/);
        const font = Math.min(2.8, size.height / 10);
        const tx = x + pad + qr + 1;
        const link = labelLink(id, o.host);
        return {
          id,
          link,
          box: { x, y, width: size.width, height: size.height },
          qr: { x: x + pad, y: y + pad, size: qr, modules: qrModules(link) },
          lines: [...parts, ...(o.caption ? [o.caption] : [])].map((text, k) => ({ x: tx, y: y + pad + font * 1.4 * (k + 1), text })),
          font,
        };
      }),
    );
  }
  return pages;
}

const escapeXml = (s: string) => s.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** The QR code's dark modules as one SVG path, with the quiet zone around them. */
function qrPath({ x, y, size, modules }: PlacedLabel["qr"]): string {
  const n = modules.length;
  const unit = size / (n + 2 * QR_QUIET_ZONE);
  let d = "";
  for (let r = 0; r < n; r++)
    for (let c = 0; c < n; c++) if (modules[r]![c]) d += `M${(x + (c + QR_QUIET_ZONE) * unit).toFixed(3)} ${(y + (r + QR_QUIET_ZONE) * unit).toFixed(3)}h${unit.toFixed(3)}v${unit.toFixed(3)}h${(-unit).toFixed(3)}z`;
  return `<rect x="${x}" y="${y}" width="${size}" height="${size}" fill="#fff"/><path d="${d}" fill="#000"/>`;
}

/**
 * A4 pages of labels, one SVG document per page. `items` are Digital Links; each label shows the
 * QR of its link on `host`, the element string ((01)...(21)...) and an optional caption line.
 */
export function labelSheets(items: readonly string[], o: LabelOptions): string[] {
  return labelLayout(items, o).map((page) => {
    const labels = page.map((l) => {
      const lines = l.lines.map((t) => `<text x="${t.x.toFixed(2)}" y="${t.y.toFixed(2)}" font-size="${l.font.toFixed(2)}">${escapeXml(t.text)}</text>`).join("");
      return `<g data-label="${escapeXml(l.id)}">${qrPath(l.qr)}${lines}</g>`;
    });
    return (
      `<svg xmlns="http://www.w3.org/2000/svg" width="${A4.width}mm" height="${A4.height}mm" viewBox="0 0 ${A4.width} ${A4.height}" font-family="DejaVu Sans Mono, monospace">` +
      `<rect width="${A4.width}" height="${A4.height}" fill="#fff"/>${labels.join("")}</svg>`
    );
  });
}
