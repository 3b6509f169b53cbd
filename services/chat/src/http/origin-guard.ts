import type { IncomingMessage } from "node:http";

/**
 * Browsers send Origin on every websocket handshake and every cross-origin POST; a request from a
 * page of another origin carries that origin. Requests without Origin come from non-browser
 * clients, which hold their own cookies anyway, so they pass; CORS does not cover websockets,
 * which is why this check exists.
 */
export function originAllowed(req: IncomingMessage, allowedOrigins: readonly string[]): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  return allowedOrigins.includes(origin);
}
