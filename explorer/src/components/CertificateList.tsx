/**
 * Certificates listed from the chain index (GET /certificates): by issuer on the certificate page,
 * so a regulator or buyer finds a certificate without knowing its id. Status, scope and issuer
 * are public; the subject is shown by key here, by its identifier on the certificate's own page.
 */
import { useState } from "preact/hooks";
import type { CertificateListAnswer } from "../../../lib/api/certificates.ts";
import type { PublicMemberAnswer } from "../../../lib/api/trace.ts";
import { api, enc } from "../api.ts";
import { StateLabel } from "./CertificateCard.tsx";
import { formatTime, useI18n } from "../i18n.ts";
import { href } from "../router.ts";
import { Async, useAsync } from "./async.tsx";

const PAGE = 20;

function CertificateTable({ issuer }: { issuer: number }) {
  const { t, lang } = useI18n();
  const [after, setAfter] = useState<string[]>([]);
  const cursor = after[after.length - 1];
  const state = useAsync(
    (signal) => api<CertificateListAnswer>(`/certificates?issuer=${issuer}&limit=${PAGE}${cursor ? `&after=${enc(cursor)}` : ""}`, { signal }),
    [issuer, cursor],
  );
  return (
    <Async state={state}>
      {(page) =>
        page.certificates.length === 0 ? (
          <p class="muted">{t("certList.none")}</p>
        ) : (
          <>
            <ul class="cert-list" data-testid="cert-list">
              {page.certificates.map((c) => (
                <li key={c.id} data-state={c.state}>
                  <StateLabel state={c.state} /> <a href={href({ page: "certificate", id: c.id })}>{c.scopeName ?? t("certList.unnamedScope")}</a>
                  <span class="muted"> · {formatTime(lang, c.issuedAt)}</span>
                  <br />
                  <span class="muted">{t("certList.subject")} </span>
                  <code class="break">{c.subject}</code>
                </li>
              ))}
            </ul>
            <p>
              {after.length > 0 && (
                <button type="button" onClick={() => setAfter(after.slice(0, -1))}>
                  {t("certList.previous")}
                </button>
              )}{" "}
              {page.nextAfter !== null && (
                <button type="button" onClick={() => setAfter([...after, page.nextAfter!])}>
                  {t("certList.next")}
                </button>
              )}
            </p>
          </>
        )
      }
    </Async>
  );
}

/** The certifiers of the consortium (its public member directory) and the certificates each issued. */
export function CertificatesByIssuer() {
  const { t } = useI18n();
  // A node without a chain index lists nothing: the section stays away rather than failing.
  const members = useAsync(async (signal) => ((await (await import("../chain.ts")).getChain()).hasIndex ? api<PublicMemberAnswer[]>("/consortium/members", { signal }) : null), []);
  const [chosen, setChosen] = useState<number | undefined>(undefined);
  if (members.status === "ok" && members.value === null) return null;
  return (
    <section>
      <h2>{t("certList.title")}</h2>
      <Async state={members}>
        {(all) => {
          const certifiers = (all ?? []).filter((m) => m.roles.includes("certifier"));
          if (certifiers.length === 0) return <p class="muted">{t("certList.noIssuers")}</p>;
          const issuer = chosen ?? certifiers[0]!.id;
          return (
            <>
              <div class="inline-form">
                <label for="cert-issuer">{t("certList.issuer")}</label>
                <select id="cert-issuer" value={String(issuer)} onChange={(e) => setChosen(Number(e.currentTarget.value))}>
                  {certifiers.map((m) => (
                    <option key={m.id} value={String(m.id)} translate={false}>
                      {m.name}
                    </option>
                  ))}
                </select>
              </div>
              <CertificateTable key={issuer} issuer={issuer} />
            </>
          );
        }}
      </Async>
    </section>
  );
}
