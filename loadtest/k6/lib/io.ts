/**
 * k6's side of the load library's two seams: the WebSocketFactory of sio-client.ts over
 * `k6/websockets` and the HttpPost of accounts.ts over `k6/http`. `k6/websockets` exists from k6
 * 1.6.0 on (before, only as k6/experimental/websockets): the scripts' minimum k6.
 *
 * Both use an empty cookie jar of their own: the session cookie travels only where the library
 * puts it (the `cookie` header of the upgrade request), never also from the VU's default jar,
 * and a login's Set-Cookie is handed back to the caller instead of being kept by the VU.
 */
import http from "k6/http";
import { WebSocket } from "k6/websockets";
import { cookiePair, type HttpPost } from "../../src/accounts.js";
import type { WebSocketFactory, WebSocketLike } from "../../src/sio-client.js";

export const k6SocketFactory: WebSocketFactory = (url, headers) => {
  const ws = new WebSocket(url, null, { headers, jar: new http.CookieJar() });
  // k6's WebSocket is the standard one SioClient is written for: its message events carry `data`
  // (a string for a text frame) and its error events `error`, which is what SioClient reads. Only
  // the declared handler types differ (k6's events have more fields), hence the cast.
  return ws as unknown as WebSocketLike;
};

// 409 on /register means "already registered" (a rerun): not a failed request in k6's http_req_failed.
const expected = http.expectedStatuses({ min: 200, max: 299 }, 409);

export const k6HttpPost: HttpPost = async (url, body, headers) => {
  const response = await http.asyncRequest("POST", url, JSON.stringify(body), {
    headers: { "content-type": "application/json", ...headers },
    jar: new http.CookieJar(),
    responseType: "none",
    responseCallback: expected,
    timeout: "30s",
  });
  return { status: response.status, cookie: cookiePair(response.headers["Set-Cookie"]) };
};
