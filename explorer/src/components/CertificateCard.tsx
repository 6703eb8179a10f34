/**
 * A certificate as the chain states it (lib/credentials.ts `OnChainCertificate`): its state label
 * and its card. Kept apart from the certificate page so the item and passport pages show cards
 * without loading credential verification (ethers, signatures) with them.
 */
import type { CertificateStatusName, OnChainCertificate } from "../../../lib/credentials.ts";
import { scopeName } from "../../../lib/certificate-scopes.ts";
import { identifierLabel } from "../describe-event.ts";
import { formatTime, hasMessage, useI18n } from "../i18n.ts";
import { href } from "../router.ts";

export const isGood = (c: Pick<OnChainCertificate, "state" | "accreditedAtIssuance" | "accreditedNow">): boolean =>
  c.state === "valid" && c.accreditedAtIssuance && c.accreditedNow;

export function useStateLabel(): (s: CertificateStatusName) => string {
  const { t } = useI18n();
  return (s) => {
    const key = `cert.state.${s}`;
    return hasMessage(key) ? t(key) : s;
  };
}

export function StateLabel({ state }: { state: CertificateStatusName }) {
  const label = useStateLabel();
  return <span class={`tag ${state === "valid" ? "tag-green" : "tag-red"}`}>{label(state)}</span>;
}

/** A certificate card: compact with a link (item page) or in full (certificate page). */
export function CertificateSummary({ cert, link = false, subjectLink }: { cert: OnChainCertificate; link?: boolean; subjectLink?: string }) {
  const { t, lang } = useI18n();
  const good = isGood(cert);
  const reasonKey = cert.reason === null ? undefined : `reason.${cert.reason}`;
  const time = (v: string | null) => (v === null ? "—" : formatTime(lang, v));
  return (
    <div class={`cert ${good ? "cert-ok" : "cert-bad"}`} data-state={cert.state} data-good={good ? "yes" : "no"}>
      <p class="cert-banner" role={good ? "status" : "alert"}>
        <StateLabel state={cert.state} /> {good ? t("cert.okBanner") : t("cert.badBanner")}
      </p>
      <dl class="facts">
        <dt>{t("cert.title")}</dt>
        <dd>
          {link ? (
            <a href={href({ page: "certificate", id: cert.id })} class="mono break">
              {cert.id}
            </a>
          ) : (
            <code class="break">{cert.id}</code>
          )}
        </dd>
        <dt>{t("cert.scope")}</dt>
        <dd data-testid="cert-scope">{scopeName(cert.scope) ?? <code class="break">{cert.scope}</code>}</dd>
        <dt>{t("cert.issuer")}</dt>
        <dd translate={false}>{cert.issuer.name ?? `#${cert.issuer.id}`}</dd>
        <dt>{t("cert.accreditedThen")}</dt>
        <dd class={cert.accreditedAtIssuance ? "ok" : "bad"}>{cert.accreditedAtIssuance ? t("common.yes") : t("common.no")}</dd>
        <dt>{t("cert.accreditedNow")}</dt>
        <dd class={cert.accreditedNow ? "ok" : "bad"}>{cert.accreditedNow ? t("common.yes") : t("common.no")}</dd>
        <dt>{t("cert.validity")}</dt>
        <dd class={cert.state === "expired" || cert.state === "not-yet-valid" ? "bad" : ""}>
          {t("cert.validFromTo", { from: time(cert.validFrom), until: cert.validUntil === null ? t("cert.noEnd") : time(cert.validUntil) })}
        </dd>
        {cert.issuedAt !== null && (
          <>
            <dt>{t("cert.issued")}</dt>
            <dd>{time(cert.issuedAt)}</dd>
          </>
        )}
        {cert.reason !== null && (
          <>
            <dt>{t("cert.reason")}</dt>
            <dd class="bad" data-testid="cert-reason">
              {reasonKey !== undefined && hasMessage(reasonKey) ? t(reasonKey) : cert.reason}
            </dd>
          </>
        )}
        {cert.supersededBy !== null && (
          <>
            <dt>{t("cert.supersededBy")}</dt>
            <dd>
              <a href={href({ page: "certificate", id: cert.supersededBy })} class="mono break">
                {cert.supersededBy}
              </a>
            </dd>
          </>
        )}
        <dt>{t("cert.subject")}</dt>
        <dd>
          <a href={href({ page: "item", id: subjectLink ?? cert.subject })} class={subjectLink === undefined ? "mono break" : ""}>
            {subjectLink === undefined ? cert.subject : identifierLabel(subjectLink, t)}
          </a>
        </dd>
      </dl>
    </div>
  );
}
