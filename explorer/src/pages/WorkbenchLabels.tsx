/**
 * Workbench: label sheets for items (lib/workbench/labels.ts), shown in the page, printed at their
 * true size (the print style shows only the sheets) or downloaded as SVG or PDF (labels-pdf.ts,
 * loaded on the first PDF asked for: pdf-lib is large). The QR codes carry the items' Digital Links
 * on this gateway's origin, whose resolver leads a scanning phone to the item.
 */
import { useMemo, useState } from "preact/hooks";
import { LABEL_SIZE_NAMES, type LabelSize, labelSheets } from "../../../lib/workbench/labels.ts";
import { useI18n } from "../i18n.ts";

export function LabelSheet({ items }: { items: readonly string[] }) {
  const { t } = useI18n();
  const [size, setSize] = useState<LabelSize>("70x37");
  const [caption, setCaption] = useState("");
  const pages = useMemo(() => labelSheets(items, { host: location.origin, size, ...(caption.trim() ? { caption: caption.trim() } : {}) }), [items, size, caption]);
  const [pdfFault, setPdfFault] = useState<string>();
  const save = (blob: Blob, name: string) => {
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = name;
    a.click();
    // Not at once: the browser reads the blob after the click returns.
    setTimeout(() => URL.revokeObjectURL(a.href), 60_000);
  };
  const download = () => pages.forEach((svg, i) => save(new Blob([svg], { type: "image/svg+xml" }), `labels-${size}-${i + 1}.svg`));
  const downloadPdf = async () => {
    const { labelPdf, LabelTextError } = await import("../../../lib/workbench/labels-pdf.ts");
    try {
      const pdf = await labelPdf(items, { host: location.origin, size, ...(caption.trim() ? { caption: caption.trim() } : {}) });
      setPdfFault(undefined);
      save(new Blob([pdf as Uint8Array<ArrayBuffer>], { type: "application/pdf" }), `labels-${size}.pdf`);
    } catch (e) {
      if (!(e instanceof LabelTextError)) throw e;
      setPdfFault(t("wb.labels.pdfCaption"));
    }
  };
  return (
    <section aria-labelledby="wb-labels" class="labels">
      <h3 id="wb-labels">{t("wb.labels.title", { items: items.length, pages: pages.length })}</h3>
      <div class="wb-form">
        <label>
          {t("wb.labels.size")}
          <select value={size} onChange={(e) => setSize(e.currentTarget.value as LabelSize)}>
            {LABEL_SIZE_NAMES.map((s) => (
              <option key={s} value={s}>
                {t(`wb.labels.${s}`)}
              </option>
            ))}
          </select>
        </label>
        <label>
          {t("wb.labels.caption")}
          <input value={caption} maxLength={40} onInput={(e) => setCaption(e.currentTarget.value)} />
        </label>
        <button type="button" onClick={() => print()}>
          {t("wb.labels.print")}
        </button>
        <button type="button" onClick={download}>
          {t("wb.labels.download")}
        </button>
        <button type="button" onClick={() => void downloadPdf()} data-testid="labels-pdf">
          {t("wb.labels.downloadPdf")}
        </button>
      </div>
      {pdfFault !== undefined && (
        <p class="error" role="alert">
          {pdfFault}
        </p>
      )}
      <div class="label-pages" data-testid="label-pages">
        {pages.map((svg, i) => (
          // The SVG is built from checked identifiers with every text escaped (labels.ts).
          <div key={i} class="label-page" dangerouslySetInnerHTML={{ __html: svg }} />
        ))}
      </div>
    </section>
  );
}
