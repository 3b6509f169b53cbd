/**
 * The server's event table is typed from the protocol's (Requests, RequestAnswers): each
 * `@ts-expect-error` below must be an error, or `npm run check` (tsc on the tests) fails.
 */
import { describe, expect, it } from "vitest";
import { Requests } from "@sala/protocol/schemas";
import { defineEvent, type EventTable } from "../src/realtime/event-gate.js";

describe("the typed event table", () => {
  it("takes each request's schema from the protocol, and refuses a handler that drifts from it", async () => {
    // @ts-expect-error: a handler filed under another request's name
    const misfiled: EventTable["lobby"] = defineEvent("lobby_users", async () => ({ users: [], next: null, rev: 0 }));
    // @ts-expect-error: an answer that is not the request's
    defineEvent("lobby_rooms", async () => ({ users: [], next: null, rev: 0 }));
    // @ts-expect-error: a payload field the request's schema does not have
    defineEvent("leave_room", async (_socket, payload) => ({ done: payload.nope }));

    const page = defineEvent("lobby_users", async () => ({ users: [], next: null, rev: 0 }));
    expect(misfiled.event).toBe("lobby_users");
    // At run time the schema is the protocol's: the payload check is Requests.lobby_users'.
    expect(page.check({ prefix: "a", limit: 5 })).toBe(true);
    expect(page.check({ limit: 0 })).toBe(false);
    expect(page.ackOptional).toBe(false);
    expect(defineEvent("typing", async () => ({})).ackOptional).toBe(Requests.typing.ackOptional);
  });
});
