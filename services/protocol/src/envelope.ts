/**
 * The room-message crypto envelope: AES-256-CBC + HMAC-SHA256, encrypt-then-MAC, with crypto-js so
 * the very same code runs in the browser and in Node (tests, load driver).
 *
 * A room key is 32 random bytes (base64). It is never used directly: an encryption key and a MAC
 * key are derived from it with HMAC-SHA256 under fixed labels, so the two uses never share a key.
 * Keys are always WordArrays: passing a string key to crypto-js would select its password mode
 * (MD5-based EVP_BytesToKey), which is exactly what we must not do.
 */
import CryptoJS from "crypto-js";
import { ENVELOPE_VERSION, parseEnvelope } from "./envelope-format.js";

export interface RoomKey {
  /** Increases by one at every rotation; carried in each envelope. */
  id: number;
  /** 32 random bytes, standard base64. */
  key: string;
}

export type DecryptResult =
  | { ok: true; text: string; keyId: number }
  | { ok: false; reason: "malformed" | "unknown-key" | "bad-mac" };

interface DerivedKeys {
  enc: CryptoJS.lib.WordArray;
  mac: CryptoJS.lib.WordArray;
}

const derivedCache = new Map<string, DerivedKeys>();

function derive(keyBase64: string): DerivedKeys {
  let keys = derivedCache.get(keyBase64);
  if (!keys) {
    const master = CryptoJS.enc.Base64.parse(keyBase64);
    if (master.sigBytes !== 32) throw new Error("a room key must be 32 bytes");
    keys = {
      enc: CryptoJS.HmacSHA256("sala/v1/enc", master),
      mac: CryptoJS.HmacSHA256("sala/v1/mac", master),
    };
    if (derivedCache.size > 1000) derivedCache.clear();
    derivedCache.set(keyBase64, keys);
  }
  return keys;
}

function macInput(scope: string, keyId: number, iv: string, ciphertext: string): string {
  return `${ENVELOPE_VERSION}.${scope}.${keyId}.${iv}.${ciphertext}`;
}

/** Compares two strings in time independent of where they differ. */
function constantTimeEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

/** Encrypts `plaintext` for `scope` (the room id) under `roomKey`; returns the envelope string. */
export function encryptText(plaintext: string, scope: string, roomKey: RoomKey): string {
  const { enc, mac } = derive(roomKey.key);
  const iv = CryptoJS.lib.WordArray.random(16);
  const encrypted = CryptoJS.AES.encrypt(CryptoJS.enc.Utf8.parse(plaintext), enc, {
    iv,
    mode: CryptoJS.mode.CBC,
    padding: CryptoJS.pad.Pkcs7,
  });
  const ivB64 = CryptoJS.enc.Base64.stringify(iv);
  const ctB64 = CryptoJS.enc.Base64.stringify(encrypted.ciphertext);
  const tag = CryptoJS.enc.Base64.stringify(CryptoJS.HmacSHA256(macInput(scope, roomKey.id, ivB64, ctB64), mac));
  return `${ENVELOPE_VERSION}.${roomKey.id}.${ivB64}.${ctB64}.${tag}`;
}

/** The key id an envelope claims, or null when it is not an envelope. */
export function envelopeKeyId(envelope: string): number | null {
  return parseEnvelope(envelope)?.keyId ?? null;
}

/**
 * Verifies the MAC, then decrypts. `keyFor` returns the base64 key for a key id the caller holds.
 * A failed check never yields text: callers show "could not decrypt", never garbage.
 */
export function decryptText(
  envelope: string,
  scope: string,
  keyFor: (keyId: number) => string | undefined,
): DecryptResult {
  const parts = parseEnvelope(envelope);
  if (!parts) return { ok: false, reason: "malformed" };
  const key = keyFor(parts.keyId);
  if (!key) return { ok: false, reason: "unknown-key" };
  const { enc, mac } = derive(key);
  const expected = CryptoJS.enc.Base64.stringify(
    CryptoJS.HmacSHA256(macInput(scope, parts.keyId, parts.iv, parts.ciphertext), mac),
  );
  if (!constantTimeEqual(expected, parts.mac)) return { ok: false, reason: "bad-mac" };
  try {
    const params = CryptoJS.lib.CipherParams.create({ ciphertext: CryptoJS.enc.Base64.parse(parts.ciphertext) });
    const decrypted = CryptoJS.AES.decrypt(params, enc, {
      iv: CryptoJS.enc.Base64.parse(parts.iv),
      mode: CryptoJS.mode.CBC,
      padding: CryptoJS.pad.Pkcs7,
    });
    return { ok: true, text: CryptoJS.enc.Utf8.stringify(decrypted), keyId: parts.keyId };
  } catch {
    // An authentic envelope that does not decode came from a buggy sender; still never garbage.
    return { ok: false, reason: "malformed" };
  }
}
