/**
 * The Vitest environment of the "web" project: Node, plus the few browser globals the client's
 * modules touch (web/src/i18n/i18n.svelte.ts reads localStorage and navigator and sets
 * document.documentElement.lang at import time). No DOM library is installed, and these logic
 * tests need none; tests that need other values replace them with vi.stubGlobal.
 *
 * `viteEnvironment: "client"` makes Vite transform the modules as browser code, so the Svelte
 * plugin compiles `.svelte.ts` rune modules for the client (real, reactive $state) rather than
 * for server rendering, and "svelte" resolves to its client build.
 */
import type { Environment } from "vitest/environments";

export class MemoryStorage implements Storage {
  private readonly items = new Map<string, string>();
  [name: string]: unknown;
  get length(): number {
    return this.items.size;
  }
  clear(): void {
    this.items.clear();
  }
  getItem(key: string): string | null {
    return this.items.get(key) ?? null;
  }
  key(index: number): string | null {
    return [...this.items.keys()][index] ?? null;
  }
  removeItem(key: string): void {
    this.items.delete(key);
  }
  setItem(key: string, value: string): void {
    this.items.set(key, String(value));
  }
}

const browserGlobals = (): Record<string, unknown> => ({
  localStorage: new MemoryStorage(),
  navigator: { language: "en-US", languages: ["en-US", "en"], onLine: true, userAgent: "vitest" },
  document: { documentElement: { lang: "" } },
});

export default {
  name: "web",
  viteEnvironment: "client",
  setup(global: typeof globalThis) {
    const target = global as unknown as Record<string, unknown>;
    const saved = new Map<string, PropertyDescriptor | undefined>();
    for (const [name, value] of Object.entries(browserGlobals())) {
      saved.set(name, Object.getOwnPropertyDescriptor(target, name));
      Object.defineProperty(target, name, { value, configurable: true, writable: true, enumerable: true });
    }
    return {
      teardown() {
        for (const [name, descriptor] of saved) {
          if (descriptor) Object.defineProperty(target, name, descriptor);
          else delete target[name];
        }
      },
    };
  },
} satisfies Environment;
