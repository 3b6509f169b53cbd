/** Admin notices off the wire (realtime/admin-notices.ts): a malformed one never widens what it reaches. */
import { describe, expect, it } from "vitest";
import { parseNotice } from "../src/realtime/admin-notices.js";

describe("parseNotice", () => {
  it("takes well-formed notices", () => {
    const notices = [
      { kind: "end_sessions", user: "ana", sessionRooms: null, reason: "locked" },
      { kind: "end_sessions", user: "ana", sessionRooms: null, except: "session:abc", reason: "password_changed" },
      { kind: "end_sessions", user: "ana", sessionRooms: ["session:abc"], reason: "sessions_revoked" },
      { kind: "room_deleted", roomId: "r1", name: "Sala", rev: 3 },
      { kind: "member_left", roomId: "r1", username: "ana", summary: null, rev: 4, key: null },
    ];
    for (const notice of notices) expect(parseNotice(JSON.stringify(notice))).toEqual(notice);
  });

  it("refuses anything else, above all an empty or malformed list of sessions (to Socket.IO, an empty list is everyone)", () => {
    const bad = [
      "not json",
      "null",
      "[]",
      JSON.stringify({ kind: "end_sessions", user: "ana", sessionRooms: [], reason: "locked" }),
      JSON.stringify({ kind: "end_sessions", user: "ana", reason: "locked" }),
      JSON.stringify({ kind: "end_sessions", user: "ana", sessionRooms: [""], reason: "locked" }),
      JSON.stringify({ kind: "end_sessions", user: "", sessionRooms: null, reason: "locked" }),
      JSON.stringify({ kind: "end_sessions", user: "ana", sessionRooms: null, except: 5, reason: "locked" }),
      JSON.stringify({ kind: "room_deleted", roomId: "", name: "x", rev: 1 }),
      JSON.stringify({ kind: "member_left", roomId: "r1", rev: 1 }),
      JSON.stringify({ kind: "shutdown" }),
    ];
    for (const raw of bad) expect(parseNotice(raw), raw).toBeNull();
  });
});
