/**
 * The supplier's workbench, for the signed-in organisation: register items (form or spreadsheet),
 * print their labels, see its items, ship them, receive what partners shipped, share its data. Every action is an
 * EPCIS 2.0 document built by lib/epcis/builders.ts and sent to the gateway's POST /capture, the
 * same path any other client uses; the page follows the capture job and says in plain words why
 * it was refused. Tabs live in the hash route (#/workbench/<tab>).
 */
import type { ComponentChildren } from "preact";
import { useState } from "preact/hooks";
import type { CaptureJobAnswer } from "../../../lib/api/capture.ts";
import type { HealthAnswer } from "../../../lib/api/health.ts";
import { ApiError, api, enc, session } from "../api.ts";
import { ErrorView } from "../components/async.tsx";
import { useI18n } from "../i18n.ts";
import { WORKBENCH_TABS, type WorkbenchTab, href } from "../router.ts";
import { DevicesTab } from "./WorkbenchDevices.tsx";
import { LotsTab } from "./WorkbenchLots.tsx";
import { RegisterTab } from "./WorkbenchRegister.tsx";
import { ReceiveTab } from "./WorkbenchReceive.tsx";
import { ShareTab } from "./WorkbenchShare.tsx";
import { StockTab } from "./WorkbenchStock.tsx";

export function WorkbenchPage({ tab }: { tab: WorkbenchTab }) {
  const { t } = useI18n();
  const me = session();
  if (me === undefined) return <ErrorView error={new ApiError(401, { title: "sign in" })} />;
  return (
    <article class="workbench">
      <h1>{t("wb.title", { org: me.organisation.name })}</h1>
      <nav class="tabs" aria-label={t("wb.title", { org: me.organisation.name })}>
        {WORKBENCH_TABS.map((x) => (
          <a key={x} href={href({ page: "workbench", tab: x })} aria-current={x === tab ? "page" : undefined}>
            {t(`wb.tab.${x}`)}
          </a>
        ))}
      </nav>
      {tab === "register" && <RegisterTab />}
      {tab === "stock" && <StockTab />}
      {tab === "receive" && <ReceiveTab />}
      {tab === "lots" && <LotsTab />}
      {tab === "share" && <ShareTab />}
      {tab === "devices" && <DevicesTab />}
    </article>
  );
}

/** Where a run of capture pages stands. */
export interface CaptureProgress {
  page: number;
  pages: number;
  job?: CaptureJobAnswer;
  /** Items recorded so far. */
  done: number;
  total: number;
  finished: boolean;
  /** Why the gateway or the chain refused, in its words. */
  refused?: string;
  error?: unknown;
}

/** How long a finished capture waits for the chain index to reach its block before the lists reload anyway. */
const INDEX_WAIT_MS = 15_000;

/**
 * Waits until this gateway's chain index has read `block` (GET /health's indexedBlock), so a list
 * reloaded next shows what was just recorded; gives up quietly without an index or after
 * `limitMs`. True when the index has read the block (or there is no index to wait for).
 */
export async function untilIndexed(block: number, limitMs = INDEX_WAIT_MS): Promise<boolean> {
  const until = Date.now() + limitMs;
  while (Date.now() < until) {
    const health = await api<HealthAnswer>("/health").catch(() => undefined);
    if (health?.indexedBlock === undefined || health.indexedBlock >= block) return true;
    await new Promise((r) => setTimeout(r, 250));
  }
  return false;
}

/**
 * Captures documents one after the other, following each job; stops at the first refusal. Once
 * every page succeeded and the chain index has caught up, `onCaptured` runs (the lists the
 * capture changed reload).
 */
export function useCapture(onCaptured?: () => void): [CaptureProgress | undefined, (pages: { document: unknown; items: number }[]) => Promise<boolean>] {
  const [progress, setProgress] = useState<CaptureProgress>();
  const run = async (pages: { document: unknown; items: number }[]): Promise<boolean> => {
    const total = pages.reduce((n, p) => n + p.items, 0);
    let done = 0;
    let lastBlock = 0;
    for (const [i, p] of pages.entries()) {
      const base = { page: i + 1, pages: pages.length, done, total, finished: false };
      setProgress(base);
      try {
        let job = await api<CaptureJobAnswer>("/capture", { body: p.document });
        while (job.state === "pending" || job.state === "running") {
          setProgress({ ...base, job });
          await new Promise((r) => setTimeout(r, 250));
          job = await api<CaptureJobAnswer>(`/capture/${enc(job.captureID)}`);
        }
        if (!job.success) {
          const why = job.errors.map((e) => e.message).join("; ") || job.lastError || job.state;
          setProgress({ ...base, job, finished: true, refused: why });
          return false;
        }
        done += p.items;
        lastBlock = Math.max(lastBlock, ...(job.results ?? []).map((r) => r.block ?? 0));
        setProgress({ ...base, job, done, finished: i === pages.length - 1 });
      } catch (error) {
        setProgress({ ...base, finished: true, error });
        return false;
      }
    }
    if (onCaptured !== undefined) {
      await untilIndexed(lastBlock);
      onCaptured();
    }
    return true;
  };
  return [progress, run];
}

export function CaptureStatus({ progress }: { progress: CaptureProgress | undefined }) {
  const { t } = useI18n();
  if (progress === undefined) return null;
  const pct = progress.total === 0 ? 100 : Math.round((progress.done / progress.total) * 100);
  return (
    <div class="capture-status" role="status" aria-live="polite" data-testid="capture-status" data-finished={String(progress.finished)} data-ok={String(progress.finished && !progress.refused && !progress.error)}>
      <progress max={100} value={pct} />
      <p>{t("wb.progress", { page: progress.page, pages: progress.pages, done: progress.done, total: progress.total, state: progress.job?.state ?? "sending" })}</p>
      {progress.refused !== undefined && (
        <p class="error" role="alert">
          {t("wb.refused", { why: progress.refused })}
        </p>
      )}
      {progress.error !== undefined && <ErrorView error={progress.error} />}
      {progress.finished && progress.refused === undefined && progress.error === undefined && <p class="ok">{t("wb.captured", { total: progress.total })}</p>}
    </div>
  );
}

/**
 * The end of every workbench form: its submit button (held while a capture runs), what is wrong
 * with the input, the capture's progress, and once the capture succeeded `children` (e.g. a
 * document to download) and a link that reloads the list the form acted on.
 */
export function FormFooter(p: { label: string; testId: string; disabled?: boolean; fault: string | undefined; progress: CaptureProgress | undefined; onRefresh?: () => void; children?: ComponentChildren }) {
  const { t } = useI18n();
  const running = p.progress !== undefined && !p.progress.finished;
  const succeeded = p.progress !== undefined && p.progress.finished && p.progress.refused === undefined && p.progress.error === undefined;
  return (
    <>
      <p>
        <button type="submit" data-testid={p.testId} disabled={p.disabled === true || running}>
          {p.label}
        </button>
      </p>
      {p.fault !== undefined && (
        <p class="error" role="alert">
          {p.fault}
        </p>
      )}
      <CaptureStatus progress={p.progress} />
      {succeeded && (p.children !== undefined || p.onRefresh !== undefined) && (
        <p>
          {p.children}{" "}
          {p.onRefresh !== undefined && (
            <button type="button" class="link" onClick={p.onRefresh}>
              {t("wb.stock.refresh")}
            </button>
          )}
        </p>
      )}
    </>
  );
}
