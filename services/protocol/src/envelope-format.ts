/**
 * The shape of a room-message envelope, shared by the server's validator (which never decrypts)
 * and the crypto code below. Kept free of runtime dependencies.
 *
 *   v1.<keyId>.<iv>.<ciphertext>.<mac>
 *
 * keyId: the room key's id (a positive integer); iv: 16 random bytes; ciphertext: AES-256-CBC
 * with PKCS#7 padding; mac: HMAC-SHA256 over `v1.<scope>.<keyId>.<iv>.<ciphertext>`, where scope
 * is the room id (so an envelope cannot be replayed into another room). All binary parts are
 * standard base64.
 */
export const ENVELOPE_VERSION = "v1";

export const ENVELOPE_PATTERN =
  "^v1\\.[1-9][0-9]{0,8}\\.[A-Za-z0-9+/]{22}==\\.[A-Za-z0-9+/]{22,}={0,2}\\.[A-Za-z0-9+/]{43}=$";

export interface EnvelopeParts {
  keyId: number;
  iv: string;
  ciphertext: string;
  mac: string;
}

const envelopeRegExp = new RegExp(ENVELOPE_PATTERN);

export function parseEnvelope(envelope: string): EnvelopeParts | null {
  if (!envelopeRegExp.test(envelope)) return null;
  const [, keyId, iv, ciphertext, mac] = envelope.split(".");
  if (keyId === undefined || iv === undefined || ciphertext === undefined || mac === undefined) return null;
  return { keyId: Number(keyId), iv, ciphertext, mac };
}
