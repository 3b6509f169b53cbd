/**
 * Issue 21, item 5, the parts that are words and numbers: times written as the language writes
 * them without a leading zero, and the Portuguese for logging out unlike leaving a room.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ptBR } from "../src/i18n/pt-BR.js";

/** The i18n module evaluated afresh for a browser saying `language` (it detects once, at import). */
async function i18nFor(language: string) {
  localStorage.clear();
  vi.stubGlobal("navigator", { language, languages: [language] });
  vi.resetModules();
  return (await import("../src/i18n/i18n.svelte.js")).i18n;
}

/** ICU separates "AM" with a narrow no-break space: any space will do. */
const spaced = (text: string) => text.replace(/\s/g, " ");

beforeEach(() => localStorage.clear());
afterEach(() => vi.unstubAllGlobals());

describe("times of day", () => {
  const morning = new Date(2026, 11, 3, 9, 5).getTime();
  const evening = new Date(2026, 11, 3, 21, 40).getTime();
  const midnight = new Date(2026, 11, 3, 0, 7).getTime();

  it("in English: 9:05 AM, 9:40 PM, 12:07 AM", async () => {
    const i18n = await i18nFor("en-US");
    expect([morning, evening, midnight].map((ms) => spaced(i18n.time(ms)))).toEqual(["9:05 AM", "9:40 PM", "12:07 AM"]);
  });

  it("in Portuguese: 9:05, 21:40, 0:07", async () => {
    const i18n = await i18nFor("pt-BR");
    expect([morning, evening, midnight].map((ms) => i18n.time(ms))).toEqual(["9:05", "21:40", "0:07"]);
  });
});

describe("Portuguese: logging out is not leaving", () => {
  it("logging out says so, and no label is a bare 'Sair'", () => {
    expect(ptBR["app.logout"]).toBe("Encerrar sessão");
    expect(Object.entries(ptBR).filter(([, text]) => text.trim() === "Sair")).toEqual([]);
  });

  it("'sair' is only ever about rooms (or a message going out), never about the session", () => {
    const saying = Object.entries(ptBR).filter(([, text]) => /\bsai/i.test(text));
    expect(saying.length).toBeGreaterThan(0);
    // Every one names a room (or rooms), or is the offline composer's "sai assim que você voltar".
    const unclear = saying.filter(([key, text]) => !/\bsalas?\b|\{room\}|\{left\}/i.test(text) && key !== "room.offlineComposer" && key !== "room.left");
    expect(unclear).toEqual([]);
    expect(saying.filter(([key]) => key.startsWith("app.") || key.startsWith("signedOut."))).toEqual([]);
    expect(ptBR["signedOut.loggedOut"]).toMatch(/sessão foi encerrada/);
  });
});
