/**
 * An item: what it is, its history with a badge per event that this page computes itself, its
 * custody chain, certificates, genealogy graph and the QR code of its Digital Link.
 */
import { useEffect, useState } from "preact/hooks";
import type { GenealogyAnswer, HistoryAnswer, HistoryEntryAnswer, ItemCertificateAnswer, ItemOrBatchAnswer, RecallAnswer } from "../../../lib/api/trace.ts";
import type { OnChainCertificate } from "../../../lib/credentials.ts";
import { declaredIgnoreFields } from "../../../lib/epcis/event-hash.ts";
import { canonicalIdentifier, itemKey } from "../../../lib/identifiers/canonical.ts";
import { type RevocationReason, reasonName } from "../../../lib/registry.ts";
import { api, enc, locationNames, orgName, session } from "../api.ts";
import { BadgeView } from "../components/Badge.tsx";
import { Async, useAsync } from "../components/async.tsx";
import { GenealogyGraph } from "../components/Genealogy.tsx";
import { PassportFieldsForm } from "../components/PassportFields.tsx";
import { RequestAccess } from "../components/AccessRequests.tsx";
import { Qr, gatewayDigitalLink } from "../components/Qr.tsx";
import { IdentifierLabel, RecallBanner, RecallReach, useCodeWord, useStatusWord } from "../components/Recall.tsx";
import { describeEvent } from "../describe-event.ts";
import { formatTime, useI18n } from "../i18n.ts";
import { href } from "../router.ts";
import { type Badge, type ContextSource, verifyEntry } from "../verify-event.ts";
import { CertificateSummary } from "../components/CertificateCard.tsx";
import { PassportView } from "./Passport.tsx";

/** The canonical Digital Link and on-chain key, computed here when the id is a GS1 identifier. */
function localIdentity(id: string): { digitalLink?: string; key?: string } {
  if (/^0x[0-9a-fA-F]{64}$/.test(id)) return { key: id.toLowerCase() };
  try {
    return { digitalLink: canonicalIdentifier(id), key: itemKey(id) };
  } catch {
    try {
      return { digitalLink: canonicalIdentifier(id) };
    } catch {
      return {};
    }
  }
}

export function ItemPage({ id }: { id: string }) {
  const { t, lang } = useI18n();
  const local = localIdentity(id);
  // Not signed in (a scanned QR code): the public passport instead of the members' view.
  const anonymous = session() === undefined;
  const item = useAsync((signal) => (anonymous ? new Promise<never>(() => undefined) : api<ItemOrBatchAnswer>(`/items/${enc(id)}`, { signal })), [id, anonymous]);
  const digitalLink = (item.status === "ok" ? item.value.digitalLink : undefined) ?? local.digitalLink;
  // Recall at a glance: fetched once the item is known, shown above everything else.
  const recall = useAsync((signal) => (item.status === "ok" ? api<RecallAnswer>(`/items/${enc(id)}/recall`, { signal }) : new Promise<never>(() => undefined)), [id, item.status]);
  const statusWord = useStatusWord();

  return (
    <article>
      <h1>
        {t("item.title")}: {digitalLink === undefined ? id : <IdentifierLabel item={{ key: id, identifier: digitalLink }} />}
      </h1>
      {recall.status === "ok" && <RecallBanner recall={recall.value} />}
      {anonymous && <PassportView id={id} />}
      <div class="item-head" hidden={anonymous}>
        <dl class="facts">
          <dt>{t("item.identifier")}</dt>
          <dd>
            <code class="break">{digitalLink ?? id}</code>
          </dd>
          {(local.key ?? (item.status === "ok" ? item.value.key : undefined)) !== undefined && (
            <>
              <dt>{t("item.key")}</dt>
              <dd>
                <code class="break">{local.key ?? (item.status === "ok" ? item.value.key : "")}</code>
              </dd>
            </>
          )}
          <Async state={item} what={id}>
            {(it) => (
              <>
                <dt>{t("item.status")}</dt>
                <dd>
                  {/* An item a recall reaches is not "active": the recall is its status. */}
                  {it.kind === "item" && !it.recalled && !(recall.status === "ok" && recall.value.state !== "clear") && statusWord(it.status)}{" "}
                  {(it.recalled || (recall.status === "ok" && recall.value.state === "recalled")) && <span class="tag tag-red">{t("item.recalled")}</span>}
                  {recall.status === "ok" && recall.value.state === "in-scope" && <span class="tag tag-red">{t("recall.inScope")}</span>}
                </dd>
                <dt>{t("item.owner")}</dt>
                <dd translate={false}>{orgName(it.owner)}</dd>
                {it.kind === "item" && it.custodian !== null && (
                  <>
                    <dt>{t("item.custodian")}</dt>
                    <dd translate={false}>{orgName(it.custodian)}</dd>
                  </>
                )}
                {it.kind === "item" && it.parent !== undefined && (
                  <>
                    <dt>{t("item.parent")}</dt>
                    <dd>
                      <a href={href({ page: "item", id: it.parent })} class="mono break">
                        {it.parent}
                      </a>
                    </dd>
                  </>
                )}
                <dt>{t("item.created")}</dt>
                <dd>{formatTime(lang, it.createdAt)}</dd>
              </>
            )}
          </Async>
        </dl>
        {digitalLink !== undefined && <Qr link={gatewayDigitalLink(digitalLink)} />}
      </div>
      {item.status === "ok" && item.value.kind === "batch" && recall.status === "ok" && (
        <section aria-labelledby="h-reach">
          <h2 id="h-reach">{t(recall.value.state === "clear" ? "recall.downstreamTitle" : "recall.reachTitle")}</h2>
          <RecallReach recall={recall.value} />
        </section>
      )}
      {/* The maker chooses what its public passport shows (the gateway says whether the caller may). */}
      {item.status === "ok" && digitalLink !== undefined && <PassportFieldsForm id={digitalLink} />}
      {/* A partner asks the maker for more (shown on the maker's own gateway only). */}
      {item.status === "ok" && item.value.kind === "item" && digitalLink !== undefined && <RequestAccess id={digitalLink} />}
      {item.status === "ok" && <ItemDetails id={id} batch={item.value.kind === "batch"} />}
    </article>
  );
}

function ItemDetails({ id, batch }: { id: string; batch: boolean }) {
  const { t } = useI18n();
  const history = useAsync((signal) => api<HistoryAnswer>(`/items/${enc(id)}/history`, { signal }), [id]);
  const genealogy = useAsync((signal) => api<GenealogyAnswer>(`/items/${enc(id)}/genealogy?direction=both&depth=16&limit=5000`, { signal }), [id]);
  const certificates = useAsync((signal) => api<ItemCertificateAnswer[]>(`/items/${enc(id)}/certificates`, { signal }).then((l) => l.map(certificateOf)), [id]);
  return (
    <>
      <section aria-labelledby="h-timeline">
        <h2 id="h-timeline">{t("item.timeline")}</h2>
        <Async state={history}>{(h) => <Timeline entries={h.entries} />}</Async>
      </section>
      <section aria-labelledby="h-custody">
        <h2 id="h-custody">{t("item.custody")}</h2>
        <Async state={history}>{(h) => <Custody entries={h.entries} />}</Async>
      </section>
      <section aria-labelledby="h-certs">
        <h2 id="h-certs">{t("item.certificates")}</h2>
        <Async state={certificates}>
          {(list) =>
            list.length === 0 ? (
              <p>{t("item.certificatesEmpty")}</p>
            ) : (
              <ul class="cards">
                {list.map((c) => (
                  <li key={c.id}>
                    <CertificateSummary cert={c} link subjectLink={undefined} />
                  </li>
                ))}
              </ul>
            )
          }
        </Async>
      </section>
      {/* A batch's genealogy is its downstream list (above); the graph is an item's. */}
      {!batch && (
        <section aria-labelledby="h-genealogy">
          <h2 id="h-genealogy">{t("item.genealogy")}</h2>
          <Async state={genealogy}>{(g) => <GenealogyGraph graph={g} />}</Async>
        </section>
      )}
    </>
  );
}

/** The item list's certificate (from the chain index) in the shape of GET /certificates/{id} (lib/credentials.ts). */
function certificateOf(c: ItemCertificateAnswer): OnChainCertificate {
  const withReason = c.state === "revoked" || c.state === "suspended";
  const reason = !withReason || c.reason === undefined ? null : reasonName(c.reason as RevocationReason);
  return {
    id: c.id,
    state: c.state,
    issuer: c.issuer ?? { id: 0, name: null },
    subject: c.subject,
    scope: c.scope,
    issuedAt: c.issuedAt,
    validFrom: c.validFrom,
    validUntil: c.validUntil,
    reason,
    reasonHash: null,
    suspendedAt: null,
    revokedAt: null,
    supersedes: c.supersedes ?? null,
    supersededBy: c.supersededBy ?? null,
    accreditedAtIssuance: c.accreditedAtIssuance,
    accreditedNow: c.accreditedNow,
  };
}

/** The @context (and ignoreFields) an event was captured with, from the EPCIS query binding. */
const contextFromQuery: ContextSource = async (eventId) => {
  type Obj = Record<string, unknown>;
  const qd = await api<Obj>(`/events/${enc(eventId)}`);
  // The query document's own @context, plus the one the binding attaches to the event itself.
  const list = (((qd.epcisBody as Obj | undefined)?.queryResults as Obj | undefined)?.resultsBody as Obj | undefined)?.eventList;
  const event = Array.isArray(list) ? (list as Obj[]).find((e) => e.eventID === eventId) : undefined;
  const context = [qd["@context"], event?.["@context"]].flat().filter((c) => c !== undefined);
  return { context, ignoreFields: declaredIgnoreFields(qd) };
};

const hasReadings = (doc: Record<string, unknown> | null | undefined): boolean =>
  doc !== null && doc !== undefined && (Array.isArray(doc.sensorElementList) || Object.keys(doc).some((k) => /stream|reading/i.test(k)));

function Timeline({ entries }: { entries: HistoryEntryAnswer[] }) {
  const { t, lang } = useI18n();
  const [badges, setBadges] = useState<(Badge | undefined)[]>([]);
  // Locations in names (EPCIS master data) where the signed-in organisation may read them.
  const [places, setPlaces] = useState<Record<string, string>>({});
  useEffect(() => {
    let live = true;
    const ids = entries.flatMap((e) => [e.document?.["readPoint"], e.document?.["bizLocation"]]).flatMap((p) => {
      const id = p !== null && typeof p === "object" ? (p as Record<string, unknown>)["id"] : p;
      return typeof id === "string" ? [id] : [];
    });
    void locationNames(ids).then((names) => live && setPlaces(names));
    return () => {
      live = false;
    };
  }, [entries]);
  useEffect(() => {
    let live = true;
    setBadges(entries.map(() => undefined));
    // The chain client (ethers, the contract ABIs) loads after the page has shown, not with it.
    import("../chain.ts").then((m) => m.getChain()).then(
      (chain) =>
        entries.forEach((entry, i) =>
          verifyEntry(entry, chain.provenance, contextFromQuery).then((b) => {
            if (live) setBadges((prev) => prev.map((x, j) => (j === i ? b : x)));
          }),
        ),
      (e: unknown) => live && setBadges(entries.map(() => ({ state: "error", message: e instanceof Error ? e.message : String(e) }))),
    );
    return () => {
      live = false;
    };
  }, [entries]);

  const recordWord = useCodeWord("record");
  if (entries.length === 0) return <p>{t("item.timelineEmpty")}</p>;
  const fmt = (v: string) => formatTime(lang, v);
  return (
    <ol class="timeline">
      {entries.map((entry, i) => {
        const doc = entry.document ?? undefined;
        const words = doc === undefined ? undefined : describeEvent(doc, t, lang, fmt, (id) => places[id]);
        return (
          <li key={`${entry.recordId ?? ""}-${entry.eventId ?? i}`} class="event" data-event-id={entry.eventId} data-record-id={entry.recordId ?? ""}>
            <div class="event-head">
              <strong class="event-what">{words?.what ?? recordWord(entry.kind)}</strong>
              <BadgeView badge={badges[i]} />
            </div>
            <dl class="w5">
              <dt>{t("event.who")}</dt>
              <dd>{orgName(entry.org)}</dd>
              {words !== undefined ? (
                <>
                  <dt>{t("event.when")}</dt>
                  <dd>{words.when}</dd>
                  {words.where.length > 0 && (
                    <>
                      <dt>{t("event.where")}</dt>
                      <dd>{words.where.join("; ")}</dd>
                    </>
                  )}
                  {words.why.length > 0 && (
                    <>
                      <dt>{t("event.why")}</dt>
                      <dd>{words.why.join("; ")}</dd>
                    </>
                  )}
                </>
              ) : (
                <>
                  {entry.time !== undefined && (
                    <>
                      <dt>{t("event.when")}</dt>
                      <dd>{fmt(entry.time)}</dd>
                    </>
                  )}
                  <dd class="muted full">{entry.access === "public-fact" || entry.access === undefined ? t("event.withheld") : t("event.elsewhere")}</dd>
                </>
              )}
            </dl>
            {entry.grant?.path !== undefined && entry.grant.path.length > 1 && (
              <p class="muted small" data-testid="shared-via">
                {t("event.sharedVia", { path: entry.grant.path.map((k) => `${k.slice(0, 10)}…`).join(" ⊃ ") })}
              </p>
            )}
            {entry.rule !== undefined && <p class="muted small">{t("event.sharedVia", { path: entry.rule })}</p>}
            <details>
              <summary>{t("event.hash")}</summary>
              <p class="mono small break">
                {entry.recordId !== undefined && entry.recordId !== null && t("event.record", { id: String(entry.recordId), block: entry.block ?? "?" })}
                {entry.corrects !== undefined && entry.corrects !== null && <> · {t("event.corrects", { id: String(entry.corrects) })}</>}
                <br />
                {entry.eventHash}
              </p>
            </details>
            {typeof entry.eventId === "string" && hasReadings(doc) && (
              <a class="button-link" href={href({ page: "readings", eventId: entry.eventId })}>
                {t("event.readingsLink")}
              </a>
            )}
          </li>
        );
      })}
    </ol>
  );
}

/** Who held the item, in order: its commissioning, then every receipt (and shipments between). */
function Custody({ entries }: { entries: HistoryEntryAnswer[] }) {
  const { t, lang } = useI18n();
  const recordWord = useCodeWord("record");
  const steps = entries.filter((e) => /commission|ship|receive|transform|assembl/i.test(e.kind));
  if (steps.length === 0) return <p>{t("item.custodyEmpty")}</p>;
  return (
    <ol class="custody">
      {steps.map((e, i) => (
        <li key={i}>
          <span class="custody-org" translate={false}>
            {orgName(e.org)}
          </span>{" "}
          <span class="muted">{recordWord(e.kind)}</span>
          {e.time !== undefined && <span class="muted"> · {formatTime(lang, e.time)}</span>}
        </li>
      ))}
    </ol>
  );
}
