/**
 * The WebSocket factory for Node: the `ws` package, whose constructor (unlike the browser's)
 * takes request headers, so the upgrade request can carry the session cookie and an Origin.
 */
import WebSocket from "ws";
import type { WebSocketFactory, WebSocketLike } from "./sio-client.js";

export const nodeSocketFactory: WebSocketFactory = (url, headers) => {
  // No per-message deflate: Sala's frames are small, and compression would only cost the driver CPU.
  const ws = new WebSocket(url, { headers, perMessageDeflate: false });
  const socket: WebSocketLike = {
    send: (data) => ws.send(data),
    close: () => ws.close(),
    onopen: null,
    onmessage: null,
    onclose: null,
    onerror: null,
  };
  // ws delivers text frames to `onmessage` as strings (binary ones as Buffers).
  ws.onopen = (event) => socket.onopen?.(event);
  ws.onmessage = (event) => socket.onmessage?.({ data: event.data });
  ws.onclose = (event) => socket.onclose?.(event);
  ws.onerror = (event) => socket.onerror?.(event);
  return socket;
};
