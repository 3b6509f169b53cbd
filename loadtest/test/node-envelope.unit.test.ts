import { describe, expect, it } from "vitest";
import { ENVELOPE_PATTERN } from "@sala/protocol";
import { cryptoJsCodec, openPayload, sealPayload } from "../src/chat-payload.js";
import { nodeCodec } from "../src/node-envelope.js";

const key = { id: 3, key: Buffer.alloc(32, 9).toString("base64") };
const keys = new Map([[3, key.key]]);

describe("the Node envelope codec", () => {
  it("seals what the protocol's crypto-js code opens, and opens what it seals", () => {
    const plaintext = "olá, sala 🔒";
    const sealed = nodeCodec.encrypt(plaintext, "room-1", key);
    expect(sealed).toMatch(new RegExp(ENVELOPE_PATTERN));
    expect(cryptoJsCodec.decrypt(sealed, "room-1", (id) => keys.get(id))).toEqual({ ok: true, text: plaintext, keyId: 3 });
    const fromBrowser = cryptoJsCodec.encrypt(plaintext, "room-1", key);
    expect(nodeCodec.decrypt(fromBrowser, "room-1", (id) => keys.get(id))).toEqual({ ok: true, text: plaintext, keyId: 3 });
    expect(openPayload(sealPayload({ sentAt: 42, n: 7 }, "room-1", key, nodeCodec), "room-1", keys)).toEqual({ sentAt: 42, n: 7 });
  });

  it("refuses another room's envelope, a changed one, an unknown key and garbage", () => {
    const sealed = nodeCodec.encrypt("hello", "room-1", key);
    const keyFor = (id: number) => keys.get(id);
    expect(nodeCodec.decrypt(sealed, "room-2", keyFor)).toEqual({ ok: false, reason: "bad-mac" });
    const parts = sealed.split(".");
    const ciphertext = parts[3]!;
    parts[3] = `${ciphertext[0] === "A" ? "B" : "A"}${ciphertext.slice(1)}`; // always a different first character
    expect(nodeCodec.decrypt(parts.join("."), "room-1", keyFor)).toEqual({ ok: false, reason: "bad-mac" });
    // Another spelling of the same tag bytes (the last character's two unused bits) is refused too.
    const tag = sealed.split(".")[4]!;
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const respelled = `${tag.slice(0, 42)}${alphabet[alphabet.indexOf(tag[42]!) ^ 1]}=`;
    expect(Buffer.from(respelled, "base64")).toEqual(Buffer.from(tag, "base64"));
    expect(nodeCodec.decrypt([...sealed.split(".").slice(0, 4), respelled].join("."), "room-1", keyFor)).toEqual({ ok: false, reason: "bad-mac" });
    expect(nodeCodec.decrypt(sealed, "room-1", () => undefined)).toEqual({ ok: false, reason: "unknown-key" });
    expect(nodeCodec.decrypt("v1.not-an-envelope", "room-1", keyFor)).toEqual({ ok: false, reason: "malformed" });
  });
});
