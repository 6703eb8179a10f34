/**
 * Workbench: register items. From a form (GTIN, serials, lot, production date, site) or an
 * uploaded spreadsheet (CSV or XLSX, the template is offered for download): every row is checked
 * and shown with its faults before anything is sent, and nothing is sent while any row has one.
 * The items are then captured page by page (lib/workbench/sheet.ts) with progress, and their
 * labels can be printed.
 */
import type { TargetedEvent } from "preact";
import { useMemo, useState } from "preact/hooks";
import { type Cell, type CheckedSheet, SHEET_COLUMNS, capturePages, cellText, checkSheet, columnIndex, expandSerials, readSheetFile, templateCsv } from "../../../lib/workbench/sheet.ts";
import { useI18n } from "../i18n.ts";
import { faultLine, faultText } from "../sheet-faults.ts";
import { CaptureStatus, useCapture } from "./Workbench.tsx";
import { LabelSheet } from "./WorkbenchLabels.tsx";

const PREVIEW_ROWS = 200;

export function RegisterTab() {
  const { t } = useI18n();
  const [table, setTable] = useState<Cell[][]>();
  const [source, setSource] = useState("");
  const [readError, setReadError] = useState<string>();
  const [progress, capture] = useCapture();
  const [registered, setRegistered] = useState<string[]>();
  const checked: CheckedSheet | undefined = useMemo(() => (table === undefined ? undefined : checkSheet(table)), [table]);

  const upload = async (e: TargetedEvent<HTMLInputElement>) => {
    const file = e.currentTarget.files?.[0];
    if (file === undefined) return;
    setRegistered(undefined);
    try {
      setTable(await readSheetFile(new Uint8Array(await file.arrayBuffer())));
      setSource(file.name);
      setReadError(undefined);
    } catch (err) {
      setTable(undefined);
      setReadError((err as Error).message);
    }
  };
  const fromForm = (rows: Cell[][]) => {
    setRegistered(undefined);
    setTable([[...SHEET_COLUMNS], ...rows]);
    setSource(t("wb.reg.form"));
  };
  const send = async () => {
    if (checked === undefined || checked.faults.length > 0) return;
    const pages = capturePages(checked.items, { time: new Date().toISOString() });
    if (await capture(pages.map((p) => ({ document: p.document, items: p.items.length })))) setRegistered(checked.items.map((i) => i.id));
  };
  const downloadTemplate = () => {
    const a = document.createElement("a");
    a.href = URL.createObjectURL(new Blob([templateCsv()], { type: "text/csv" }));
    a.download = "tracemesh-items.csv";
    a.click();
    URL.revokeObjectURL(a.href);
  };

  return (
    <section aria-labelledby="wb-register">
      <h2 id="wb-register">{t("wb.reg.title")}</h2>
      <p>{t("wb.reg.intro")}</p>
      <RegisterForm onRows={fromForm} />
      <h3>{t("wb.reg.sheet")}</h3>
      <p>
        <label>
          {t("wb.reg.upload")} <input type="file" accept=".csv,.xlsx,text/csv,application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" onChange={upload} data-testid="sheet-file" />
        </label>{" "}
        <button type="button" class="link" onClick={downloadTemplate}>
          {t("wb.reg.template")}
        </button>
      </p>
      {readError !== undefined && (
        <p class="error" role="alert">
          {t("wb.reg.unreadable", { why: readError })}
        </p>
      )}
      {checked !== undefined && (
        <div data-testid="sheet-preview">
          <p role="status" data-testid="sheet-summary" data-faults={checked.faults.length} data-items={checked.items.length}>
            {checked.faults.length === 0 ? t("wb.reg.ready", { items: checked.items.length, source }) : t("wb.reg.faulty", { faults: checked.faults.length, source })}
          </p>
          {checked.faults.length > 0 && (
            <ul class="faults" data-testid="sheet-faults">
              {checked.faults.slice(0, 100).map((f) => (
                <li key={`${f.row}:${f.column ?? ""}`}>
                  {faultLine(t, f)}
                </li>
              ))}
            </ul>
          )}
          <div class="table-wrap">
            <table>
              <thead>
                <tr>
                  <th>#</th>
                  {SHEET_COLUMNS.map((c) => (
                    <th key={c}>{c}</th>
                  ))}
                </tr>
              </thead>
              <tbody>
                {(table ?? []).slice(1, PREVIEW_ROWS + 1).map((cells, i) => {
                  const row = i + 2;
                  const faults = checked.faults.filter((f) => f.row === row);
                  return (
                    <tr key={row} class={faults.length > 0 ? "bad" : undefined} data-row={row} title={faults.map((f) => faultText(t, f)).join("; ") || undefined}>
                      <td>{row}</td>
                      {SHEET_COLUMNS.map((c, k) => (
                        <td key={c} class={faults.some((f) => f.column === c) ? "bad-cell" : undefined}>
                          {cellText(cells[columnIndex(table!, k)])}
                        </td>
                      ))}
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
          {table!.length - 1 > PREVIEW_ROWS && <p>{t("wb.reg.more", { more: table!.length - 1 - PREVIEW_ROWS })}</p>}
          <button type="button" onClick={send} disabled={checked.faults.length > 0 || (progress !== undefined && !progress.finished)} data-testid="register">
            {t("wb.reg.send", { items: checked.items.length })}
          </button>
        </div>
      )}
      <CaptureStatus progress={progress} />
      {registered !== undefined && <LabelSheet items={registered} />}
    </section>
  );
}

/** The form: one GTIN, serials one per line (or a range like C-001..C-100), lot, date and site. */
function RegisterForm({ onRows }: { onRows: (rows: Cell[][]) => void }) {
  const { t } = useI18n();
  const [f, setF] = useState({ gtin: "", serials: "", lot: "", date: "", location: "" });
  const field = (k: keyof typeof f, label: string, multiline = false) => (
    <label>
      {label}
      {multiline ? (
        <textarea rows={3} value={f[k]} onInput={(e) => setF({ ...f, [k]: e.currentTarget.value })} data-testid={`reg-${k}`} />
      ) : k === "date" ? (
        <input type="date" value={f[k]} onInput={(e) => setF({ ...f, [k]: e.currentTarget.value })} data-testid={`reg-${k}`} />
      ) : (
        <input value={f[k]} onInput={(e) => setF({ ...f, [k]: e.currentTarget.value })} data-testid={`reg-${k}`} />
      )}
    </label>
  );
  const submit = (e: TargetedEvent<HTMLFormElement>) => {
    e.preventDefault();
    onRows(expandSerials(f.serials).map((serial) => [f.gtin.trim(), serial, f.lot.trim(), f.date, f.location.trim()]));
  };
  return (
    <form class="wb-form" onSubmit={submit}>
      {field("gtin", t("wb.reg.gtin"))}
      {field("serials", t("wb.reg.serials"), true)}
      {field("lot", t("wb.reg.lot"))}
      {field("date", t("wb.reg.date"))}
      {field("location", t("wb.reg.location"))}
      <button type="submit" data-testid="reg-check">
        {t("wb.reg.check")}
      </button>
    </form>
  );
}

