/**
 * Access requests (POST/GET /access-requests, gateway/routes/access-requests.ts), on two pages:
 * - `RequestAccess`, on an item page: a signed-in partner asks the item's maker for the item, or
 *   the item with its genealogy, for a purpose and a number of days, and sees what became of it.
 *   The form shows on the maker's own gateway (the one its QR code leads to), and on the partner's
 *   own gateway for its own organisation, which passes the request on to the maker's node over the
 *   peer network (the answer, accepted or why not, shows under the form); on any other gateway the
 *   page says where to ask.
 * - `RequestsToUs`, on the workbench's Share tab: the maker sees requests made to it and approves
 *   (an on-chain grant) or declines each.
 */
import { useEffect, useState } from "preact/hooks";
import type { AccessRequestAnswer, AccessRequestBody } from "../../../lib/api/grants.ts";
import type { PassportAnswer } from "../../../lib/api/trace.ts";
import { ApiError, api, enc, gatewayHealth, session } from "../api.ts";
import { formatTime, useI18n } from "../i18n.ts";
import { href } from "../router.ts";

type Outcome = { ok: boolean; text: string } | undefined;

function RequestState({ r }: { r: AccessRequestAnswer }) {
  const { t } = useI18n();
  return <span class={`state ${r.state}`}>{t(`access.state.${r.state}`)}</span>;
}

/** Why a request was not kept, in words: a duplicate, the maker's limit, the maker's node not reached, or the status. */
function requestRefusal(t: ReturnType<typeof useI18n>["t"], err: unknown, org: string): string {
  const status = err instanceof ApiError ? err.status : undefined;
  if (status === 409) return t("access.duplicate");
  if (status === 429) return t("access.limit", { org });
  if (status === 503) return t("access.unreachable", { org });
  return t("access.refused", { status: status ?? "?" });
}

export function RequestAccess({ id }: { id: string }) {
  const { t } = useI18n();
  const [maker, setMaker] = useState<{ id: number; name: string } | undefined>();
  /** The request is passed on to the maker's node by this (the partner's own) gateway. */
  const [passedOn, setPassedOn] = useState(false);
  /** A maker whose gateway is another than this one: the request is made there (said, not offered here). */
  const [elsewhere, setElsewhere] = useState<{ id: number; name: string } | undefined>();
  const [mine, setMine] = useState<AccessRequestAnswer[]>([]);
  const [scope, setScope] = useState<AccessRequestBody["scope"]>("item");
  const [purpose, setPurpose] = useState("");
  const [days, setDays] = useState("30");
  const [outcome, setOutcome] = useState<Outcome>();
  const [reload, setReload] = useState(0);
  const me = session()?.organisation.id;
  useEffect(() => {
    const abort = new AbortController();
    const signal = abort.signal;
    // Only on the maker's own gateway, for another member.
    Promise.all([api<PassportAnswer>(`/passport/${enc(id)}`, { signal }), gatewayHealth()])
      .then(async ([p, health]) => {
        if (me === undefined || p.maker === null || p.maker.id === me) return;
        // Requests are kept by the maker's own gateway; the partner's own gateway passes them on to
        // it over the peer network; on anyone else's, the partner is told where to ask.
        if (p.maker.id !== health.organisation.id) {
          if (me !== health.organisation.id || !health.services.accessRelay) return setElsewhere(p.maker);
          setPassedOn(true);
          setMaker(p.maker);
          // This organisation's requests to the maker and their state, as the maker's node keeps them.
          return setMine((await api<AccessRequestAnswer[]>(`/access-requests?maker=${p.maker.id}`, { signal })).filter((r) => r.subject === p.identifier));
        }
        if (!health.services.accessRequests) return;
        setMaker(p.maker);
        setMine((await api<AccessRequestAnswer[]>("/access-requests", { signal })).filter((r) => r.subject === p.identifier));
      })
      .catch(() => undefined);
    return () => abort.abort();
  }, [id, me, reload]);
  if (maker === undefined)
    return elsewhere === undefined ? null : (
      <p class="muted small" data-testid="request-access-elsewhere">
        {t("access.elsewhere", { org: elsewhere.name })}
      </p>
    );
  const submit = async (e: Event) => {
    e.preventDefault();
    setOutcome(undefined);
    try {
      await api<AccessRequestAnswer>("/access-requests", { body: { subject: id, scope, purpose: purpose.trim(), days: Number(days) } satisfies AccessRequestBody });
      setOutcome({ ok: true, text: t(passedOn ? "access.passedOn" : "access.sent", { org: maker.name }) });
      setPurpose("");
      setReload((n) => n + 1);
    } catch (err) {
      setOutcome({ ok: false, text: requestRefusal(t, err, maker.name) });
    }
  };
  return (
    <section aria-labelledby="h-request-access">
      <h2 id="h-request-access">{t("access.title")}</h2>
      <p class="muted small">{t("access.help", { org: maker.name })}</p>
      <form class="grant-form" onSubmit={submit} data-testid="request-access">
        <label>
          {t("wb.share.scope")}
          <select value={scope} onChange={(e) => setScope(e.currentTarget.value as AccessRequestBody["scope"])} name="scope">
            <option value="item">{t("wb.share.scope.item")}</option>
            <option value="item-genealogy">{t("wb.share.scope.item-genealogy")}</option>
          </select>
        </label>
        <label>
          {t("wb.share.purpose")}
          <input value={purpose} onInput={(e) => setPurpose(e.currentTarget.value)} maxLength={200} required name="purpose" />
        </label>
        <label>
          {t("access.days")}
          <input type="number" min={1} max={365} value={days} onInput={(e) => setDays(e.currentTarget.value)} required name="days" />
        </label>
        <button type="submit">{t("access.send")}</button>
        {outcome !== undefined && (
          <p class={outcome.ok ? "ok" : "error"} role={outcome.ok ? "status" : "alert"}>
            {outcome.text}
          </p>
        )}
      </form>
      {mine.length > 0 && (
        <ul class="cards" data-testid="my-requests">
          {mine.map((r) => (
            <li key={r.id} data-state={r.state}>
              <RequestState r={r} /> {t(`wb.share.scope.${r.scope}`)} · <span translate={false}>{r.purpose}</span>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

/** `onGranted`: an approved request, with the grant it made (and its block), for the page to show among the grants given. */
export function RequestsToUs({ onGranted }: { onGranted?: (approved: AccessRequestAnswer & { grant: NonNullable<AccessRequestAnswer["grant"]> }) => void }) {
  const { t, lang } = useI18n();
  const [requests, setRequests] = useState<AccessRequestAnswer[] | undefined>();
  const [outcome, setOutcome] = useState<Outcome>();
  const [reload, setReload] = useState(0);
  const me = session()?.organisation.id;
  useEffect(() => {
    const abort = new AbortController();
    gatewayHealth()
      .then((health) => (health.services.accessRequests ? api<AccessRequestAnswer[]>("/access-requests", { signal: abort.signal }) : undefined))
      .then((all) => setRequests(all?.filter((r) => r.owner.id === me)))
      .catch(() => setRequests(undefined));
    return () => abort.abort();
  }, [me, reload]);
  if (requests === undefined) return null;
  const decide = async (r: AccessRequestAnswer, verb: "approve" | "decline") => {
    setOutcome(undefined);
    try {
      const decided = await api<AccessRequestAnswer>(`/access-requests/${r.id}/${verb}`, { method: "POST" });
      if (decided.grant !== undefined) onGranted?.({ ...decided, grant: decided.grant });
      setOutcome({ ok: true, text: t(verb === "approve" ? "access.approved" : "access.declined", { org: r.requester.name }) });
    } catch (err) {
      setOutcome({ ok: false, text: t("access.refused", { status: err instanceof ApiError ? err.status : "?" }) });
    }
    setReload((n) => n + 1);
  };
  return (
    <section aria-labelledby="h-requests" data-testid="access-requests">
      <h3 id="h-requests">{t("access.toUs")}</h3>
      {requests.length === 0 && <p>{t("access.none")}</p>}
      <ul class="cards">
        {requests.map((r) => (
          <li key={r.id} data-request={r.id} data-state={r.state}>
            <strong translate={false}>{r.requester.name}</strong> <RequestState r={r} />
            <br />
            {t(`wb.share.scope.${r.scope}`)}:{" "}
            <a href={href({ page: "item", id: r.subject })} class="mono break">
              {r.subject}
            </a>
            <br />
            {t("wb.share.purpose")}: <span translate={false}>{r.purpose}</span> · {t("access.forDays", { days: r.days })} · {formatTime(lang, r.createdAt)}
            {r.state === "pending" && (
              <p>
                <button type="button" onClick={() => void decide(r, "approve")} data-testid="approve">
                  {t("access.approve")}
                </button>{" "}
                <button type="button" onClick={() => void decide(r, "decline")} data-testid="decline">
                  {t("access.decline")}
                </button>
              </p>
            )}
          </li>
        ))}
      </ul>
      {outcome !== undefined && (
        <p class={outcome.ok ? "ok" : "error"} role={outcome.ok ? "status" : "alert"} data-testid="access-outcome">
          {outcome.text}
        </p>
      )}
    </section>
  );
}
