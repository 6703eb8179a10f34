/**
 * Workbench: share. The signed-in organisation grants a partner read access to its data (an item,
 * a batch, an item with its genealogy, a data stream, or a stream within a time range) until an
 * expiry, for a stated purpose; sees the grants it gave and those it holds; revokes its own; and
 * follows the link to the access log (who read what). Grants live in AccessGrants on chain: the
 * page asks its member's gateway (POST/DELETE /grants), whose node sends them with the
 * organisation's account, so the browser never holds a key.
 */
import type { TargetedEvent } from "preact";
import { useState } from "preact/hooks";
import { keccak256, toUtf8Bytes } from "ethers";
import type { GrantAnswer, GrantBody, GrantsAnswer, GrantWriteAnswer, ScopeWord } from "../../../lib/api/grants.ts";
import type { ConsortiumAnswer } from "../../../lib/api/trace.ts";
import { ApiError, api, enc, session } from "../api.ts";
import { RequestsToUs } from "../components/AccessRequests.tsx";
import { Async, useAsync } from "../components/async.tsx";
import { type Translate, formatTime, hasMessage, useI18n } from "../i18n.ts";
import { href } from "../router.ts";
import { untilIndexed } from "./Workbench.tsx";

const SCOPES: readonly ScopeWord[] = ["item", "item-genealogy", "batch", "stream", "window-range"];
/** Purposes offered by name; any other words are hashed the same way (the gateway's purposeCode). */
const PURPOSES = ["QUALITY_CLAIM", "AUDIT", "RECALL", "CUSTOMS", "WARRANTY"];

/**
 * The chain keeps only hashes of what a grant names and why; this browser remembers the words it
 * granted with, to show them again (other browsers show the hashes).
 */
const LABELS = "tm.grant-labels";
function labels(): Record<string, string> {
  try {
    return JSON.parse(localStorage.getItem(LABELS) ?? "{}") as Record<string, string>;
  } catch {
    return {};
  }
}
function remember(hash: string, text: string): void {
  localStorage.setItem(LABELS, JSON.stringify({ ...labels(), [hash.toLowerCase()]: text }));
}
const KNOWN_PURPOSES = Object.fromEntries(PURPOSES.map((p) => [keccak256(toUtf8Bytes(p)), p]));
const label = (hash: string): string => labels()[hash.toLowerCase()] ?? KNOWN_PURPOSES[hash.toLowerCase()] ?? `${hash.slice(0, 10)}…`;

/** A refusal in the page's words when the gateway names the rule (`check`), with the gateway's own detail. */
function refusalText(err: unknown, t: Translate): string {
  if (!(err instanceof ApiError)) return (err as Error).message;
  const detail = err.problem.detail ?? err.message;
  const key = `wb.share.refused.${String((err.problem as { check?: unknown }).check)}`;
  return hasMessage(key) ? `${t(key)} (${detail})` : detail;
}

const localInput = (ms: number) => new Date(ms - new Date(ms).getTimezoneOffset() * 60_000).toISOString().slice(0, 16);

/** How long the tab waits for its gateway's chain index to read a grant's block before it says the list may be behind. */
const GRANT_INDEX_WAIT_MS = 120_000;

export function ShareTab() {
  const { t } = useI18n();
  const [reload, setReload] = useState(0);
  /** The block of a grant, approval or revocation the grant lists do not show yet; late: waited past the limit. */
  const [waiting, setWaiting] = useState<{ block: number; late: boolean }>();
  const grants = useAsync((signal) => api<GrantsAnswer>("/grants", { signal }), [reload]);
  /**
   * The lists come from the chain index, which reads a write's block a moment (or, on a busy
   * node, much longer) after it was mined: say so, wait until the index has read the block, as the
   * workbench's capture forms do, then reload.
   */
  const refreshAfter = async (block: number) => {
    setWaiting({ block, late: false });
    const indexed = await untilIndexed(block, GRANT_INDEX_WAIT_MS);
    setWaiting(indexed ? undefined : { block, late: true });
    setReload((n) => n + 1);
  };
  return (
    <section aria-labelledby="wb-share">
      <h2 id="wb-share">{t("wb.share.title")}</h2>
      <p>
        {t("wb.share.intro")} <a href={href({ page: "access-log" })}>{t("wb.share.whoRead")}</a>
      </p>
      <RequestsToUs
        onGranted={(approved) => {
          // The grant names the item and purpose by hash: show the request's words instead.
          remember(approved.subjectKey, approved.subject);
          remember(keccak256(toUtf8Bytes(approved.purpose)), approved.purpose);
          void refreshAfter(approved.grant.block ?? 0);
        }}
      />
      <GrantForm onGranted={(block) => void refreshAfter(block)} />
      {waiting !== undefined && (
        <p class={waiting.late ? "notice" : "muted"} role="status" data-testid="grants-waiting" data-late={String(waiting.late)}>
          {t(waiting.late ? "wb.share.indexLate" : "wb.share.indexing", { block: waiting.block })}{" "}
          {waiting.late && (
            <button type="button" class="link" onClick={() => void refreshAfter(waiting.block)}>
              {t("wb.stock.refresh")}
            </button>
          )}
        </p>
      )}
      <Async state={grants} what={t("wb.share.given")}>
        {(a) => (
          <>
            <h3>{t("wb.share.given")}</h3>
            <GrantList grants={a.given} mine onRevoked={(block) => void refreshAfter(block)} />
            <h3>{t("wb.share.received")}</h3>
            <GrantList grants={a.received} />
          </>
        )}
      </Async>
    </section>
  );
}

/** `onGranted`: the block that recorded the new grant. */
function GrantForm({ onGranted }: { onGranted: (block: number) => void }) {
  const { t } = useI18n();
  const me = session()!.organisation.id;
  const members = useAsync((signal) => api<ConsortiumAnswer>("/consortium", { signal }), []);
  const [scope, setScope] = useState<ScopeWord>("item");
  const [grantee, setGrantee] = useState("");
  const [subject, setSubject] = useState("");
  const [purpose, setPurpose] = useState(PURPOSES[0]!);
  const [expires, setExpires] = useState(localInput(Date.now() + 30 * 86_400_000));
  const [from, setFrom] = useState(localInput(Date.now() - 86_400_000));
  const [to, setTo] = useState(localInput(Date.now()));
  const [outcome, setOutcome] = useState<{ ok: boolean; text: string }>();
  const [busy, setBusy] = useState(false);
  const ranged = scope === "window-range";
  const submit = async (e: TargetedEvent<HTMLFormElement>) => {
    e.preventDefault();
    setBusy(true);
    setOutcome(undefined);
    const body: GrantBody = {
      grantee: Number(grantee),
      scope,
      subject: subject.trim(),
      purpose: purpose.trim(),
      expiresAt: new Date(expires).toISOString(),
      ...(ranged ? { from: new Date(from).toISOString(), to: new Date(to).toISOString() } : {}),
    };
    try {
      const done = await api<GrantWriteAnswer>("/grants", { body });
      if (done.scopeKey) remember(done.scopeKey, body.subject);
      remember(keccak256(toUtf8Bytes(body.purpose)), body.purpose);
      setOutcome({ ok: true, text: t("wb.share.granted", { id: `${done.id.slice(0, 10)}…`, block: done.block }) });
      onGranted(done.block);
    } catch (err) {
      setOutcome({ ok: false, text: refusalText(err, t) });
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="grant-form" onSubmit={submit} data-testid="grant-form">
      <h3>{t("wb.share.new")}</h3>
      <label>
        {t("wb.share.partner")}
        <select value={grantee} onChange={(e) => setGrantee(e.currentTarget.value)} required data-testid="grant-partner">
          <option value="">{t("wb.share.choose")}</option>
          {members.status === "ok" &&
            members.value.members
              .filter((m) => m.id !== me && m.status.toLowerCase() === "active")
              .map((m) => (
                <option key={m.id} value={String(m.id)}>
                  {m.name}
                </option>
              ))}
        </select>
      </label>
      <label>
        {t("wb.share.scope")}
        <select value={scope} onChange={(e) => setScope(e.currentTarget.value as ScopeWord)} data-testid="grant-scope">
          {SCOPES.map((s) => (
            <option key={s} value={s}>
              {t(`wb.share.scope.${s}`)}
            </option>
          ))}
        </select>
      </label>
      <label>
        {t(ranged || scope === "stream" ? "wb.share.stream" : scope === "batch" ? "wb.share.batch" : "wb.share.item")}
        <input value={subject} onInput={(e) => setSubject(e.currentTarget.value)} required spellcheck={false} data-testid="grant-subject" />
      </label>
      {ranged && (
        <div class="grant-range">
          <label>
            {t("wb.share.from")}
            <input type="datetime-local" value={from} onInput={(e) => setFrom(e.currentTarget.value)} required />
          </label>
          <label>
            {t("wb.share.to")}
            <input type="datetime-local" value={to} onInput={(e) => setTo(e.currentTarget.value)} required />
          </label>
        </div>
      )}
      <label>
        {t("wb.share.purpose")}
        <input list="grant-purposes" value={purpose} onInput={(e) => setPurpose(e.currentTarget.value)} required data-testid="grant-purpose" />
        <datalist id="grant-purposes">
          {PURPOSES.map((p) => (
            <option key={p} value={p} />
          ))}
        </datalist>
      </label>
      <label>
        {t("wb.share.expires")}
        <input type="datetime-local" value={expires} onInput={(e) => setExpires(e.currentTarget.value)} required data-testid="grant-expires" />
      </label>
      <p>
        <button type="submit" disabled={busy} data-testid="grant-send">
          {busy ? t("wb.share.granting") : t("wb.share.grant")}
        </button>
      </p>
      {outcome !== undefined && (
        <p class={outcome.ok ? "ok" : "error"} role={outcome.ok ? "status" : "alert"} data-testid="grant-outcome" data-ok={String(outcome.ok)}>
          {outcome.text}
        </p>
      )}
    </form>
  );
}

/** `onRevoked`: the block that recorded a revocation. */
function GrantList({ grants, mine = false, onRevoked }: { grants: GrantAnswer[]; mine?: boolean; onRevoked?: (block: number) => void }) {
  const { t, lang } = useI18n();
  const [refusal, setRefusal] = useState<string>();
  const [revoking, setRevoking] = useState<string>();
  if (grants.length === 0) return <p class="empty">{t(mine ? "wb.share.noneGiven" : "wb.share.noneReceived")}</p>;
  const revoke = async (g: GrantAnswer) => {
    setRevoking(g.id);
    setRefusal(undefined);
    try {
      const done = await api<GrantWriteAnswer>(`/grants/${enc(g.id)}`, { method: "DELETE" });
      onRevoked?.(done.block);
    } catch (err) {
      setRefusal(refusalText(err, t));
    } finally {
      setRevoking(undefined);
    }
  };
  return (
    <>
      <ul class="grant-list" data-testid={mine ? "grants-given" : "grants-received"}>
        {grants.map((g) => (
          <li key={g.id} data-grant={g.id} data-state={g.state}>
            <strong>{mine ? g.grantee.name : g.owner.name}</strong> <span class={`state ${g.state}`}>{t(`wb.share.state.${g.state}`)}</span>
            <br />
            {t(`wb.share.scope.${g.scope}`)}:{" "}
            {/* Items and batches open on the item page (it takes on-chain keys); streams have no page. */}
            {g.scope === "stream" || g.scope === "window-range" ? (
              <code class="subject">{label(g.scopeKey)}</code>
            ) : (
              <a href={href({ page: "item", id: g.scopeKey })} class="subject mono">
                {label(g.scopeKey)}
              </a>
            )}
            {g.from !== undefined && g.to !== undefined && <> ({formatTime(lang, g.from)} – {formatTime(lang, g.to)})</>}
            <br />
            {t("wb.share.for", { purpose: label(g.purpose) })} · {t(g.state === "revoked" ? "wb.share.revokedAt" : "wb.share.until", { time: formatTime(lang, g.revokedAt ?? g.expiresAt) })}
            {mine && g.state === "live" && (
              <button type="button" class="revoke" disabled={revoking !== undefined} onClick={() => void revoke(g)} data-testid="grant-revoke">
                {revoking === g.id ? t("wb.share.revoking") : t("wb.share.revoke")}
              </button>
            )}
          </li>
        ))}
      </ul>
      {refusal !== undefined && (
        <p class="error" role="alert">
          {refusal}
        </p>
      )}
    </>
  );
}
