/**
 * The certificate page for regulators and buyers: open it from a QR code, an id, or an uploaded
 * credential file. Validity, revocation with its reason, supersession, the issuer and whether it
 * was and is accredited. The page reads the certificate on chain itself (lib/credentials.ts over
 * /chain/rpc) and verifies an uploaded credential in the page, without uploading it; the
 * gateway's answer only adds the history and is compared. Anything wrong is red.
 */
import type { TargetedEvent } from "preact";
import { id as keccakText } from "ethers";
import { useEffect, useState } from "preact/hooks";
import type { CertificateAnswer } from "../../../lib/api/certificates.ts";
import type { CheckName, OnChainCertificate, Verification } from "../../../lib/credentials.ts";
import { ADVISORY_CHECKS, PRESENTATION_CHECK_NAMES } from "../../../lib/credentials/check-names.ts";
import type { PresentationVerification } from "../../../lib/credentials/presentation.ts";
import { ApiError, api, enc } from "../api.ts";

/** The chain client and credential verification, loaded after the page shows (certificate-checks.ts). */
const checks = () => import("../certificate-checks.ts");
import { ErrorView } from "../components/async.tsx";
import { CertificatesByIssuer } from "../components/CertificateList.tsx";
import { Qr } from "../components/Qr.tsx";
import { SelectiveDisclosureForm } from "../components/SelectiveDisclosure.tsx";
import { type MessageKey, formatTime, hasMessage, useI18n } from "../i18n.ts";
import { absoluteHref, navigate } from "../router.ts";
import { CertificateSummary, useStateLabel } from "../components/CertificateCard.tsx";

/** The tie between a certificate and a recall of its subject: a certificate can stay valid while the heat it certifies is recalled. */
function SubjectRecall({ state }: { state: CertificateAnswer["subjectRecall"] | undefined }) {
  const { t } = useI18n();
  if (state === undefined || state === null || state === "clear") return null;
  return (
    <p class="error" role="alert" data-testid="cert-subject-recall">
      {t(state === "recalled" ? "cert.subjectRecalled" : "cert.subjectInRecall")}
    </p>
  );
}

type Loaded =
  | { status: "loading" }
  | { status: "missing" }
  | { status: "error"; error: unknown }
  | { status: "ok"; own: OnChainCertificate | undefined; ownError?: string; gateway: CertificateAnswer | undefined; gatewayError?: unknown };

/** The chain's answer, read by this page, and the gateway's, side by side. */
function useCertificate(id: string): Loaded {
  const [state, setState] = useState<Loaded>({ status: "loading" });
  useEffect(() => {
    let live = true;
    setState({ status: "loading" });
    const own = checks().then(async (m) => m.certificateOnChain((await m.getChain()).contracts, id));
    const gateway = api<CertificateAnswer>(`/certificates/${enc(id)}`);
    Promise.allSettled([own, gateway]).then(([o, g]) => {
      if (!live) return;
      const gwMissing = g.status === "rejected" && g.reason instanceof ApiError && g.reason.status === 404;
      if (o.status === "fulfilled" && o.value === undefined && (gwMissing || g.status === "rejected")) return setState({ status: "missing" });
      if (o.status === "rejected" && g.status === "rejected") return setState({ status: "error", error: g.reason });
      setState({
        status: "ok",
        own: o.status === "fulfilled" ? o.value : undefined,
        ownError: o.status === "rejected" ? String(o.reason instanceof Error ? o.reason.message : o.reason) : undefined,
        gateway: g.status === "fulfilled" ? g.value : undefined,
        gatewayError: g.status === "rejected" ? g.reason : undefined,
      });
    });
    return () => {
      live = false;
    };
  }, [id]);
  return state;
}

/**
 * The revocation statement's text, from the issuer's node: shown only when it hashes to the hash
 * the chain records (checked here again, not only by the gateway); otherwise the page says why.
 */
function Statement({ answer, recordedHash }: { answer: CertificateAnswer["statement"] | undefined; recordedHash: string | null }) {
  const { t } = useI18n();
  if (recordedHash === null || answer === undefined || answer === null) return null;
  const verified = answer.status === "verified" && keccakText(answer.text).toLowerCase() === recordedHash.toLowerCase();
  return (
    <section class="statement" data-testid="cert-statement" data-status={verified ? "verified" : answer.status === "not-held" ? "not-held" : "mismatch"}>
      <h2>{t("certStatement.title")}</h2>
      {verified ? (
        <>
          <blockquote class="statement-text">{answer.status === "verified" ? answer.text : ""}</blockquote>
          <p class="muted">{t("certStatement.verified")}</p>
        </>
      ) : answer.status === "not-held" ? (
        <p class="muted">{t(answer.reason === undefined ? "certStatement.notHeld" : "certStatement.unreachable")}</p>
      ) : (
        <p class="error" role="alert">
          {t("certStatement.mismatch")}
        </p>
      )}
      <p class="muted">
        {t("certStatement.hash")} <code class="break">{recordedHash}</code>
      </p>
    </section>
  );
}

function CertificateById({ id }: { id: string }) {
  const { t, lang } = useI18n();
  const label = useStateLabel();
  const state = useCertificate(id);
  if (state.status === "loading")
    return (
      <p role="status" aria-live="polite">
        {t("common.loading")}
      </p>
    );
  if (state.status === "missing")
    return (
      <p class="error" role="alert" data-testid="cert-missing">
        {t("cert.state.unknown")}: {t("common.notFound", { what: id })}
      </p>
    );
  if (state.status === "error") return <ErrorView error={state.error} what={id} />;
  const { own, gateway } = state;
  const shown = own ?? gateway;
  if (shown === undefined) return <ErrorView error={state.gatewayError} what={id} />;
  const agrees =
    own !== undefined &&
    gateway !== undefined &&
    own.state === gateway.state &&
    own.accreditedAtIssuance === gateway.accreditedAtIssuance &&
    own.accreditedNow === gateway.accreditedNow &&
    own.reason === gateway.reason;
  const qrLink = absoluteHref({ page: "certificate", id: shown.id });
  return (
    <div class="item-head">
      <div>
        <CertificateSummary cert={shown} />
        <SubjectRecall state={gateway?.subjectRecall} />
        <Statement answer={gateway?.statement} recordedHash={shown.reasonHash} />
        <h2>{t("cert.chainCheck")}</h2>
        {own === undefined ? (
          <p class="error" role="alert" data-testid="chain-check" data-chain-state="unchecked">
            {t("cert.chainUnreachable", { message: state.ownError ?? "?" })}
          </p>
        ) : (
          <p class={agrees || gateway === undefined ? "ok" : "bad"} data-testid="chain-check" data-chain-state={own.state}>
            {gateway === undefined || agrees
              ? t("cert.chainAgrees", { state: label(own.state) })
              : t("cert.chainDisagrees", { state: label(own.state), gateway: label(gateway.state) })}
          </p>
        )}
        {gateway !== undefined && gateway.history !== null && gateway.history.length > 0 && (
          <>
            <h2>{t("cert.history")}</h2>
            <ol class="custody">
              {gateway.history.map((h, i) => (
                <li key={i}>
                  {hasMessage(`cert.event.${h.event}`) ? t(`cert.event.${h.event}` as MessageKey) : h.event}
                  {h.reason !== undefined && ` (${hasMessage(`reason.${h.reason}`) ? t(`reason.${h.reason}` as MessageKey) : h.reason})`}
                  <span class="muted"> · {formatTime(lang, h.time)}</span>
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

function VerificationView({ result }: { result: Verification }) {
  const { t } = useI18n();
  const ok = result.verdict === "valid";
  return (
    <div data-testid="verification" data-verdict={result.verdict}>
      <p class={`cert-banner ${ok ? "cert-ok" : "cert-bad"}`} role={ok ? "status" : "alert"}>
        {ok ? t("cert.verdict.valid") : t("cert.verdict.invalid")}
      </p>
      <p class="help">{t("cert.checkedHere")}</p>
      <h2>{t("cert.checks")}</h2>
      <ul class="checks">
        {(Object.entries(result.checks) as [CheckName, { ok: boolean | null; detail: string }][]).map(([name, c]) => {
          const key = `cert.check.${name}`;
          const advisory = ADVISORY_CHECKS.includes(name);
          const cls = c.ok === true ? "ok" : c.ok === false ? (advisory ? "warn" : "bad") : "muted";
          return (
            <li key={name} class={cls} data-check={name} data-ok={String(c.ok)}>
              <span aria-hidden="true">{c.ok === true ? "✓" : c.ok === false ? "✗" : "–"}</span> {hasMessage(key) ? t(key) : name}
              <span class="sr-only">: {c.ok === true ? t("common.yes") : c.ok === false ? t("common.no") : t("cert.notChecked")}</span>
              <span class="muted small"> — {c.detail}</span>
            </li>
          );
        })}
      </ul>
      {result.problems.length > 0 && (
        <>
          <h2>{t("cert.problems")}</h2>
          <ul class="bad">
            {result.problems.map((p, i) => (
              <li key={i}>{p}</li>
            ))}
          </ul>
        </>
      )}
      {result.warnings.length > 0 && (
        <>
          <h2>{t("cert.warnings")}</h2>
          <ul>
            {result.warnings.map((p, i) => (
              <li key={i}>{p}</li>
            ))}
          </ul>
        </>
      )}
      {result.certificate !== null && <CertificateSummary cert={result.certificate} link />}
    </div>
  );
}

type Upload = { status: "idle" } | { status: "busy" } | { status: "done"; result: Verification } | { status: "error"; error: unknown };

/** Reads an uploaded credential or presentation file: the JWS text, or its JSON document. */
async function readUpload(file: File): Promise<unknown> {
  const text = (await file.text()).trim();
  return text.startsWith("{") ? (JSON.parse(text) as unknown) : text;
}

type PresentationState = { status: "idle" } | { status: "busy" } | { status: "done"; result: PresentationVerification } | { status: "error"; error: unknown };

/** Verifies a presentation (lib/credentials/presentation.ts) for the challenge and domain the verifier gave, in this page. */
function PresentationForm() {
  const { t } = useI18n();
  const [nonce, setNonce] = useState("");
  const [domain, setDomain] = useState(typeof location === "undefined" ? "" : location.host);
  const [state, setState] = useState<PresentationState>({ status: "idle" });
  const onSubmit = async (e: TargetedEvent<HTMLFormElement>) => {
    e.preventDefault();
    const file = (e.currentTarget.elements.namedItem("vp-file") as HTMLInputElement | null)?.files?.[0];
    if (file === undefined) return;
    setState({ status: "busy" });
    try {
      const input = await readUpload(file);
      const m = await checks();
      const chain = await m.getChain();
      setState({ status: "done", result: await m.verifyPresentation(input, chain.contracts, { chainId: chain.chainId, nonce: nonce.trim(), domain: domain.trim() }) });
    } catch (error) {
      setState({ status: "error", error });
    }
  };
  return (
    <section>
      <h2>{t("cert.present.title")}</h2>
      <p class="help">{t("cert.present.help")}</p>
      <form class="inline-form" onSubmit={onSubmit}>
        <label for="vp-file">{t("cert.present.file")}</label>
        <input id="vp-file" name="vp-file" type="file" accept=".json,.jwt,.txt,application/json,application/jwt,text/plain" />
        <label for="vp-nonce">{t("cert.present.nonce")}</label>
        <input id="vp-nonce" value={nonce} onInput={(e) => setNonce(e.currentTarget.value)} autoComplete="off" spellcheck={false} required />
        <label for="vp-domain">{t("cert.present.domain")}</label>
        <input id="vp-domain" value={domain} onInput={(e) => setDomain(e.currentTarget.value)} autoComplete="off" spellcheck={false} required />
        <button type="submit">{t("cert.present.submit")}</button>
      </form>
      {state.status === "busy" && <p role="status">{t("common.loading")}</p>}
      {state.status === "error" && <ErrorView error={state.error} />}
      {state.status === "done" && <PresentationView result={state.result} />}
    </section>
  );
}

function PresentationView({ result }: { result: PresentationVerification }) {
  const { t } = useI18n();
  const ok = result.verdict === "valid";
  return (
    <div data-testid="presentation" data-verdict={result.verdict}>
      <p class={`cert-banner ${ok ? "cert-ok" : "cert-bad"}`} role={ok ? "status" : "alert"}>
        {ok ? t("cert.present.valid") : t("cert.present.invalid")}
      </p>
      {result.holder !== null && <p>{t("cert.present.holder", { holder: result.holder })}</p>}
      <ul class="checks">
        {PRESENTATION_CHECK_NAMES.map((name) => {
          const c = result.checks[name];
          return (
            <li key={name} class={c.ok === true ? "ok" : c.ok === false ? "bad" : "muted"} data-check={name} data-ok={String(c.ok)}>
              <span aria-hidden="true">{c.ok === true ? "✓" : c.ok === false ? "✗" : "–"}</span> {name}
              <span class="muted small"> — {c.detail}</span>
            </li>
          );
        })}
      </ul>
      {result.credentials.map((v, i) => (
        <section key={i}>
          <h3>{t("cert.present.credential", { n: i + 1 })}</h3>
          <VerificationView result={v} />
        </section>
      ))}
    </div>
  );
}

export function CertificatePage({ id }: { id?: string }) {
  const { t } = useI18n();
  const [input, setInput] = useState(id ?? "");
  const [upload, setUpload] = useState<Upload>({ status: "idle" });
  useEffect(() => setInput(id ?? ""), [id]);

  const onLookup = (e: TargetedEvent<HTMLFormElement>) => {
    e.preventDefault();
    const v = input.trim();
    setUpload({ status: "idle" });
    if (v !== "") navigate({ page: "certificate", id: v });
  };
  const onFile = async (e: TargetedEvent<HTMLInputElement>) => {
    const file = e.currentTarget.files?.[0];
    if (file === undefined) return;
    setUpload({ status: "busy" });
    try {
      const parsed = await readUpload(file);
      const m = await checks();
      const chain = await m.getChain();
      setUpload({ status: "done", result: await m.verifyCredential(parsed, chain.contracts, { chainId: chain.chainId }) });
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
      {upload.status === "done" && <VerificationView result={upload.result} />}
      {id !== undefined && upload.status === "idle" && <CertificateById id={id} />}
      {id === undefined && upload.status === "idle" && <CertificatesByIssuer />}
      <PresentationForm />
      <SelectiveDisclosureForm />
    </article>
  );
}
