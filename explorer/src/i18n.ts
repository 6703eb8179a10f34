/** The UI language: the Preact context, remembered in localStorage (messages.ts holds the strings). */
import { createContext } from "preact";
import { useContext } from "preact/hooks";
import { type Lang, type Translate, translator } from "./messages.ts";

export { LANGS, type Lang, type MessageKey, type Translate, formatTime, hasMessage, localeOf, translator } from "./messages.ts";

const STORAGE_KEY = "tracemesh.lang";

export function storedLang(): Lang {
  try {
    const v = localStorage.getItem(STORAGE_KEY);
    if (v === "en" || v === "zh") return v;
  } catch {
    // storage disabled: fall through to the browser's language
  }
  return navigator.language.toLowerCase().startsWith("zh") ? "zh" : "en";
}

export function storeLang(lang: Lang): void {
  try {
    localStorage.setItem(STORAGE_KEY, lang);
  } catch {
    // storage disabled: the choice lasts for this page only
  }
}

export interface I18n {
  lang: Lang;
  t: Translate;
  setLang(lang: Lang): void;
}

export const I18nContext = createContext<I18n>({ lang: "en", t: translator("en"), setLang: () => undefined });

export const useI18n = (): I18n => useContext(I18nContext);

