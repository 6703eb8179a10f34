/**
 * The process data bound to an event (e.g. the furnace curve of a heat): every reading's Merkle
 * proof is verified here, against the anchor root read from DataAnchors over /chain/rpc
 * (lib/verify-reading.ts; the anchor the gateway sends along is not used for the verdict).
 */
import { useEffect, useState } from "preact/hooks";
import type { Reading } from "../../../lib/reading.ts";
import { type ReadingProof, type VerifyResult, cachedAnchorView, contractAnchorView, verifyReading } from "../../../lib/verify-reading.ts";
import type { AccessLogEntry } from "../../../lib/api/access-log.ts";
import { api, enc } from "../api.ts";
import { AccessLogTable, memberNames } from "./AccessLog.tsx";
import { Async, useAsync } from "../components/async.tsx";
import { type ChartPoint, chartData } from "../chart-data.ts";
import { ReadingsChart } from "../components/Chart.tsx";
import { getChain } from "../chain.ts";
import { type MessageKey, formatTime, useI18n } from "../i18n.ts";

export interface BoundReadings {
  /** To the event's owner: who read this step's data (its access log's entries for the event). */
  readers?: AccessLogEntry[];
  /** The event's record hash: the readers' entries are shown with this event's reads only. */
  recordHash?: string;
  streams: { stream: string; node: string; readings: { reading: Reading; proof: ReadingProof; anchor?: unknown }[] }[];
}

type Checked = { stream: string; node: string; rows: { reading: Reading; proof: ReadingProof; result: VerifyResult | { ok: false; reason: "error"; detail: string } }[] }[];

async function verifyAll(data: BoundReadings): Promise<Checked> {
  const chain = await getChain();
  const anchors = cachedAnchorView(contractAnchorView(chain.dataAnchors));
  return Promise.all(
    data.streams.map(async (s) => ({
      stream: s.stream,
      node: s.node,
      rows: await Promise.all(
        s.readings.map(async ({ reading, proof }) => {
          try {
            return { reading, proof, result: await verifyReading(reading, proof, anchors) };
          } catch (e) {
            return { reading, proof, result: { ok: false as const, reason: "error" as const, detail: e instanceof Error ? e.message : String(e) } };
          }
        }),
      ),
    })),
  );
}

export function ReadingsPage({ eventId }: { eventId: string }) {
  const { t } = useI18n();
  const data = useAsync((signal) => api<BoundReadings>(`/events/${enc(eventId)}/readings`, { signal }), [eventId]);
  return (
    <article>
      <h1>{t("readings.title")}</h1>
      <p class="mono break">{t("readings.event", { id: eventId })}</p>
      <Async state={data} what={eventId}>
        {(d) => (
          <>
            {d.streams.length === 0 ? <p>{t("readings.none")}</p> : <Verified data={d} />}
            {d.readers !== undefined && <ReadersOf entries={d.readers} event={d.recordHash} />}
          </>
        )}
      </Async>
    </article>
  );
}

/** For the event's owner: which partners read this event's document and readings, under which grant or rule. */
function ReadersOf({ entries, event }: { entries: AccessLogEntry[]; event: string | undefined }) {
  const { t } = useI18n();
  // Names only when there is someone to name.
  const names = useAsync((signal) => (entries.length > 0 ? memberNames(signal) : Promise.resolve(new Map<number, string>())), [entries]);
  return (
    <section class="readers" data-testid="readers">
      <h2>{t("readings.readers")}</h2>
      {entries.length === 0 ? (
        <p>{t("readings.noReaders")}</p>
      ) : (
        <Async state={names}>{(n) => <AccessLogTable entries={entries} names={n} event={event} />}</Async>
      )}
    </section>
  );
}

function Verified({ data }: { data: BoundReadings }) {
  const { t, lang } = useI18n();
  const [checked, setChecked] = useState<Checked | { error: unknown }>();
  useEffect(() => {
    let live = true;
    verifyAll(data).then(
      (c) => live && setChecked(c),
      (error: unknown) => live && setChecked({ error }),
    );
    return () => {
      live = false;
    };
  }, [data]);
  if (checked === undefined) return <p role="status">{t("badge.checking")}</p>;
  if ("error" in checked) return <p class="error">{t("badge.error")}: {String(checked.error)}</p>;
  return (
    <>
      {checked.map((s) => {
        const points: ChartPoint[] = s.rows.map((r) => ({
          time: r.reading.sourceTime,
          seq: r.proof.seq,
          value: typeof r.reading.value === "number" ? r.reading.value : null,
          ok: r.result.ok,
        }));
        const cd = chartData(points);
        const verified = s.rows.filter((r) => r.result.ok).length;
        const failed = s.rows.length - verified;
        const historical = s.rows.filter((r) => r.reading.historical === true).length;
        return (
          <section key={s.stream} class="stream" data-stream={s.stream} data-verified={verified} data-failed={failed} data-gaps={cd.gaps.length} data-historical={historical}>
            <h2>{s.stream}</h2>
            <p class={failed === 0 ? "ok" : "bad"} role="status">
              {t("readings.summary", { verified, total: s.rows.length })}
              {failed > 0 && <> · {t("readings.failed", { count: failed })}</>}
              {cd.gaps.length > 0 && <> · {t("readings.gaps", { count: cd.gaps.length })}</>}
              {historical > 0 && <> · {t("readings.historicalCount", { count: historical })}</>}
            </p>
            <ReadingsChart title={s.stream} unit={s.rows[0]?.reading.unit} data={cd} />
            <details>
              <summary>{t("readings.table")}</summary>
              <div class="table-wrap">
                <table>
                  <thead>
                    <tr>
                      <th scope="col">{t("readings.seq")}</th>
                      <th scope="col">{t("readings.time")}</th>
                      <th scope="col">{t("readings.value")}</th>
                      <th scope="col">{t("readings.check")}</th>
                    </tr>
                  </thead>
                  <tbody>
                    {s.rows.map((r) => (
                      <tr key={r.proof.seq} class={r.result.ok ? "" : "bad"} data-historical={r.reading.historical === true}>
                        <td>{r.proof.seq}</td>
                        <td>
                          {formatTime(lang, r.reading.sourceTime)}
                          {r.reading.historical === true && (
                            <span class="notice historical" title={t("readings.historicalHint")}>
                              {" "}
                              · {t("readings.historical")}
                            </span>
                          )}
                        </td>
                        <td>
                          {String(r.reading.value)} {r.reading.unit ?? ""}
                        </td>
                        <td>{r.result.ok ? "✓" : `✗ ${r.result.reason === "error" ? r.result.detail : t(`fail.${r.result.reason}` as MessageKey)}`}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            </details>
          </section>
        );
      })}
    </>
  );
}
