/**
 * Recall at a glance: the banner at the top of an affected item (recalled itself, or made from
 * something recalled: which item or batch, by whom, when, how far the recall reaches and what the
 * viewer holds of it), and the list of everything a recall reaches. The gateway sends codes
 * (GET /items/{id}/recall); every word here comes from the message catalogue.
 */
import type { RecallAnswer, RecallReachAnswer } from "../../../lib/api/trace.ts";
import { parseIdentifier } from "../../../lib/identifiers/canonical.ts";
import { identifierLabel } from "../describe-event.ts";
import { type MessageKey, formatTime, hasMessage, useI18n } from "../i18n.ts";
import { href } from "../router.ts";

const shortKey = (key: string) => `${key.slice(0, 10)}…`;

/**
 * An identifier in words of the page's language: GTIN with lot or serial, the values themselves
 * marked as not to be translated; the short on-chain key where the viewer may not see more.
 */
export function IdentifierLabel({ item }: { item: { key: string; identifier?: string } }) {
  const { t } = useI18n();
  if (item.identifier === undefined) return <span class="mono">{shortKey(item.key)}</span>;
  try {
    const id = parseIdentifier(item.identifier);
    const q = Object.fromEntries(id.qualifiers.map((e) => [e.ai, e.value]));
    if (id.primary.ai === "01")
      return (
        <span>
          GTIN <span translate={false}>{id.primary.value}</span>
          {q["10"] !== undefined && (
            <>
              {" · "}
              {t("id.lot")} <span translate={false}>{q["10"]}</span>
            </>
          )}
          {q["21"] !== undefined && (
            <>
              {" · "}
              {t("id.serial")} <span translate={false}>{q["21"]}</span>
            </>
          )}
        </span>
      );
  } catch {
    // not a GS1 identifier the page knows: shown as the gateway gave it
  }
  return <span translate={false}>{identifierLabel(item.identifier)}</span>;
}

/**
 * A code the gateway sends in words: an item status (`status.active`, ...), a record kind
 * (`record.recallBatch`, ...), an edge device's state (`device.connected`, ...) or the anchorer's
 * (`anchoring.idle`, ...); an unknown code stays as sent.
 */
export function useCodeWord(kind: "status" | "record" | "device" | "anchoring"): (code: string) => string {
  const { t } = useI18n();
  return (code) => {
    const key = `${kind}.${code}`;
    return hasMessage(key) ? t(key as MessageKey) : code;
  };
}

/** An item status code from the gateway (active, inTransit, consumed, assembled) in words. */
export const useStatusWord = () => useCodeWord("status");

export function RecallBanner({ recall }: { recall: RecallAnswer }) {
  const { t, lang } = useI18n();
  if (recall.state === "clear") return null;
  return (
    <section class="recall-banner" role="alert" data-testid="recall-banner" aria-labelledby="h-recall">
      <h2 id="h-recall">{t(recall.state === "recalled" ? "recall.recalled" : "recall.inScope")}</h2>
      <ul class="recall-causes">
        {recall.causes.map((c) => (
          <li key={c.key} data-key={c.key}>
            {t(c.kind === "batch" ? "recall.causeBatch" : "recall.causeItem")}{" "}
            <a href={href({ page: "item", id: c.identifier ?? c.key })}>
              <IdentifierLabel item={c} />
            </a>
            {c.by !== undefined && c.by !== null && (
              <>
                {" · "}
                {t("recall.byPrefix")}
                <span translate={false}>{c.by.name}</span>
                {t("recall.bySuffix")}
              </>
            )}
            {c.at !== undefined && <> · {formatTime(lang, c.at)}</>}
          </li>
        ))}
      </ul>
      <p>
        {t("recall.reach", { count: recall.reach.count })} {t("recall.held", { count: recall.reach.held })}
      </p>
    </section>
  );
}

/** Everything a recall reaches (or, for a batch, everything downstream of it), the viewer's own marked. */
export function RecallReach({ recall }: { recall: RecallAnswer }) {
  const { t } = useI18n();
  const statusWord = useStatusWord();
  if (recall.reach.count === 0) return <p>{t("recall.reachEmpty")}</p>;
  return (
    <>
      <p>
        {t("recall.reach", { count: recall.reach.count })} {t("recall.held", { count: recall.reach.held })}
      </p>
      <ul class="reach-list" data-testid="recall-reach">
        {recall.reach.items.map((i: RecallReachAnswer) => (
          <li key={i.key} data-key={i.key}>
            <a href={href({ page: "item", id: i.identifier ?? i.key })}>
              <IdentifierLabel item={i} />
            </a>{" "}
            <span class="muted">
              · {statusWord(i.status)}
              {i.owner !== null && (
                <>
                  {" · "}
                  <span translate={false}>{i.owner.name}</span>
                </>
              )}
            </span>
            {i.held && <span class="tag tag-amber">{t("recall.yours")}</span>}
          </li>
        ))}
      </ul>
      {recall.reach.truncated && <p class="muted small">{t("recall.more", { shown: recall.reach.items.length, count: recall.reach.count })}</p>}
    </>
  );
}
