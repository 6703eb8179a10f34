/**
 * The public passport behind an item's QR code, for visitors who are not signed in: what the item
 * is (the identifier the visitor scanned), its status and maker, whether a recall reaches it (an
 * item or a batch it was made from), the status of its certificates and the fields its maker chose to show. The gateway answers only facts that are
 * public on chain (GET /passport/{id}); signing in shows more to those entitled to it.
 */
import type { PassportAnswer } from "../../../lib/api/trace.ts";
import { api, enc } from "../api.ts";
import { Async, useAsync } from "../components/async.tsx";
import { IdentifierLabel, useStatusWord } from "../components/Recall.tsx";
import { PassportFieldList } from "../components/PassportFields.tsx";
import { Qr, gatewayDigitalLink } from "../components/Qr.tsx";
import { useI18n } from "../i18n.ts";
import { href } from "../router.ts";
import { StateLabel } from "../components/CertificateCard.tsx";

export function PassportView({ id }: { id: string }) {
  const { t } = useI18n();
  const statusWord = useStatusWord();
  const passport = useAsync((signal) => api<PassportAnswer>(`/passport/${enc(id)}`, { signal }), [id]);
  return (
    <Async state={passport} what={id}>
      {(p) => (
        <section class="passport" data-testid="passport" data-recall={p.recall.state}>
          <h2>{t("passport.title")}</h2>
          {p.recall.state !== "clear" && (
            <div class="recall-banner" role="alert" data-testid="recall-banner">
              <h3>{t(p.recall.state === "recalled" ? "recall.recalled" : "recall.inScope")}</h3>
              <ul class="recall-causes">
                {p.recall.causes.map((c, i) => (
                  <li key={i}>
                    {t(c.kind === "batch" ? "passport.causeBatch" : "passport.causeItem")}
                  </li>
                ))}
              </ul>
            </div>
          )}
          <div class="item-head">
            <dl class="facts">
              <dt>{t("item.identifier")}</dt>
              <dd>{p.identifier === undefined ? <code class="break">{p.key}</code> : <IdentifierLabel item={p} />}</dd>
              {p.status !== undefined && (
                <>
                  <dt>{t("item.status")}</dt>
                  <dd>{p.recall.state === "clear" ? statusWord(p.status) : <span class="tag tag-red">{t(p.recall.state === "recalled" ? "recall.recalled" : "recall.inScope")}</span>}</dd>
                </>
              )}
              <dt>{t("passport.maker")}</dt>
              <dd translate={false}>{p.maker?.name ?? "?"}</dd>
              {p.fields !== undefined && <PassportFieldList fields={p.fields} />}
            </dl>
            {p.identifier !== undefined && <Qr link={gatewayDigitalLink(p.identifier)} />}
          </div>
          <h3>{t("item.certificates")}</h3>
          {p.certificates.length === 0 ? (
            <p>{t("item.certificatesEmpty")}</p>
          ) : (
            <ul class="cards">
              {p.certificates.map((c) => (
                <li key={c.id} class="passport-cert" data-state={c.state}>
                  <StateLabel state={c.state} /> {t(c.of === "batch" ? "passport.ofBatch" : "passport.ofItem")}
                  {c.issuer !== null && (
                    <>
                      {" · "}
                      {t("cert.issuer")}: <span translate={false}>{c.issuer.name}</span>
                    </>
                  )}
                  <br />
                  <a href={href({ page: "certificate", id: c.id })} class="mono break">
                    {c.id.slice(0, 18)}…
                  </a>
                </li>
              ))}
            </ul>
          )}
          <p class="muted small">
            {t("passport.more")} <a href={href({ page: "signin" })}>{t("nav.signin")}</a>
          </p>
        </section>
      )}
    </Async>
  );
}
