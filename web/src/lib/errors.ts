import type { ErrorBody } from "@sala/protocol";
import { i18n, type MessageKey } from "../i18n/i18n.svelte.js";

/** A server error (or a network failure) in the user's language. */
export function describeError(error: ErrorBody | { code: "NETWORK"; message: string }): string {
  const key = `error.${error.code}` as MessageKey;
  const seconds = "retryAfterMs" in error && error.retryAfterMs ? Math.ceil(error.retryAfterMs / 1000) : 1;
  return i18n.t(key, { s: seconds });
}
