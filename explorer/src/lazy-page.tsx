/**
 * Pages load on their first visit, so the first load carries the shell and the landing page only
 * (test/explorer/first-load.test.ts keeps that under its bound). A page that failed to load (the
 * network dropped, or a redeploy renamed its chunk) shows the error and loads again next visit.
 */
import { type ComponentType, type FunctionComponent, h } from "preact";
import { Async, useAsync } from "./components/async.tsx";

export function lazyPage<P extends object>(load: () => Promise<ComponentType<P>>): FunctionComponent<P> {
  let loading: Promise<ComponentType<P>> | undefined;
  const once = () =>
    (loading ??= load().catch((e: unknown) => {
      loading = undefined;
      throw e;
    }));
  return function LazyPage(props: P) {
    const state = useAsync(once, []);
    return <Async state={state}>{(Page) => h(Page, props)}</Async>;
  };
}
