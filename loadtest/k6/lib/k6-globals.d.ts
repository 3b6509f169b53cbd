/**
 * Globals that k6 provides without an import (since 0.52; the scripts need k6 ≥ 1.6.0 anyway, for
 * `k6/websockets`, see lib/io.ts) but @types/k6 does not declare: the timers
 * (also exported by k6/timers) and `console`. The load library in loadtest/src uses the timers, so
 * it type-checks here against what k6 has, with no Node or DOM types. (k6's global WebCrypto
 * `crypto` is used by crypto-js only, untyped JavaScript: see build.mjs.)
 */
declare function setTimeout(callback: (...args: never[]) => void, delayMs?: number): number;
declare function clearTimeout(id: number | undefined): void;
declare function setInterval(callback: (...args: never[]) => void, delayMs?: number): number;
declare function clearInterval(id: number | undefined): void;

declare const console: {
  log(...data: unknown[]): void;
  info(...data: unknown[]): void;
  warn(...data: unknown[]): void;
  error(...data: unknown[]): void;
};
