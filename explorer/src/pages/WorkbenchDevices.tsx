/**
 * Workbench: the member's own devices and data streams (GET /workbench/devices, from its node's
 * status): each device's state and reading rate, each stream's rate and late or skewed readings,
 * the last anchored window and how long ago it was anchored.
 */
import { useState } from "preact/hooks";
import type { DevicesAnswer } from "../../../lib/api/devices.ts";
import { api } from "../api.ts";
import { Async, useAsync } from "../components/async.tsx";
import { useCodeWord } from "../components/Recall.tsx";
import { useI18n } from "../i18n.ts";

const rate = (n: number | null) => (n === null ? "–" : String(n));

export function DevicesTab() {
  const { t } = useI18n();
  const deviceWord = useCodeWord("device");
  const anchoringWord = useCodeWord("anchoring");
  const [reload, setReload] = useState(0);
  const state = useAsync(() => api<DevicesAnswer>("/workbench/devices"), [reload]);
  return (
    <section aria-labelledby="wb-devices" class="wb-devices">
      <h2 id="wb-devices">{t("wb.dev.title")}</h2>
      <p>
        <button type="button" onClick={() => setReload((n) => n + 1)} data-testid="devices-refresh">
          {t("wb.ship.refresh")}
        </button>
      </p>
      <Async state={state}>
        {(a) => (
          <>
            <p data-testid="anchoring" data-anchored={a.windows.anchored} data-lag={a.anchoringLagS ?? ""}>
              {a.lastAnchor === null
                ? t("wb.dev.noAnchor", { pending: a.windows.pending })
                : t("wb.dev.anchor", { window: a.lastAnchor.sequence, lag: a.anchoringLagS ?? 0, pending: a.windows.pending, state: anchoringWord(a.anchoring.state) })}
            </p>
            {a.historicalReadings > 0 && (
              <p data-testid="historical" data-historical={a.historicalReadings}>
                {t("wb.dev.historical", { n: a.historicalReadings })}
              </p>
            )}
            {a.anchoring.lastError !== undefined && (
              <p class="error" role="alert">
                {a.anchoring.lastError}
              </p>
            )}
            <h3>{t("wb.dev.devices")}</h3>
            {a.devices.length === 0 && <p>{t("wb.dev.noDevices")}</p>}
            <ul class="device-list">
              {a.devices.map((d) => (
                <li key={d.device} data-device={d.device} data-state={d.state} data-rate={d.perMinute ?? ""}>
                  <strong translate={false}>{d.device}</strong>: {t("wb.dev.device", { state: deviceWord(d.state), rate: rate(d.perMinute), readings: d.readings, gaps: d.gaps })}
                  {d.detail !== undefined && <span class="notice"> {d.detail}</span>}
                </li>
              ))}
            </ul>
            <h3>{t("wb.dev.streams")}</h3>
            <ul class="device-list">
              {a.streams.map((s) => (
                <li key={s.stream} data-stream={s.stream} data-late={s.late} data-ahead={s.ahead}>
                  <strong translate={false}>{s.stream}</strong>: {t("wb.dev.stream", { rate: rate(s.perMinute), readings: s.readings })}
                  {s.late + s.ahead > 0 && (
                    <span class="notice">
                      {[s.late > 0 ? t("wb.dev.late", { n: s.late, s: s.maxLateMs / 1000 }) : "", s.ahead > 0 ? t("wb.dev.ahead", { n: s.ahead, s: s.maxAheadMs / 1000 }) : ""].filter((x) => x !== "").join("; ")}
                    </span>
                  )}
                </li>
              ))}
            </ul>
          </>
        )}
      </Async>
    </section>
  );
}
