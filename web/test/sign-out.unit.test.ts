/**
 * Signed out from elsewhere (issue 20): the server sends `signed_out` with a reason just before it
 * closes a socket whose session an operator or the user ended. The client must then stop: no
 * reconnecting with a dead session (the seed's reconnect after "io server disconnect" would loop),
 * and the login page says why. socket.io-client is replaced by a stand-in the test drives.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import type { SignOutReason } from "@sala/protocol";
import type { Socket } from "socket.io-client";
import { en } from "../src/i18n/en.js";
import type { ConnectionState } from "../src/lib/connection.js";

const fake = await vi.hoisted(async () => {
  const { FakeSocket } = await import("./support/fake-socket.js");
  return { socket: new FakeSocket() };
});

vi.mock("socket.io-client", () => ({ io: () => fake.socket }));
vi.stubGlobal("window", { addEventListener: () => undefined, removeEventListener: () => undefined });
const { keepConnected } = await import("../src/lib/connection.js");
const { signOutNotice } = await import("../src/lib/sign-out.js");
const { Chat } = await import("../src/lib/chat.svelte.js");

const REASONS: SignOutReason[] = ["locked", "deleted", "sessions_revoked", "password_reset", "password_changed"];

/** keepConnected over the stand-in socket, recording what it reports and every reconnect it tries. */
function kept() {
  const seen = { states: [] as ConnectionState[], ended: 0, signedOut: [] as SignOutReason[], reconnects: 0 };
  fake.socket.connect = () => void seen.reconnects++;
  const stop = keepConnected(fake.socket as unknown as Socket, {
    state: (state) => seen.states.push(state),
    connected: () => undefined,
    sessionEnded: () => void seen.ended++,
    signedOut: (reason) => void seen.signedOut.push(reason),
  });
  return { seen, stop };
}

afterEach(() => {
  fake.socket.handlers.clear();
  fake.socket.connect = () => undefined;
});

describe("signOutNotice", () => {
  it("has its own message for every reason the server gives, and one for a session that just ended", () => {
    const keys = REASONS.map((reason) => signOutNotice(reason));
    expect(new Set(keys).size).toBe(REASONS.length);
    for (const key of keys) expect(en[key]).toBeTruthy();
    expect(en[signOutNotice("locked")]).toContain("locked");
    expect(en[signOutNotice("password_changed")]).toContain("changed in another session");
    expect(signOutNotice()).toBe("signedOut.sessionEnded");
    expect(keys).not.toContain("signedOut.sessionEnded");
  });
});

describe("keepConnected", () => {
  it("reconnects after a server disconnect it was not told about", () => {
    const { seen, stop } = kept();
    fake.socket.deliver("disconnect", "io server disconnect");
    expect(seen.reconnects).toBe(1);
    expect(seen.states).toEqual(["reconnecting"]);
    stop();
  });

  it("after signed_out: reports the reason once, and never reconnects", () => {
    const { seen, stop } = kept();
    fake.socket.deliver("signed_out", { reason: "locked" });
    fake.socket.deliver("signed_out", { reason: "locked" });
    fake.socket.deliver("disconnect", "io server disconnect");
    fake.socket.deliver("connect_error", new Error("UNAUTHORIZED"));
    expect(seen.signedOut).toEqual(["locked"]);
    expect(seen.reconnects).toBe(0);
    expect(seen.ended).toBe(0);
    expect(seen.states).toEqual([]);
    stop();
  });

  it("a handshake refused because the session must change its password ends the page's session too", () => {
    const { seen, stop } = kept();
    fake.socket.deliver("connect_error", new Error("PASSWORD_CHANGE_REQUIRED"));
    expect(seen.ended).toBe(1);
    stop();
  });
});

describe("the chat", () => {
  it("on signed_out: closes its socket for good and reports the reason once", () => {
    const ended: (SignOutReason | undefined)[] = [];
    const close = vi.spyOn(fake.socket, "close");
    const connect = vi.spyOn(fake.socket, "connect");
    const chat = new Chat("Ana", (reason) => ended.push(reason));
    fake.socket.deliver("signed_out", { reason: "password_changed" });
    fake.socket.deliver("disconnect", "io server disconnect");
    expect(ended).toEqual(["password_changed"]);
    expect(close).toHaveBeenCalled();
    expect(connect).not.toHaveBeenCalled();
    chat.close();
    close.mockRestore();
    connect.mockRestore();
  });
});
