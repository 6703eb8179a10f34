/** The consortium: members and their roles, open proposals and how each member voted. */
import type { ConsortiumAnswer } from "../../../lib/api/trace.ts";
import { api, orgName } from "../api.ts";
import { Async, useAsync } from "../components/async.tsx";
import { formatTime, useI18n } from "../i18n.ts";

export function ConsortiumPage() {
  const { t, lang } = useI18n();
  const state = useAsync((signal) => api<ConsortiumAnswer>("/consortium", { signal }), []);
  const deadline = (d: string | number) => formatTime(lang, typeof d === "number" ? d * 1000 : d);
  return (
    <article>
      <h1>{t("consortium.title")}</h1>
      <Async state={state}>
        {(c) => (
          <>
            <section aria-labelledby="h-members">
              <h2 id="h-members">{t("consortium.members")}</h2>
              <div class="table-wrap">
                <table>
                  <thead>
                    <tr>
                      <th scope="col">{t("consortium.name")}</th>
                      <th scope="col">{t("consortium.roles")}</th>
                      <th scope="col">{t("consortium.status")}</th>
                    </tr>
                  </thead>
                  <tbody>
                    {c.members.map((m) => (
                      <tr key={m.id}>
                        <th scope="row">{m.name}</th>
                        <td>{m.roles.join(", ")}</td>
                        <td class={/active/i.test(m.status) ? "" : "bad"}>{m.status}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            </section>
            <section aria-labelledby="h-proposals">
              <h2 id="h-proposals">{t("consortium.proposals")}</h2>
              {c.proposals.filter((p) => /open|pending|active/i.test(p.status)).length === 0 ? (
                <p>{t("consortium.proposalsEmpty")}</p>
              ) : (
                <ul class="cards">
                  {c.proposals
                    .filter((p) => /open|pending|active/i.test(p.status))
                    .map((p) => (
                      <li key={p.id} class="card">
                        <h3>{t("consortium.proposal", { id: String(p.id), kind: p.kind })}</h3>
                        <p>{t("consortium.votes", { yes: p.yes, no: p.no, required: p.required, deadline: deadline(p.deadline) })}</p>
                        <progress max={p.required} value={Math.min(p.yes, p.required)} aria-label={`${p.yes}/${p.required}`} />
                        <ul>
                          {p.votes.map((v, i) => (
                            <li key={i}>{t("consortium.voted", { org: orgName(v.org), vote: v.support ? t("consortium.for") : t("consortium.against") })}</li>
                          ))}
                        </ul>
                      </li>
                    ))}
                </ul>
              )}
            </section>
          </>
        )}
      </Async>
    </article>
  );
}
