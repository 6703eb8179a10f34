/**
 * Printable label sheets: one label per item with its GS1 Digital Link as a QR code and the
 * human-readable element string beside it, laid out on A4 pages in common label sizes, as SVG in
 * millimetres (a browser prints it at its true size; no font or image is fetched). The QR's link
 * is on the member's own resolver host, so a phone scanning a label reaches the item's page.
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

const A4 = { width: 210, height: 297 };

const escapeXml = (s: string) => s.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** The QR code's dark modules as one SVG path, `mm` wide at (x, y), with a 2-module quiet zone. */
function qrPath(link: string, x: number, y: number, mm: number): string {
  const qr = QRCode.create(link, { errorCorrectionLevel: "M" });
  const n = qr.modules.size;
  const unit = mm / (n + 4);
  let d = "";
  for (let r = 0; r < n; r++)
    for (let c = 0; c < n; c++) if (qr.modules.get(r, c)) d += `M${(x + (c + 2) * unit).toFixed(3)} ${(y + (r + 2) * unit).toFixed(3)}h${unit.toFixed(3)}v${unit.toFixed(3)}h${(-unit).toFixed(3)}z`;
  return `<rect x="${x}" y="${y}" width="${mm}" height="${mm}" fill="#fff"/><path d="${d}" fill="#000"/>`;
}

/** The Digital Link a label carries: the item's identifier on `host` (the member's resolver). */
export function labelLink(digitalLink: string, host: string): string {
  return toDigitalLink(parseDigitalLink(digitalLink).identifier, host);
}

/**
 * A4 pages of labels, one SVG document per page. `items` are Digital Links; each label shows the
 * QR of its link on `host`, the element string ((01)...(21)...) and an optional caption line.
 */
export function labelSheets(items: readonly string[], o: { host: string; size?: LabelSize; caption?: string }): string[] {
  const size = LABEL_SIZES[o.size ?? "70x37"];
  const perPage = size.columns * size.rows;
  const pages: string[] = [];
  for (let first = 0; first < items.length; first += perPage) {
    const labels = items.slice(first, first + perPage).map((id, i) => {
      const col = i % size.columns;
      const row = Math.floor(i / size.columns);
      const x = size.left + col * (size.width + size.gapX);
      const y = size.top + row * (size.height + size.gapY);
      const pad = 1.5;
      const qr = size.height - 2 * pad;
      const parsed = parseDigitalLink(id);
      // Element string split after each AI so it wraps on narrow labels.
      const parts = elementString(parsed).split(/(?=\()/);
      const font = Math.min(2.8, size.height / 10);
      const tx = x + pad + qr + 1;
      const lines = [...parts, ...(o.caption ? [o.caption] : [])]
        .map((t, k) => `<text x="${tx.toFixed(2)}" y="${(y + pad + font * 1.4 * (k + 1)).toFixed(2)}" font-size="${font.toFixed(2)}">${escapeXml(t)}</text>`)
        .join("");
      return `<g data-label="${escapeXml(id)}">${qrPath(labelLink(id, o.host), x + pad, y + pad, qr)}${lines}</g>`;
    });
    pages.push(
      `<svg xmlns="http://www.w3.org/2000/svg" width="${A4.width}mm" height="${A4.height}mm" viewBox="0 0 ${A4.width} ${A4.height}" font-family="DejaVu Sans Mono, monospace">` +
        `<rect width="${A4.width}" height="${A4.height}" fill="#fff"/>${labels.join("")}</svg>`,
    );
  }
  return pages;
}
