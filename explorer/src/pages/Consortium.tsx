/**
 * The consortium: members and their roles (public), open proposals and how each member voted
 * (members only: a visitor who is not signed in gets the public member directory).
 */
import type { ConsortiumAnswer, PublicMemberAnswer } from "../../../lib/api/trace.ts";
import { api, orgName, session } from "../api.ts";
import { Async, useAsync } from "../components/async.tsx";
import { type MessageKey, formatTime, hasMessage, useI18n } from "../i18n.ts";
import { href } from "../router.ts";

/** A member's role or status code in words (`role.supplier`, `memberStatus.active`). */
function useMemberWord(): (prefix: "role" | "memberStatus", code: string) => string {
  const { t } = useI18n();
  return (prefix, code) => (hasMessage(`${prefix}.${code}`) ? t(`${prefix}.${code}` as MessageKey) : code);
}

export function ConsortiumPage() {
  const { t, lang } = useI18n();
  const word = useMemberWord();
  const signedIn = session() !== undefined;
  const state = useAsync<{ members: PublicMemberAnswer[]; proposals: ConsortiumAnswer["proposals"] | null }>(
    (signal) =>
      signedIn
        ? api<ConsortiumAnswer>("/consortium", { signal })
        : api<PublicMemberAnswer[]>("/consortium/members", { signal }).then((members) => ({ members, proposals: null })),
    [signedIn],
  );
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
                        <th scope="row" translate={false}>
                          {m.name}
                        </th>
                        <td>{m.roles.map((r) => word("role", r)).join(t("consortium.listSeparator"))}</td>
                        <td class={/active/i.test(m.status) ? "" : "bad"}>{word("memberStatus", m.status)}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            </section>
            <section aria-labelledby="h-proposals">
              <h2 id="h-proposals">{t("consortium.proposals")}</h2>
              {c.proposals === null ? (
                <p class="notice" data-testid="proposals-members-only">
                  {t("consortium.proposalsMembersOnly")} <a href={href({ page: "signin" })}>{t("nav.signin")}</a>
                </p>
              ) : c.proposals.filter((p) => /open|pending|active/i.test(p.status)).length === 0 ? (
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
