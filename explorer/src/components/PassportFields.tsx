/**
 * The maker's choice of what an item's public passport shows beyond the chain's facts
 * (GET/PUT /passport/{id}/fields), on the item page: one checkbox per field with what it would say.
 * The gateway decides who may choose (the maker, signed in on its own member's gateway); the form
 * asks only when the public passport names the signed-in organisation as the maker. `PassportFieldList` shows the chosen
 * fields on the passport itself.
 */
import { Fragment } from "preact";
import { useEffect, useState } from "preact/hooks";
import type { PassportAnswer, PassportFieldsAnswer } from "../../../lib/api/trace.ts";
import { PASSPORT_FIELDS, type PassportField } from "../../../lib/passport-fields.ts";
import { ApiError, api, enc, gatewayHealth, session } from "../api.ts";
import { useI18n } from "../i18n.ts";

/** The passport's extra fields as a definition list (dt/dd pairs), in the catalogue's order. */
export function PassportFieldList({ fields }: { fields: Partial<Record<PassportField, string>> }) {
  const { t } = useI18n();
  return (
    <>
      {PASSPORT_FIELDS.filter((f) => fields[f] !== undefined).map((f) => (
        <Fragment key={f}>
          <dt>{t(`passport.field.${f}`)}</dt>
          <dd data-field={f} translate={false}>
            {fields[f]}
          </dd>
        </Fragment>
      ))}
    </>
  );
}

export function PassportFieldsForm({ id }: { id: string }) {
  const { t } = useI18n();
  const [answer, setAnswer] = useState<PassportFieldsAnswer | undefined>();
  const [chosen, setChosen] = useState<Set<PassportField>>(new Set());
  const [outcome, setOutcome] = useState<{ ok: boolean; text: string } | undefined>();
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    const abort = new AbortController();
    setAnswer(undefined);
    // Only the maker may choose: the public passport names it, so no one else asks (and draws a 403).
    const me = session()?.organisation.id;
    Promise.all([api<PassportAnswer>(`/passport/${enc(id)}`, { signal: abort.signal }), gatewayHealth()])
      .then(([p, health]) => (me !== undefined && p.maker?.id === me && health.services.passportChoices ? api<PassportFieldsAnswer>(`/passport/${enc(id)}/fields`, { signal: abort.signal }) : undefined))
      .then((a) => {
        if (a === undefined) return;
        setAnswer(a);
        setChosen(new Set(a.chosen));
      })
      // Signed in on another member's gateway, or gone: nothing to choose here.
      .catch(() => undefined);
    return () => abort.abort();
  }, [id]);
  if (answer === undefined) return null;
  const toggle = (f: PassportField) => {
    const next = new Set(chosen);
    if (next.has(f)) next.delete(f);
    else next.add(f);
    setChosen(next);
  };
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setOutcome(undefined);
    try {
      const a = await api<PassportFieldsAnswer>(`/passport/${enc(id)}/fields`, { method: "PUT", body: { fields: [...chosen] } });
      setAnswer(a);
      setOutcome({ ok: true, text: t("passport.fields.saved") });
    } catch (err) {
      setOutcome({ ok: false, text: err instanceof ApiError ? t("passport.fields.refused", { status: err.status }) : String(err) });
    } finally {
      setBusy(false);
    }
  };
  return (
    <section aria-labelledby="h-passport-fields">
      <h2 id="h-passport-fields">{t("passport.fields.title")}</h2>
      <p class="muted small">{t("passport.fields.help")}</p>
      <form class="passport-fields" onSubmit={submit} data-testid="passport-fields">
        <ul>
          {PASSPORT_FIELDS.map((f) => (
            <li key={f}>
              <label>
                <input type="checkbox" name={f} checked={chosen.has(f)} disabled={answer.values[f] === null} onChange={() => toggle(f)} /> {t(`passport.field.${f}`)}:{" "}
                {answer.values[f] === null ? <span class="muted">{t("passport.fields.none")}</span> : <span translate={false}>{answer.values[f]}</span>}
              </label>
            </li>
          ))}
        </ul>
        <button type="submit" disabled={busy}>
          {t("passport.fields.save")}
        </button>
        {outcome !== undefined && (
          <p class={outcome.ok ? "ok" : "error"} role={outcome.ok ? "status" : "alert"}>
            {outcome.text}
          </p>
        )}
      </form>
    </section>
  );
}
