import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ErrorCode } from "@sala/protocol";
import { en } from "../src/i18n/en.js";
import { ptBR } from "../src/i18n/pt-BR.js";

type I18nModule = typeof import("../src/i18n/i18n.svelte.js");

const STORAGE_KEY = "sala.locale";

/** The i18n module evaluated afresh (it detects the language once, at import time). */
async function freshI18n(): Promise<I18nModule> {
  vi.resetModules();
  return import("../src/i18n/i18n.svelte.js");
}

function browser(languages: readonly string[] | undefined, language = languages?.[0] ?? "en-US"): void {
  vi.stubGlobal("navigator", { language, languages });
}

const placeholders = (text: string): string[] => [...text.matchAll(/\{(\w+)\}/g)].map((match) => match[1]!).sort();

beforeEach(() => {
  localStorage.clear();
  document.documentElement.lang = "";
  browser(["en-US", "en"]);
});

afterEach(() => {
  vi.unstubAllGlobals();
  localStorage.clear();
});

describe("catalogs", () => {
  it("pt-BR has exactly the keys of en", () => {
    expect(Object.keys(ptBR).sort()).toEqual(Object.keys(en).sort());
  });

  it("has no empty strings in either language", () => {
    for (const catalog of [en, ptBR]) {
      const empty = Object.entries(catalog).filter(([, text]) => text.trim() === "");
      expect(empty).toEqual([]);
    }
  });

  it("uses the same placeholders per key in pt-BR as in en", () => {
    const mismatches = Object.entries(en)
      .filter(([key, text]) => placeholders(text).join() !== placeholders(ptBR[key as keyof typeof en]).join())
      .map(([key]) => key);
    expect(mismatches).toEqual([]);
  });

  it("keeps the seed's Portuguese terms", () => {
    expect(ptBR["lobby.onlineUsers"]).toBe("Usuários Online");
    expect(ptBR["lobby.availableRooms"]).toBe("Salas Disponíveis");
    expect(ptBR["room.leave"]).toBe("Sair da Sala");
  });

  it("has a message for every protocol error code, and for network failures", () => {
    const codes = [...Object.values(ErrorCode), "NETWORK"];
    expect(codes.length).toBeGreaterThan(10);
    const missing = codes.filter((code) => !(`error.${code}` in en) || !(`error.${code}` in ptBR));
    expect(missing).toEqual([]);
  });
});

describe("t()", () => {
  it("fills placeholders, repeated or not, with strings and numbers", async () => {
    const { i18n } = await freshI18n();
    i18n.set("en");
    expect(i18n.t("app.loggedInAs", { user: "Alice" })).toBe("Logged in as Alice");
    expect(i18n.t("room.youWereKicked", { by: "Bob", room: "General" })).toBe("Bob removed you from General.");
    expect(i18n.t("lobby.members", { n: 3 })).toBe("3 members");
    expect(i18n.t("room.rtt", { ms: 0 })).toBe("0 ms");
  });

  it("leaves placeholders it has no value for visible", async () => {
    const { i18n } = await freshI18n();
    i18n.set("en");
    expect(i18n.t("app.loggedInAs")).toBe("Logged in as {user}");
    expect(i18n.t("room.youWereKicked", { by: "Bob", other: "x" })).toBe("Bob removed you from {room}.");
  });

  it("does not expand placeholders found in the values", async () => {
    const { i18n } = await freshI18n();
    i18n.set("en");
    expect(i18n.t("room.youWereKicked", { by: "{room}", room: "General" })).toBe("{room} removed you from General.");
    expect(i18n.t("app.loggedInAs", { user: "$& $1 $$" })).toBe("Logged in as $& $1 $$");
  });

  it("answers in the current language", async () => {
    const { i18n } = await freshI18n();
    i18n.set("pt-BR");
    expect(i18n.t("lobby.onlineUsers")).toBe("Usuários Online");
    expect(i18n.t("room.joined", { user: "Bia" })).toBe("Bia entrou");
    i18n.set("en");
    expect(i18n.t("room.joined", { user: "Bia" })).toBe("Bia joined");
  });
});

describe("language detection", () => {
  it("picks pt-BR for any Portuguese browser language", async () => {
    browser(["pt-PT", "en"]);
    expect((await freshI18n()).i18n.locale).toBe("pt-BR");
    browser(["PT-br"]);
    expect((await freshI18n()).i18n.locale).toBe("pt-BR");
  });

  it("follows the order of the browser's languages", async () => {
    browser(["fr-FR", "en-GB", "pt-BR"]);
    expect((await freshI18n()).i18n.locale).toBe("en");
    browser(["de", "pt", "en"]);
    expect((await freshI18n()).i18n.locale).toBe("pt-BR");
  });

  it("falls back to English for other languages", async () => {
    browser(["fr-FR", "de"]);
    expect((await freshI18n()).i18n.locale).toBe("en");
    browser([]);
    expect((await freshI18n()).i18n.locale).toBe("en");
  });

  it("uses navigator.language when navigator.languages is missing", async () => {
    browser(undefined, "pt-BR");
    expect((await freshI18n()).i18n.locale).toBe("pt-BR");
  });

  it("prefers the saved choice over the browser's languages", async () => {
    browser(["en-US"]);
    localStorage.setItem(STORAGE_KEY, "pt-BR");
    expect((await freshI18n()).i18n.locale).toBe("pt-BR");

    browser(["pt-BR"]);
    localStorage.setItem(STORAGE_KEY, "en");
    expect((await freshI18n()).i18n.locale).toBe("en");
  });

  it("ignores a saved value that is not a supported locale", async () => {
    browser(["pt-BR"]);
    localStorage.setItem(STORAGE_KEY, "de");
    expect((await freshI18n()).i18n.locale).toBe("pt-BR");
  });

  it("sets the document's language at start", async () => {
    browser(["pt-BR"]);
    await freshI18n();
    expect(document.documentElement.lang).toBe("pt-BR");
  });
});

describe("switching language", () => {
  it("persists the choice and sets the document's language", async () => {
    const { i18n } = await freshI18n();
    expect(i18n.locale).toBe("en");

    i18n.set("pt-BR");
    expect(i18n.locale).toBe("pt-BR");
    expect(localStorage.getItem(STORAGE_KEY)).toBe("pt-BR");
    expect(document.documentElement.lang).toBe("pt-BR");

    i18n.set("en");
    expect(localStorage.getItem(STORAGE_KEY)).toBe("en");
    expect(document.documentElement.lang).toBe("en");
  });

  it("is remembered on the next visit", async () => {
    browser(["en-US"]);
    (await freshI18n()).i18n.set("pt-BR");
    expect((await freshI18n()).i18n.locale).toBe("pt-BR");
  });

  it("offers exactly the languages it has catalogs for", async () => {
    const { LOCALES, i18n } = await freshI18n();
    for (const locale of Object.keys(LOCALES) as (keyof typeof LOCALES)[]) {
      i18n.set(locale);
      expect(i18n.t("app.name")).toBe("Sala");
    }
    expect(Object.keys(LOCALES).sort()).toEqual(["en", "pt-BR"]);
  });
});

describe("describeError", () => {
  it("describes a protocol error in the current language", async () => {
    const { i18n } = await freshI18n();
    const { describeError } = await import("../src/lib/errors.js");
    i18n.set("en");
    expect(describeError({ code: ErrorCode.ROOM_NOT_FOUND, message: "x" })).toBe(en["error.ROOM_NOT_FOUND"]);
    i18n.set("pt-BR");
    expect(describeError({ code: ErrorCode.ROOM_NOT_FOUND, message: "x" })).toBe(ptBR["error.ROOM_NOT_FOUND"]);
    expect(describeError({ code: "NETWORK", message: "offline" })).toBe(ptBR["error.NETWORK"]);
  });

  it("rounds the retry delay up to whole seconds, at least one", async () => {
    const { i18n } = await freshI18n();
    const { describeError } = await import("../src/lib/errors.js");
    i18n.set("en");
    expect(describeError({ code: ErrorCode.RATE_LIMITED, message: "", retryAfterMs: 1200 })).toBe(
      "Too many attempts. Try again in 2 s.",
    );
    expect(describeError({ code: ErrorCode.RATE_LIMITED, message: "", retryAfterMs: 3000 })).toBe(
      "Too many attempts. Try again in 3 s.",
    );
    expect(describeError({ code: ErrorCode.RATE_LIMITED, message: "" })).toBe("Too many attempts. Try again in 1 s.");
  });
});
