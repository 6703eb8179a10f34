/**
 * Who read our data: the owner's access log (GET /access-log), one entry per answer a partner was
 * served, naming each of this organisation's documents and readings it handed out with the grant
 * or rule that allowed it, and the check of the log's hash chain (GET /access-log/head). The
 * gateway serves it to the owner only; anyone else sees its refusal.
 */
import type { AccessLogAnswer, AccessLogEntry, AccessLogHeadAnswer, AccessRead, AccessSubject } from "../../../lib/api/access-log.ts";
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

/** The reads of `entry` that concern `event` (a record hash), or all of them. */
const readsOf = (entry: AccessLogEntry, event: string | undefined): AccessRead[] =>
  event === undefined ? entry.reads : entry.reads.filter((r) => r.subject.kind !== "stream" && r.subject.eventHash.toLowerCase() === event.toLowerCase());

/** The one value every read shares, or undefined when they differ. */
function shared<T>(reads: readonly AccessRead[], of: (r: AccessRead) => T): T | undefined {
  const first = of(reads[0]!);
  return reads.every((r) => of(r) === first) ? first : undefined;
}

/** One read's subject: its kind and the event (by id, else hash) or stream, long hashes cut. */
function SubjectCell({ read }: { read: AccessRead }) {
  const s = read.subject;
  return <span title={s.kind === "stream" ? s.stream : s.eventHash}>{`${s.kind} ${shortAll(subjectText(s))}`}</span>;
}

/**
 * Access log entries, newest first, one row per answer served: when, which organisation, what it
 * was handed (one read in place; several counted, listed when opened), under which grant or
 * rule, purpose, channel. `event`: show only the reads of that event (a record hash).
 */
export function AccessLogTable({ entries, names, event }: { entries: readonly AccessLogEntry[]; names: ReadonlyMap<number, string>; event?: string }) {
  const { t, lang } = useI18n();
  const kinds = ["document", "readings", "stream"] as const;
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
          {[...entries].reverse().map((e) => {
            const reads = readsOf(e, event);
            if (reads.length === 0) return null;
            const allowedBy = shared(reads, (r) => r.allowedBy);
            const purpose = shared(reads, (r) => r.purpose);
            const counts = kinds.map((k) => [k, reads.filter((r) => r.subject.kind === k).length] as const).filter(([, n]) => n > 0);
            return (
              <tr key={e.seq} data-seq={e.seq} data-reader={e.reader} data-reads={reads.length} data-allowed-by={[...new Set(reads.map((r) => r.allowedBy))].join("; ")} title={e.v === 1 ? t("accessLog.oldFormat") : undefined}>
                <td>{formatTime(lang, e.time)}</td>
                <th scope="row">{names.get(e.reader) ?? `#${e.reader}`}</th>
                <td class="mono small">
                  {reads.length === 1 ? (
                    <SubjectCell read={reads[0]!} />
                  ) : (
                    <details data-testid="access-log-reads">
                      <summary>
                        {t("accessLog.reads", { count: reads.length })} ({counts.map(([k, n]) => t(`accessLog.kind.${k}`, { n })).join(", ")})
                      </summary>
                      <ol class="access-reads">
                        {reads.map((r, i) => (
                          <li key={i}>
                            <SubjectCell read={r} />
                            {allowedBy === undefined && <span class="muted" title={r.allowedBy}>{` — ${shortAll(r.allowedBy)}`}</span>}
                            {purpose === undefined && <span class="muted" title={r.purpose ?? undefined}>{` — ${r.purpose === null ? "—" : shortAll(r.purpose)}`}</span>}
                          </li>
                        ))}
                      </ol>
                    </details>
                  )}
                </td>
                <td class="small" title={allowedBy}>
                  {allowedBy === undefined ? <span class="muted">{t("accessLog.perRead")}</span> : shortAll(allowedBy)}
                </td>
                <td class="mono small" title={purpose ?? undefined}>
                  {purpose === undefined ? <span class="muted">{t("accessLog.perRead")}</span> : purpose === null ? "—" : shortAll(purpose)}
                </td>
                <td>{e.channel}</td>
              </tr>
            );
          })}
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
