/**
 * What a load client writes in a room message: its send time (for delivery latency measured by
 * the receiver) and its own counter, padded to a fixed plaintext size, then sealed in Sala's
 * crypto envelope exactly as the web client does. Environment-free (Node driver and k6).
 */
import { decryptText, encryptText } from "@sala/protocol/envelope";
import type { RoomKey } from "@sala/protocol";

/** Seals and opens envelopes: the protocol's crypto-js code (k6, browsers), or node-envelope.ts. */
export interface EnvelopeCodec {
  encrypt: typeof encryptText;
  decrypt: typeof decryptText;
}

export const cryptoJsCodec: EnvelopeCodec = { encrypt: encryptText, decrypt: decryptText };

export interface ChatPayload {
  /** Sender's clock (ms since epoch) when it sent the message. */
  sentAt: number;
  /** The sender's own message counter. */
  n: number;
}

/** Plaintext size of a load message, like a short chat line. */
export const PLAINTEXT_BYTES = 100;

export function sealPayload(payload: ChatPayload, scope: string, key: RoomKey, codec = cryptoJsCodec): string {
  const body = JSON.stringify({ t: payload.sentAt, n: payload.n, p: "" });
  return codec.encrypt(body.replace('"p":""', `"p":"${"x".repeat(Math.max(0, PLAINTEXT_BYTES - body.length))}"`), scope, key);
}

/** The payload of an envelope, or null when it does not verify under `keys`. */
export function openPayload(envelope: string, scope: string, keys: ReadonlyMap<number, string>, codec = cryptoJsCodec): ChatPayload | null {
  const result = codec.decrypt(envelope, scope, (id) => keys.get(id));
  if (!result.ok) return null;
  try {
    const parsed = JSON.parse(result.text) as { t?: unknown; n?: unknown };
    return typeof parsed.t === "number" && typeof parsed.n === "number" ? { sentAt: parsed.t, n: parsed.n } : null;
  } catch {
    return null;
  }
}
