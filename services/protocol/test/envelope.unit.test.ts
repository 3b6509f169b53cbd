import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { decryptText, encryptText } from "../src/envelope.js";
import { ENVELOPE_PATTERN, parseEnvelope } from "../src/envelope-format.js";

const key = (id = 1) => ({ id, key: randomBytes(32).toString("base64") });

describe("room-message envelope", () => {
  it("round-trips text, including non-ASCII, under the key it names", () => {
    const k = key(3);
    const envelope = encryptText("Olá, 🌍 — sala secreta", "room-A", k);
    expect(envelope).toMatch(new RegExp(ENVELOPE_PATTERN));
    expect(parseEnvelope(envelope)?.keyId).toBe(3);
    expect(decryptText(envelope, "room-A", (id) => (id === 3 ? k.key : undefined))).toEqual({ ok: true, text: "Olá, 🌍 — sala secreta", keyId: 3 });
  });

  it("uses a fresh IV per message, so equal texts give different ciphertexts", () => {
    const k = key();
    expect(encryptText("same", "r", k)).not.toBe(encryptText("same", "r", k));
  });

  it("never contains the plaintext", () => {
    const envelope = encryptText("the plaintext must not leak", "r", key());
    expect(envelope).not.toContain("plaintext");
  });

  it("rejects a tampered ciphertext, IV or key id before decrypting", () => {
    const k = key();
    const envelope = encryptText("hello there", "r", k);
    const [v, id, iv, ct, mac] = envelope.split(".") as [string, string, string, string, string];
    const flip = (s: string) => (s[0] === "A" ? "B" : "A") + s.slice(1);
    const keys = () => k.key;
    expect(decryptText([v, id, iv, flip(ct), mac].join("."), "r", keys)).toEqual({ ok: false, reason: "bad-mac" });
    expect(decryptText([v, id, flip(iv), ct, mac].join("."), "r", keys)).toEqual({ ok: false, reason: "bad-mac" });
    expect(decryptText([v, "2", iv, ct, mac].join("."), "r", keys)).toEqual({ ok: false, reason: "bad-mac" });
  });

  it("binds the room: an envelope replayed into another room fails", () => {
    const k = key();
    expect(decryptText(encryptText("hi", "room-A", k), "room-B", () => k.key)).toEqual({ ok: false, reason: "bad-mac" });
  });

  it("fails without the key, with another key, or on garbage", () => {
    const envelope = encryptText("hi", "r", key());
    expect(decryptText(envelope, "r", () => undefined)).toEqual({ ok: false, reason: "unknown-key" });
    expect(decryptText(envelope, "r", () => key().key)).toEqual({ ok: false, reason: "bad-mac" });
    expect(decryptText("not an envelope", "r", () => key().key)).toEqual({ ok: false, reason: "malformed" });
    expect(parseEnvelope("v1.0.x.y.z")).toBeNull();
  });

  it("refuses a key that is not 256 bits", () => {
    expect(() => encryptText("hi", "r", { id: 1, key: randomBytes(16).toString("base64") })).toThrow(/32 bytes/);
  });
});
