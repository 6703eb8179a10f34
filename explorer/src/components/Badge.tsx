/** The verification badge of one event, computed by the page (verify-event.ts). */
import { useI18n } from "../i18n.ts";
import type { Badge } from "../verify-event.ts";
import { Icon, type IconName } from "./Icon.tsx";

const ICON: Record<Badge["state"] | "checking", IconName> = {
  verified: "check",
  altered: "cross",
  pending: "dots",
  withheld: "lock",
  error: "alert",
  checking: "dots",
};

export function BadgeView({ badge }: { badge: Badge | undefined }) {
  const { t } = useI18n();
  const state = badge?.state ?? "checking";
  const label = badge === undefined ? t("badge.checking") : t(`badge.${badge.state}`);
  const detail =
    badge === undefined
      ? undefined
      : badge.state === "error"
        ? badge.message
        : badge.state === "altered"
          ? `${t("badge.altered.detail")} (page: ${badge.computed.slice(0, 12)}…, chain: ${badge.onChain.slice(0, 12)}…)`
          : t(`badge.${badge.state}.detail`);
  return (
    <span class={`badge badge-${state}`} data-badge={state} title={detail} role="status">
      <Icon name={ICON[state]} /> {label}
      {detail !== undefined && <span class="sr-only">: {detail}</span>}
    </span>
  );
}
