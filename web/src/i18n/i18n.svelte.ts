/**
 * The client's languages: English and Brazilian Portuguese (the seed's). The language is picked
 * from the browser, can be switched, and the choice is remembered on this device.
 */
import { en, type MessageKey, type Messages } from "./en.js";
import { ptBR } from "./pt-BR.js";

export const LOCALES = { en: "English", "pt-BR": "Português (Brasil)" } as const;
export type Locale = keyof typeof LOCALES;

const catalogs: Record<Locale, Messages> = { en, "pt-BR": ptBR };
const STORAGE_KEY = "sala.locale";

/** Storage can be blocked (privacy settings): then the choice just is not remembered. */
function readSaved(): string | null {
  try {
    return localStorage.getItem(STORAGE_KEY);
  } catch {
    return null;
  }
}

function detect(): Locale {
  const saved = readSaved();
  if (saved === "en" || saved === "pt-BR") return saved;
  for (const language of navigator.languages ?? [navigator.language]) {
    if (language.toLowerCase().startsWith("pt")) return "pt-BR";
    if (language.toLowerCase().startsWith("en")) return "en";
  }
  return "en";
}

class I18n {
  locale = $state<Locale>(detect());

  constructor() {
    document.documentElement.lang = this.locale;
  }

  set(locale: Locale): void {
    this.locale = locale;
    try {
      localStorage.setItem(STORAGE_KEY, locale);
    } catch {
      // blocked storage: the choice lasts for this page only
    }
    document.documentElement.lang = locale;
  }

  /** The text for `key` in the current language, with `{name}` placeholders filled in. */
  t = (key: MessageKey, params: Record<string, string | number> = {}): string =>
    catalogs[this.locale][key].replace(/\{(\w+)\}/g, (match, name: string) => (name in params ? String(params[name]) : match));

  /** A time of day as the current language writes it, without a leading zero: "9:05 AM", "9:05". */
  time = (ms: number): string => new Date(ms).toLocaleTimeString(this.locale, { hour: "numeric", minute: "2-digit" });

  /** A date and time of day in the current language. */
  dateTime = (ms: number): string => new Date(ms).toLocaleString(this.locale, { dateStyle: "medium", timeStyle: "short" });
}

export const i18n = new I18n();
export type { MessageKey };
