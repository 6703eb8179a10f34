/**
 * The certificate page's selective disclosure verifier: a buyer or auditor pastes or uploads the
 * SD-JWT a supplier presented (lib/credentials/selective-disclosure.ts) with the challenge and
 * domain it gave, and the page verifies it itself against the chain: which claims the supplier
 * disclosed, as the issuer signed them, and how many stay hidden. Nothing is uploaded.
 */
import type { TargetedEvent } from "preact";
import { useState } from "preact/hooks";
import { ADVISORY_CHECKS, type CheckName, SELECTIVE_CHECK_NAMES } from "../../../lib/credentials/check-names.ts";
import type { SelectiveVerification } from "../../../lib/credentials/selective-disclosure.ts";
import { hasMessage, useI18n } from "../i18n.ts";
import { href } from "../router.ts";
import { ErrorView } from "./async.tsx";

type State = { status: "idle" } | { status: "busy" } | { status: "done"; result: SelectiveVerification } | { status: "error"; error: unknown };

export function SelectiveDisclosureForm() {
  const { t } = useI18n();
  const [text, setText] = useState("");
  const [nonce, setNonce] = useState("");
  const [domain, setDomain] = useState(typeof location === "undefined" ? "" : location.host);
  const [state, setState] = useState<State>({ status: "idle" });
  const onFile = async (e: TargetedEvent<HTMLInputElement>) => {
    const file = e.currentTarget.files?.[0];
    if (file !== undefined) setText((await file.text()).trim());
  };
  const onSubmit = async (e: TargetedEvent<HTMLFormElement>) => {
    e.preventDefault();
    setState({ status: "busy" });
    try {
      // Verification and the chain client load on first use (certificate-checks.ts).
      const m = await import("../certificate-checks.ts");
      const chain = await m.getChain();
      const input = text.trim().startsWith("{") ? (JSON.parse(text) as unknown) : text.trim();
      setState({ status: "done", result: await m.verifySelectiveDisclosure(input, chain.contracts, { chainId: chain.chainId, nonce: nonce.trim(), domain: domain.trim() }) });
    } catch (error) {
      setState({ status: "error", error });
    }
  };
  return (
    <section data-testid="selective-disclosure-form">
      <h2>{t("cert.sd.title")}</h2>
      <p class="help">{t("cert.sd.help")}</p>
      <form class="inline-form" onSubmit={onSubmit}>
        <label for="sd-text">{t("cert.sd.paste")}</label>
        <textarea id="sd-text" rows={3} value={text} onInput={(e) => setText(e.currentTarget.value)} spellcheck={false} required />
        <label for="sd-file">{t("cert.sd.file")}</label>
        <input id="sd-file" type="file" accept=".txt,.jwt,.json,text/plain,application/json" onChange={onFile} />
        <label for="sd-nonce">{t("cert.sd.nonce")}</label>
        <input id="sd-nonce" value={nonce} onInput={(e) => setNonce(e.currentTarget.value)} autoComplete="off" spellcheck={false} required />
        <label for="sd-domain">{t("cert.sd.domain")}</label>
        <input id="sd-domain" value={domain} onInput={(e) => setDomain(e.currentTarget.value)} autoComplete="off" spellcheck={false} required />
        <button type="submit">{t("cert.sd.submit")}</button>
      </form>
      {state.status === "busy" && <p role="status">{t("common.loading")}</p>}
      {state.status === "error" && <ErrorView error={state.error} />}
      {state.status === "done" && <SelectiveDisclosureView result={state.result} />}
    </section>
  );
}

function SelectiveDisclosureView({ result }: { result: SelectiveVerification }) {
  const { t } = useI18n();
  const ok = result.verdict === "valid";
  return (
    <div data-testid="selective-disclosure" data-verdict={result.verdict}>
      <p class={`cert-banner ${ok ? "cert-ok" : "cert-bad"}`} role={ok ? "status" : "alert"}>
        {ok ? t("cert.sd.valid") : t("cert.sd.invalid")}
      </p>
      {result.id !== null && (
        <p class="break">
          {t("cert.sd.certificate")} <a class="break" href={href({ page: "certificate", id: result.id })}>{result.id}</a>
          {result.holder !== null && <> · {t("cert.present.holder", { holder: result.holder })}</>}
        </p>
      )}
      <h3>{t("cert.sd.disclosed")}</h3>
      {result.disclosed.length === 0 ? (
        <p class="muted">{t("cert.sd.noneDisclosed")}</p>
      ) : (
        <table class="claims" data-testid="disclosed">
          <tbody>
            {result.disclosed.map((d) => (
              <tr key={d.path} data-path={d.path}>
                <th scope="row">{d.path}</th>
                <td class="break">
                  <code>{typeof d.value === "string" ? d.value : JSON.stringify(d.value)}</code>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <ul data-testid="hidden">
        {result.hidden.map((h) => (
          <li key={h.path} data-path={h.path} data-count={h.count}>
            {t("cert.sd.hidden", { n: h.count, path: h.path })}
          </li>
        ))}
      </ul>
      <h3>{t("cert.checks")}</h3>
      <ul class="checks">
        {SELECTIVE_CHECK_NAMES.map((name) => {
          const c = result.checks[name];
          const key = `cert.check.${name}`;
          const cls = c.ok === true ? "ok" : c.ok === false ? (ADVISORY_CHECKS.includes(name as CheckName) ? "warn" : "bad") : "muted";
          return (
            <li key={name} class={cls} data-check={name} data-ok={String(c.ok)}>
              <span aria-hidden="true">{c.ok === true ? "✓" : c.ok === false ? "✗" : "–"}</span> {hasMessage(key) ? t(key) : name}
              <span class="muted small break"> — {c.detail}</span>
            </li>
          );
        })}
      </ul>
    </div>
  );
}
