/** Loading and error states shared by every page. */
import type { ComponentChildren } from "preact";
import { useEffect, useState } from "preact/hooks";
import { ApiError } from "../api.ts";
import { useI18n } from "../i18n.ts";
import { href } from "../router.ts";

export type AsyncState<T> = { status: "loading" } | { status: "ok"; value: T } | { status: "error"; error: unknown };

/** Runs `load` whenever `deps` change; a stale answer never overwrites a newer one. */
export function useAsync<T>(load: (signal: AbortSignal) => Promise<T>, deps: unknown[]): AsyncState<T> {
  const [state, setState] = useState<AsyncState<T>>({ status: "loading" });
  useEffect(() => {
    const abort = new AbortController();
    setState({ status: "loading" });
    load(abort.signal).then(
      (value) => abort.signal.aborted || setState({ status: "ok", value }),
      (error: unknown) => abort.signal.aborted || setState({ status: "error", error }),
    );
    return () => abort.abort(); // deps: the caller names them
  }, deps);
  return state;
}

export function ErrorView({ error, what }: { error: unknown; what?: string }) {
  const { t } = useI18n();
  if (error instanceof ApiError && error.status === 401)
    return (
      <p class="notice" role="status">
        {t("common.signinNeeded")} <a href={href({ page: "signin" })}>{t("nav.signin")}</a>
      </p>
    );
  if (error instanceof ApiError && error.status === 403)
    return (
      <p class="notice" role="status">
        {t("common.forbidden")}
      </p>
    );
  if (error instanceof ApiError && error.status === 404)
    return (
      <p class="notice" role="status">
        {t("common.notFound", { what: what ?? error.message })}
      </p>
    );
  return (
    <p class="error" role="alert">
      {t("common.error", { message: error instanceof Error ? error.message : String(error) })}
    </p>
  );
}

export function Async<T>({ state, what, children }: { state: AsyncState<T>; what?: string; children: (value: T) => ComponentChildren }) {
  const { t } = useI18n();
  if (state.status === "loading")
    return (
      <p class="loading" role="status" aria-live="polite">
        {t("common.loading")}
      </p>
    );
  if (state.status === "error") return <ErrorView error={state.error} what={what} />;
  return <>{children(state.value)}</>;
}
