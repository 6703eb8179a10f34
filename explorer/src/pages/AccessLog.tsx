/**
 * Who read our data: the owner's access log (GET /access-log), every read of this organisation's
 * documents and readings by a partner with the grant or rule that allowed it, and the check of
 * the log's hash chain (GET /access-log/head). The gateway serves it to the owner only; anyone
 * else sees its refusal.
 */
import type { AccessLogAnswer, AccessLogEntry, AccessLogHeadAnswer, AccessSubject } from "../../../lib/api/access-log.ts";
import type { ConsortiumAnswer } from "../../../lib/api/trace.ts";
import { api } from "../api.ts";
import { Async, useAsync } from "../components/async.tsx";
import { formatTime, useI18n } from "../i18n.ts";

/** A long hex value cut to its ends for the table; the whole value stays in the title. */
const short = (v: string) => (/^0x[0-9a-f]{40,}$/i.test(v) ? `${v.slice(0, 10)}…${v.slice(-4)}` : v);
const shortAll = (text: string) => text.replace(/0x[0-9a-fA-F]{40,}/g, short);
/** What a read named: the event (by its declared id, else its hash) or the stream. */
const subjectText = (s: AccessSubject): string => (s.kind === "stream" ? s.stream : (s.eventID ?? s.eventHash));

export function AccessLogPage() {
  const { t } = useI18n();
  const state = useAsync(
    async (signal) => {
      const [log, head] = await Promise.all([api<AccessLogAnswer>("/access-log?limit=1000", { signal }), api<AccessLogHeadAnswer>("/access-log/head", { signal })]);
      return { log, head, names: await memberNames(signal) };
    },
    [],
  );
  return (
    <article>
      <h1>{t("accessLog.title")}</h1>
      <p>{t("accessLog.intro")}</p>
      <Async state={state}>
        {({ log, head, names }) => (
          <>
            <p class={head.check.ok ? "notice" : "notice bad"} role="status" data-testid="access-log-check" data-ok={String(head.check.ok)}>
              {head.check.ok
                ? t("accessLog.chainOk", { entries: head.check.entries, hash: `${head.head.hash.slice(0, 16)}…` })
                : t("accessLog.chainBroken", { seq: head.check.seq, problem: head.check.problem })}
            </p>
            {log.entries.length === 0 ? <p>{t("accessLog.empty")}</p> : <AccessLogTable entries={log.entries} names={names} />}
          </>
        )}
      </Async>
    </article>
  );
}

/** Access log entries, newest first: when, which organisation, what, under which grant or rule, purpose, channel. */
export function AccessLogTable({ entries, names }: { entries: readonly AccessLogEntry[]; names: ReadonlyMap<number, string> }) {
  const { t, lang } = useI18n();
  return (
    <div class="table-wrap">
      <table data-testid="access-log">
        <thead>
          <tr>
            <th scope="col">{t("accessLog.when")}</th>
            <th scope="col">{t("accessLog.reader")}</th>
            <th scope="col">{t("accessLog.what")}</th>
            <th scope="col">{t("accessLog.allowedBy")}</th>
            <th scope="col">{t("accessLog.purpose")}</th>
            <th scope="col">{t("accessLog.channel")}</th>
          </tr>
        </thead>
        <tbody>
          {[...entries].reverse().map((e) => (
            <tr key={e.seq} data-seq={e.seq} data-reader={e.reader} data-allowed-by={e.allowedBy}>
              <td>{formatTime(lang, e.time)}</td>
              <th scope="row">{names.get(e.reader) ?? `#${e.reader}`}</th>
              <td class="mono small" title={e.subject.kind === "stream" ? e.subject.stream : e.subject.eventHash}>
                {`${e.subject.kind} ${shortAll(subjectText(e.subject))}`}
              </td>
              <td class="small" title={e.allowedBy}>
                {shortAll(e.allowedBy)}
              </td>
              <td class="mono small" title={e.purpose ?? undefined}>
                {e.purpose === null ? "—" : shortAll(e.purpose)}
              </td>
              <td>{e.channel}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** Organisation names of the consortium, for the readers; the ids alone when the directory cannot be read. */
export async function memberNames(signal: AbortSignal): Promise<Map<number, string>> {
  const members = await api<ConsortiumAnswer>("/consortium?proposals=0", { signal }).then((c) => c.members, () => []);
  return new Map(members.map((m) => [m.id, m.name]));
}
