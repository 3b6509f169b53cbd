import { i18n, type MessageKey } from "../i18n/i18n.svelte.js";
import type { ApiError } from "./api.js";

/** A server error (or a network failure) in the user's language. */
export function describeError(error: ApiError): string {
  const key = `error.${error.code}` as MessageKey;
  const seconds = "retryAfterMs" in error && error.retryAfterMs ? Math.ceil(error.retryAfterMs / 1000) : 1;
  return i18n.t(key, { s: seconds });
}
