/**
 * Real headless Chromium for the explorer's tests (playwright-core driving Debian's chromium),
 * with the checks every page gets: no request leaves the gateway's origin, no console error, no
 * CSP violation. Screenshots go to reports/screenshots/.
 */
import { existsSync, mkdirSync } from "node:fs";
import path from "node:path";
import jsQRModule from "jsqr";
import { type Browser, type Page, chromium } from "playwright-core";

export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
export const hasChromium = existsSync(CHROMIUM);
export const SKIP_MESSAGE = `Chromium not found at ${CHROMIUM} (set CHROMIUM_PATH or install Debian's chromium): browser tests skipped`;

const root = path.resolve(import.meta.dirname, "../..");
export const EXPLORER_DIST = path.join(root, "explorer", "dist");
export const SCREENSHOTS = path.join(root, "reports", "screenshots");

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
  });
}

export const DESKTOP = { width: 1280, height: 900 };
export const PHONE = { width: 375, height: 740 };

export interface WatchedPage {
  page: Page;
  /** Requests to any origin but the gateway's (blocked). */
  foreign: string[];
  /** console.error messages and uncaught page errors. */
  errors: string[];
  /** console.warn messages (a clean console has none). */
  warnings: string[];
  /** Request bodies sent to the gateway, for checks that secrets stay in the page. */
  bodies: string[];
}

export async function openPage(browser: Browser, gatewayUrl: string, viewport = DESKTOP, locale = "en-GB"): Promise<WatchedPage> {
  const context = await browser.newContext({ viewport, locale, deviceScaleFactor: 1 });
  const page = await context.newPage();
  const origin = new URL(gatewayUrl).origin;
  const watched: WatchedPage = { page, foreign: [], errors: [], warnings: [], bodies: [] };
  await page.route("**/*", async (route) => {
    const url = route.request().url();
    if (url.startsWith("data:") || url.startsWith("blob:") || new URL(url).origin === origin) {
      const body = route.request().postData();
      if (body !== null) watched.bodies.push(body);
      return route.continue();
    }
    watched.foreign.push(url);
    return route.abort();
  });
  page.on("console", (m) => {
    if (m.type() === "error") watched.errors.push(m.text());
    if (m.type() === "warning") watched.warnings.push(m.text());
  });
  page.on("pageerror", (e) => watched.errors.push(e.message));
  return watched;
}

export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const file = path.join(SCREENSHOTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

/** jsqr's decoder (CommonJS with a default export): RGBA pixels to the QR code's text. */
export const jsQR = ((jsQRModule as unknown as { default?: typeof jsQRModule }).default ?? jsQRModule) as unknown as (
  data: Uint8ClampedArray,
  width: number,
  height: number,
) => { data: string } | null;

/**
 * Decodes the QR code in a PNG screenshot with jsqr. The PNG is turned into pixels by the browser
 * (a blank page and a canvas), so the test needs no PNG decoder of its own.
 */
export async function decodeQr(browser: Browser, png: Buffer): Promise<string | undefined> {
  const page = await browser.newPage();
  try {
    // Browser-side code as text: this file is type-checked for Node, without the DOM library.
    const pixels = await page.evaluate<{ width: number; height: number; rgba: number[] }, string>(
      new Function(
        "b64",
        `return (async () => {
          const img = new Image();
          img.src = "data:image/png;base64," + b64;
          await img.decode();
          const canvas = document.createElement("canvas");
          canvas.width = img.naturalWidth;
          canvas.height = img.naturalHeight;
          const g = canvas.getContext("2d");
          g.drawImage(img, 0, 0);
          const data = g.getImageData(0, 0, canvas.width, canvas.height);
          return { width: data.width, height: data.height, rgba: Array.from(data.data) };
        })();`,
      ) as (b64: string) => Promise<{ width: number; height: number; rgba: number[] }>,
      png.toString("base64"),
    );
    return jsQR(Uint8ClampedArray.from(pixels.rgba), pixels.width, pixels.height)?.data;
  } finally {
    await page.close();
  }
}

/** Evaluates browser-side JavaScript given as text (test files are type-checked without the DOM). */
export function inPage<T>(page: Page, expression: string): Promise<T> {
  return page.evaluate(expression) as Promise<T>;
}

/** True when the page is wider than its viewport (a phone user would have to scroll sideways). */
export async function overflowsHorizontally(page: Page): Promise<boolean> {
  return inPage(page, "document.documentElement.scrollWidth > window.innerWidth + 1");
}

/**
 * Latin-script words a Chinese page may show: standard and format names, units and time zones.
 * Kept small on purpose; everything else a page says comes from the message catalogue.
 */
const LATIN_ALLOWED = new Set(["GTIN", "GLN", "SSCC", "GIAI", "EPC", "EPCIS", "CBV", "URI", "QR", "UTC", "GMT", "EN", "ISO", "JSON", "JWT", "SD-JWT", "CSV", "XLSX", "HTTP", "Tracemesh"]);

/**
 * English words in the text under `selector`, outside identifiers and proper names (elements
 * marked translate="no", code and .mono, and tokens with a digit or URI punctuation such as
 * PUMP-1, urn:epc:…, vc+sd-jwt): what a Chinese page must not show. Hidden <noscript> text is
 * not shown by a browser that runs the page, so it is not read.
 */
export async function englishWords(page: Page, selector: string): Promise<string[]> {
  const texts = await inPage<string[]>(
    page,
    `(() => {
      const out = [];
      for (const root of document.querySelectorAll(${JSON.stringify(selector)})) {
        const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
        for (let n = walker.nextNode(); n; n = walker.nextNode()) {
          if (n.parentElement && n.parentElement.closest('[translate="no"], code, .mono, script, style, noscript')) continue;
          out.push(n.textContent);
        }
      }
      return out;
    })()`,
  );
  const words: string[] = [];
  for (const text of texts) {
    for (const raw of text.match(/[A-Za-z0-9:/+._@\u2026-]+/g) ?? []) {
      const token = raw.replace(/[.-]+$/, "");
      if (LATIN_ALLOWED.has(token) || /[0-9:/+_@\u2026]/.test(token)) continue;
      for (const part of token.split(/[.-]/)) if (/^[A-Za-z]{2,}$/.test(part) && !LATIN_ALLOWED.has(part)) words.push(part);
    }
  }
  return words;
}
