/**
 * `tm capture` and `tm import`: EPCIS events from the command line, through the member gateway's
 * POST /capture like any other client (signed in with the organisation's key), following each
 * capture job to its outcome.
 *
 * - capture: an EPCIS 2.0 document, JSON(-LD) or XML, from a file or standard input ("-").
 * - import: a spreadsheet (CSV or XLSX, the workbench's template) of items to register; every row
 *   is checked first (lib/workbench/sheet.ts) and nothing is sent while any row has a fault; the
 *   items are then captured page by page, with progress. `--labels FILE` writes their label
 *   sheets for printing: FILE.pdf as one PDF, otherwise SVG, one page per file.
 */
import { readFileSync, writeFileSync } from "node:fs";
import type { CaptureJobAnswer } from "../../lib/api/capture.ts";
import { GatewayClient, GatewayError } from "../../lib/gateway-client.ts";
import { LABEL_SIZES, type LabelSize, labelSheets } from "../../lib/workbench/labels.ts";
import { capturePages, checkSheet, readSheetFile } from "../../lib/workbench/sheet.ts";
import type { GatewayHandler, GatewaySession, Invocation } from "./handler.ts";
import { Refusal, UsageError } from "./output.ts";
import * as parse from "./parse.ts";

function gatewayOf(inv: Invocation): string {
  const gateway = parse.str(inv.values, "gateway") ?? process.env.TRACEMESH_GATEWAY;
  if (gateway === undefined) throw new UsageError("--gateway URL is missing (or set TRACEMESH_GATEWAY): your member gateway, e.g. http://127.0.0.1:8601", inv.command);
  if (!/^https?:\/\/[^\s/]+/.test(gateway)) throw new UsageError(`--gateway must be the member gateway's URL (http://host:port), got "${gateway}"`, inv.command);
  return gateway.replace(/\/+$/, "");
}

function readInput(file: string, command: string): Buffer {
  try {
    return readFileSync(file === "-" ? 0 : file);
  } catch (e) {
    throw new UsageError(`cannot read ${file === "-" ? "standard input" : file}: ${(e as Error).message}`, command);
  }
}

function clientFor(s: GatewaySession, gateway: string, command: string): GatewayClient {
  if (!s.wallet) throw new UsageError(`\`${command}\` signs in at the gateway as your organisation: give --key-file FILE, or set TRACEMESH_KEY`, command);
  return new GatewayClient(gateway, s.wallet);
}

/** Sends one document and follows its job; a refusal (by the gateway or the chain) says why. */
async function captureOne(s: GatewaySession, client: GatewayClient, document: unknown, what: string): Promise<CaptureJobAnswer> {
  let last = "";
  let job: CaptureJobAnswer;
  try {
    job = await client.capture(document, {
      onProgress: (j) => {
        if (j.state !== last) s.out.note(`${what}: capture job ${j.captureID} ${(last = j.state)} (${j.eventCount} events)`);
      },
    });
  } catch (e) {
    if (e instanceof GatewayError) throw new Refusal(`the gateway at ${client.url} refused ${what}: ${e.message}`, { status: e.status, problem: e.problem });
    throw new Refusal(`cannot capture ${what} at ${client.url}: ${(e as Error).message}`, {});
  }
  if (!job.success) {
    const why = job.errors.map((e) => (e.index >= 0 ? `event ${e.index}: ${e.message}` : e.message)).join("; ") || job.lastError || job.state;
    throw new Refusal(`${what} was not recorded: ${why}`, { captureID: job.captureID, errors: job.errors });
  }
  return job;
}

export const capture: GatewayHandler = (inv) => {
  const gateway = gatewayOf(inv);
  const file = inv.positionals[0]!;
  const bytes = readInput(file, inv.command);
  const text = bytes.toString("utf8");
  // JSON is checked here so a typo is a usage error, not a round trip; XML goes as it is.
  const document: unknown = text.trimStart().startsWith("<") ? text : parseJson(text, file, inv.command);
  return async (s) => {
    const client = clientFor(s, gateway, inv.command);
    const job = await captureOne(s, client, document, file === "-" ? "the document" : file);
    const results = job.results ?? [];
    return {
      text: [
        `captured ${job.eventCount} event(s) as job ${job.captureID}${job.replay ? " (the same document was captured before)" : ""}`,
        ...results.map((r) => `  #${r.index} ${r.how}${r.call ? ` (${r.call})` : ""} ${r.hashId}${r.tx ? ` tx ${r.tx}` : ""}${r.note ? `: ${r.note}` : ""}`),
      ].join("\n"),
      json: job,
    };
  };
};

function parseJson(text: string, file: string, command: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new UsageError(`${file === "-" ? "standard input" : file} is neither EPCIS XML nor JSON: ${(e as Error).message}`, command);
  }
}

export const importSheet: GatewayHandler = (inv) => {
  const gateway = gatewayOf(inv);
  const file = inv.positionals[0]!;
  const bytes = readInput(file, inv.command);
  const labels = parse.str(inv.values, "labels");
  const size = (parse.str(inv.values, "size") ?? "70x37") as LabelSize;
  if (!(size in LABEL_SIZES)) throw new UsageError(`--size must be one of ${Object.keys(LABEL_SIZES).join(", ")}, got "${size}"`, inv.command);
  const checkOnly = inv.values["check"] === true;
  return async (s) => {
    const table = await readSheetFile(new Uint8Array(bytes)).catch((e: Error) => {
      throw new Refusal(`${file} is not a readable CSV or XLSX sheet: ${e.message}`, {});
    });
    const { items, faults } = checkSheet(table);
    if (faults.length > 0) {
      const shown = faults.slice(0, 50).map((f) => `  row ${f.row}${f.column ? `, ${f.column}` : ""}: ${f.message}`);
      throw new Refusal(
        `${file}: ${faults.length} fault(s); nothing was captured. Fix or drop these rows:\n${shown.join("\n")}${faults.length > 50 ? `\n  ... and ${faults.length - 50} more` : ""}`,
        { faults },
      );
    }
    if (checkOnly) return { text: `${file}: ${items.length} items, no fault`, json: { items: items.length, faults: [] } };
    const client = clientFor(s, gateway, inv.command);
    const pages = capturePages(items, { time: new Date().toISOString() });
    const jobs: string[] = [];
    let done = 0;
    for (const [i, page] of pages.entries()) {
      const job = await captureOne(s, client, page.document, `page ${i + 1} of ${pages.length}`);
      jobs.push(job.captureID);
      done += page.items.length;
      s.out.note(`registered ${done} of ${items.length} items`);
    }
    const written: string[] = [];
    if (labels !== undefined && /\.pdf$/i.test(labels)) {
      // pdf-lib is large: loaded only when a PDF is asked for.
      const { labelPdf } = await import("../../lib/workbench/labels-pdf.ts");
      writeFileSync(labels, await labelPdf(items.map((i) => i.id), { host: gateway, size }));
      written.push(labels);
    } else if (labels !== undefined) {
      labelSheets(items.map((i) => i.id), { host: gateway, size }).forEach((svg, n, all) => {
        const name = all.length === 1 ? labels : labels.replace(/(\.svg)?$/i, `-${n + 1}.svg`);
        writeFileSync(name, svg);
        written.push(name);
      });
    }
    return {
      text: [`registered ${items.length} items from ${file} in ${pages.length} capture job(s)`, ...written.map((w) => `labels: ${w}`)].join("\n"),
      json: { items: items.length, jobs, labels: written },
    };
  };
};
