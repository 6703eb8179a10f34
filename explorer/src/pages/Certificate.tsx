/**
 * The certificate page for regulators and buyers: open it from a QR code, an id, or an uploaded
 * credential file. Validity, revocation with its reason, supersession, the issuer and its
 * accreditation then and now. The page re-reads the status on chain itself; anything wrong is red.
 */
import type { TargetedEvent } from "preact";
import { useEffect, useState } from "preact/hooks";
import { CertificateStatus } from "../../../lib/registry.ts";
import { type CertificateState, type CertificateView, type CredentialVerification, api, enc } from "../api.ts";
import { Async, ErrorView, useAsync } from "../components/async.tsx";
import { Qr, gatewayDigitalLink } from "../components/Qr.tsx";
import { getChain } from "../chain.ts";
import { identifierLabel } from "../describe-event.ts";
import { type MessageKey, formatTime, hasMessage, useI18n } from "../i18n.ts";
import { absoluteHref, href, navigate } from "../router.ts";

const CHAIN_STATE: Record<number, CertificateState> = {
  [CertificateStatus.Unknown]: "unknown",
  [CertificateStatus.Valid]: "valid",
  [CertificateStatus.NotYetValid]: "not-yet-valid",
  [CertificateStatus.Expired]: "expired",
  [CertificateStatus.Suspended]: "suspended",
  [CertificateStatus.Revoked]: "revoked",
  [CertificateStatus.Superseded]: "superseded",
};

const REASONS = ["unspecified", "issued-in-error", "non-conformity", "misuse", "fraud", "holder-request", "under-investigation", "key-compromise"];

/** A reason as the gateway sends it (code or name) in the UI language. */
function reasonKey(reason: string | number): MessageKey | undefined {
  const n = typeof reason === "number" ? reason : /^\d+$/.test(reason) ? Number(reason) : REASONS.indexOf(reason.toLowerCase().replace(/[\s_]+/g, "-").replace(/([a-z])([A-Z])/g, "$1-$2"));
  const key = `reason.${n}`;
  return hasMessage(key) ? key : undefined;
}

export const isGood = (c: Pick<CertificateView, "state" | "accreditedAtIssuance" | "accreditedNow">): boolean =>
  c.state === "valid" && c.accreditedAtIssuance && c.accreditedNow;

export function StateLabel({ state }: { state: CertificateState }) {
  const { t } = useI18n();
  const key = `cert.state.${state}`;
  return <span class={`tag ${state === "valid" ? "tag-green" : "tag-red"}`}>{hasMessage(key) ? t(key) : state}</span>;
}

/** A compact certificate card (item page) or the full certificate (certificate page). */
export function CertificateSummary({ cert, link = false }: { cert: CertificateView; link?: boolean }) {
  const { t, lang } = useI18n();
  const good = isGood(cert);
  const reason = cert.reason === undefined || cert.reason === null || cert.state === "valid" ? undefined : reasonKey(cert.reason);
  return (
    <div class={`cert ${good ? "cert-ok" : "cert-bad"}`} data-state={cert.state} data-good={good ? "yes" : "no"}>
      <p class="cert-banner" role={good ? "status" : "alert"}>
        <StateLabel state={cert.state} /> {good ? t("cert.okBanner") : t("cert.badBanner")}
      </p>
      <dl class="facts">
        <dt>{t("cert.title")}</dt>
        <dd>{link ? <a href={href({ page: "certificate", id: cert.id })} class="mono break">{cert.id}</a> : <code class="break">{cert.id}</code>}</dd>
        {cert.scope !== undefined && (
          <>
            <dt>Scope</dt>
            <dd>{cert.scope}</dd>
          </>
        )}
        <dt>{t("cert.issuer")}</dt>
        <dd>{cert.issuer.name}</dd>
        <dt>{t("cert.accreditedThen")}</dt>
        <dd class={cert.accreditedAtIssuance ? "" : "bad"}>{cert.accreditedAtIssuance ? t("common.yes") : t("common.no")}</dd>
        <dt>{t("cert.accreditedNow")}</dt>
        <dd class={cert.accreditedNow ? "" : "bad"}>{cert.accreditedNow ? t("common.yes") : t("common.no")}</dd>
        <dt>{t("cert.validity")}</dt>
        <dd>
          {t("cert.validFromTo", {
            from: formatTime(lang, cert.validFrom),
            until: cert.validUntil === undefined || cert.validUntil === null ? t("cert.noEnd") : formatTime(lang, cert.validUntil),
          })}
        </dd>
        {cert.reason !== undefined && cert.reason !== null && cert.state !== "valid" && (
          <>
            <dt>{t("cert.reason")}</dt>
            <dd class="bad" data-testid="cert-reason">
              {reason === undefined ? String(cert.reason) : t(reason)}
            </dd>
          </>
        )}
        {cert.supersededBy !== undefined && cert.supersededBy !== null && (
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
          {cert.subjectDigitalLink !== undefined ? (
            <a href={href({ page: "item", id: cert.subjectDigitalLink })}>{identifierLabel(cert.subjectDigitalLink)}</a>
          ) : (
            <a href={href({ page: "item", id: cert.subject })} class="mono break">
              {cert.subject}
            </a>
          )}
        </dd>
      </dl>
    </div>
  );
}

/** The chain's own answer for a certificate id, read through /chain/rpc. */
function ChainCheck({ cert }: { cert: CertificateView }) {
  const { t } = useI18n();
  const [state, setState] = useState<{ chainState: CertificateState; atIssuance: boolean; now: boolean } | { error: string }>();
  useEffect(() => {
    let live = true;
    getChain()
      .then((c) => c.certificates.status(cert.id))
      .then(
        ([status, atIssuance, now]) => live && setState({ chainState: CHAIN_STATE[Number(status)] ?? "unknown", atIssuance, now }),
        (e: unknown) => live && setState({ error: e instanceof Error ? e.message : String(e) }),
      );
    return () => {
      live = false;
    };
  }, [cert.id]);
  if (state === undefined) return <p role="status">{t("badge.checking")}</p>;
  if ("error" in state) return <p class="error">{t("badge.error")}: {state.error}</p>;
  const label = (s: CertificateState) => (hasMessage(`cert.state.${s}`) ? t(`cert.state.${s}` as MessageKey) : s);
  const agrees = state.chainState === cert.state && state.atIssuance === cert.accreditedAtIssuance && state.now === cert.accreditedNow;
  return (
    <p class={agrees ? "ok" : "bad"} data-testid="chain-check" data-chain-state={state.chainState}>
      {agrees ? t("cert.chainAgrees", { state: label(state.chainState) }) : t("cert.chainDisagrees", { state: label(state.chainState), gateway: label(cert.state) })}
    </p>
  );
}

function CertificateFull({ cert }: { cert: CertificateView }) {
  const { t, lang } = useI18n();
  const qrLink =
    cert.subjectDigitalLink !== undefined
      ? `${gatewayDigitalLink(cert.subjectDigitalLink)}?linkType=gs1:certificationInfo`
      : absoluteHref({ page: "certificate", id: cert.id });
  return (
    <div class="item-head">
      <div>
        <CertificateSummary cert={cert} />
        <h2>{t("cert.chainCheck")}</h2>
        <ChainCheck cert={cert} />
        {cert.history !== undefined && cert.history.length > 0 && (
          <>
            <h2>{t("cert.history")}</h2>
            <ol class="custody">
              {cert.history.map((h, i) => (
                <li key={i}>
                  {h.kind ?? h.event ?? h.state}
                  {(h.time ?? h.at) !== undefined && <span class="muted"> · {formatTime(lang, (h.time ?? h.at)!)}</span>}
                </li>
              ))}
            </ol>
          </>
        )}
      </div>
      <Qr link={qrLink} />
    </div>
  );
}

function Verification({ result }: { result: CredentialVerification }) {
  const { t } = useI18n();
  const ok = result.verdict === "valid";
  return (
    <div data-testid="verification" data-verdict={result.verdict}>
      <p class={`cert-banner ${ok ? "cert-ok" : "cert-bad"}`} role={ok ? "status" : "alert"}>
        {ok ? t("cert.verdict.valid") : t("cert.verdict.invalid")}
      </p>
      <h2>{t("cert.checks")}</h2>
      <ul class="checks">
        {Object.entries(result.checks).map(([name, value]) => {
          const key = `cert.check.${name}`;
          const good = value === true || value === "valid";
          return (
            <li key={name} class={good ? "ok" : "bad"}>
              <span aria-hidden="true">{good ? "✓" : "✗"}</span> {hasMessage(key) ? t(key) : name}
              {typeof value === "string" && `: ${value}`}
              <span class="sr-only">{good ? t("common.yes") : t("common.no")}</span>
            </li>
          );
        })}
      </ul>
      {result.problems !== undefined && result.problems.length > 0 && (
        <>
          <h2>{t("cert.problems")}</h2>
          <ul class="bad">
            {result.problems.map((p, i) => (
              <li key={i}>{typeof p === "string" ? p : (p.message ?? p.detail ?? JSON.stringify(p))}</li>
            ))}
          </ul>
        </>
      )}
      {result.certificate !== undefined && <CertificateFull cert={result.certificate} />}
    </div>
  );
}

export function CertificatePage({ id }: { id?: string }) {
  const { t } = useI18n();
  const [input, setInput] = useState(id ?? "");
  const [upload, setUpload] = useState<{ status: "idle" } | { status: "busy" } | { status: "done"; result: CredentialVerification } | { status: "error"; error: unknown }>({
    status: "idle",
  });
  useEffect(() => setInput(id ?? ""), [id]);
  const cert = useAsync((signal) => (id === undefined ? Promise.resolve(undefined) : api<CertificateView>(`/certificates/${enc(id)}`, { signal })), [id]);

  const onLookup = (e: TargetedEvent<HTMLFormElement>) => {
    e.preventDefault();
    const v = input.trim();
    if (v !== "") navigate({ page: "certificate", id: v });
  };
  const onFile = async (e: TargetedEvent<HTMLInputElement>) => {
    const file = e.currentTarget.files?.[0];
    if (file === undefined) return;
    setUpload({ status: "busy" });
    try {
      const text = (await file.text()).trim();
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined;
      }
      const result = await api<CredentialVerification>(
        "/certificates/verify",
        json === undefined ? { method: "POST", text: { body: text, contentType: "application/jwt" } } : { method: "POST", body: json },
      );
      setUpload({ status: "done", result });
    } catch (error) {
      setUpload({ status: "error", error });
    }
  };

  return (
    <article>
      <h1>{t("cert.title")}</h1>
      <form class="inline-form" onSubmit={onLookup}>
        <label for="cert-id">{t("cert.lookup")}</label>
        <input id="cert-id" name="id" value={input} onInput={(e) => setInput(e.currentTarget.value)} placeholder="0x…" autoComplete="off" spellcheck={false} />
        <button type="submit">{t("cert.lookupSubmit")}</button>
      </form>
      <div class="inline-form">
        <label for="cert-file">{t("cert.upload")}</label>
        <input id="cert-file" type="file" accept=".json,.jwt,.txt,application/json,application/jwt,text/plain" onChange={onFile} />
      </div>
      {upload.status === "busy" && <p role="status">{t("common.loading")}</p>}
      {upload.status === "error" && <ErrorView error={upload.error} />}
      {upload.status === "done" && <Verification result={upload.result} />}
      {id !== undefined && upload.status === "idle" && <Async state={cert} what={id}>{(c) => (c === undefined ? null : <CertificateFull cert={c} />)}</Async>}
    </article>
  );
}
