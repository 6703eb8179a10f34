/** The explorer's shell: header with navigation, language switch and sign-in state; the pages. */
import "./buffer-global.ts";
import "./style.css";
import { render } from "preact";
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { type Session, saveSession, session } from "./api.ts";
import { I18nContext, LANGS, type Lang, storeLang, storedLang, translator } from "./i18n.ts";
import { SearchPage } from "./pages/Search.tsx";
import { lazyPage } from "./lazy-page.tsx";
import { type Route, href, navigate, useRoute } from "./router.ts";

// The landing page comes with the shell; every other page loads on its first visit.
const CertificatePage = lazyPage(() => import("./pages/Certificate.tsx").then((m) => m.CertificatePage));
const AccessLogPage = lazyPage(() => import("./pages/AccessLog.tsx").then((m) => m.AccessLogPage));
const ConsortiumPage = lazyPage(() => import("./pages/Consortium.tsx").then((m) => m.ConsortiumPage));
const ItemPage = lazyPage(() => import("./pages/Item.tsx").then((m) => m.ItemPage));
const ReadingsPage = lazyPage(() => import("./pages/Readings.tsx").then((m) => m.ReadingsPage));
const SignInPage = lazyPage(() => import("./pages/SignIn.tsx").then((m) => m.SignInPage));
const WorkbenchPage = lazyPage(() => import("./pages/Workbench.tsx").then((m) => m.WorkbenchPage));

function Page({ route, onSignedIn }: { route: Route; onSignedIn(s: Session): void }) {
  switch (route.page) {
    case "search":
      return <SearchPage />;
    case "item":
      return <ItemPage id={route.id} />;
    case "certificate":
      return <CertificatePage id={route.id} />;
    case "readings":
      return <ReadingsPage eventId={route.eventId} />;
    case "consortium":
      return <ConsortiumPage />;
    case "access-log":
      return <AccessLogPage />;
    case "signin":
      return <SignInPage onSignedIn={onSignedIn} />;
    case "workbench":
      return <WorkbenchPage tab={route.tab} />;
  }
}

function App() {
  const [lang, setLangState] = useState<Lang>(storedLang);
  const [user, setUser] = useState<Session | undefined>(session);
  const route = useRoute();
  const main = useRef<HTMLElement>(null);
  const i18n = useMemo(
    () => ({
      lang,
      t: translator(lang),
      setLang: (l: Lang) => {
        storeLang(l);
        setLangState(l);
      },
    }),
    [lang],
  );
  const { t } = i18n;
  useEffect(() => {
    document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
    document.title = t("app.title");
  }, [lang]);
  // After navigation, move focus to the new page so keyboard and screen reader users follow it.
  const first = useRef(true);
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    main.current?.focus();
  }, [route]);
  const signOut = () => {
    saveSession(undefined);
    setUser(undefined);
    navigate({ page: "search" });
  };
  const current = (page: Route["page"]) => (route.page === page ? "page" : undefined);
  // Keyed by the session, pages reload their data after a sign-in or sign-out (the sign-in page
  // itself stays, to show the result).
  const pageKey = route.page === "signin" ? "signin" : `${route.page}:${user?.token ?? ""}`;
  return (
    <I18nContext.Provider value={i18n}>
      <a class="skip" href="#main" onClick={(e) => (e.preventDefault(), main.current?.focus())}>
        {t("app.skip")}
      </a>
      <header class="top">
        <a class="brand" href={href({ page: "search" })}>
          Tracemesh
        </a>
        <nav aria-label="main">
          <a href={href({ page: "search" })} aria-current={current("search")}>
            {t("nav.search")}
          </a>
          <a href={href({ page: "certificate" })} aria-current={current("certificate")}>
            {t("nav.certificate")}
          </a>
          <a href={href({ page: "consortium" })} aria-current={current("consortium")}>
            {t("nav.consortium")}
          </a>
          {user !== undefined && (
            <a href={href({ page: "access-log" })} aria-current={current("access-log")}>
              {t("nav.accessLog")}
            </a>
          )}
          {user !== undefined && (
            <a href={href({ page: "workbench", tab: "register" })} aria-current={current("workbench")}>
              {t("nav.workbench")}
            </a>
          )}
          {user === undefined ? (
            <a href={href({ page: "signin" })} aria-current={current("signin")}>
              {t("nav.signin")}
            </a>
          ) : (
            <button type="button" class="link" onClick={signOut}>
              {t("nav.signout")}
            </button>
          )}
        </nav>
        <div class="lang" role="group" aria-label={t("nav.language")}>
          {LANGS.map((l) => (
            <button key={l} type="button" lang={l === "zh" ? "zh-CN" : "en"} aria-pressed={lang === l} onClick={() => i18n.setLang(l)} data-lang={l}>
              {l === "zh" ? "中文" : "EN"}
            </button>
          ))}
        </div>
      </header>
      <p class="who" data-testid="who">
        {user === undefined ? t("nav.anonymous") : t("nav.signedInAs", { org: user.organisation.name })}
      </p>
      <main id="main" ref={main} tabIndex={-1}>
        <Page key={pageKey} route={route} onSignedIn={setUser} />
      </main>
    </I18nContext.Provider>
  );
}

const root = document.getElementById("app");
if (root !== null) render(<App />, root);
