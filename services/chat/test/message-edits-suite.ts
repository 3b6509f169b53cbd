/**
 * Editing and deleting room messages end to end (`edit_message`, `delete_message`): real nodes,
 * real sockets, users on different nodes. Run on two nodes over the run's redis-server and an
 * embedded node (message-edits.int.test.ts), and on two nodes over the Redis Cluster
 * (message-edits.redis-cluster.int.test.ts).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ErrorCode, Limits, type RoomKey, type RoomMessage, type RoomSummary } from "@sala/protocol";
import { encryptText } from "@sala/protocol/envelope";
import {
  connect,
  decryptAll,
  newUsername,
  record,
  registerAndLogin,
  request,
  sleep,
  waitFor,
  type ClientSocket,
  type TestCluster,
  type TestNode,
} from "./support/cluster.js";

export function describeMessageEdits(label: string, start: () => Promise<TestCluster>): void {
  describe(`edit and delete room messages: ${label}`, () => {
    let cluster: TestCluster;
    const sockets: ClientSocket[] = [];
    beforeAll(async () => {
      cluster = await start();
    });
    afterEach(() => {
      for (const socket of sockets.splice(0)) socket.close();
    });
    afterAll(() => cluster.close());

    /** The i-th node (round the cluster: an embedded run has one). */
    const node = (i: number): TestNode => cluster.nodes[i % cluster.nodes.length]!;

    async function user(at: TestNode, label: string) {
      const username = newUsername(label);
      const socket = await connect(at, await registerAndLogin(at, username));
      sockets.push(socket);
      return { username, socket };
    }

    /** Ana (node 0) owns a room with Bia (node 1) in it; Ana has posted `texts`. */
    async function roomWithPosts(texts: string[]) {
      const ana = await user(node(0), "ana");
      const bia = await user(node(1), "bia");
      const room: RoomSummary = (await request(ana.socket, "create_room", { name: newUsername("room") })).room;
      const key: RoomKey = (await request(ana.socket, "join_room", { roomId: room.id })).key;
      expect((await request(bia.socket, "join_room", { roomId: room.id })).ok).toBe(true);
      const seqs: number[] = [];
      for (const text of texts) {
        const answer = await request(ana.socket, "text", { roomId: room.id, msg: encryptText(text, room.id, key) });
        expect(answer.ok).toBe(true);
        seqs.push(answer.seq);
      }
      return { ana, bia, room, key, seqs };
    }

    const history = async (socket: ClientSocket, roomId: string) => (await request(socket, "history", { roomId })) as { ok: boolean; messages: RoomMessage[]; keys: RoomKey[] };

    it("sends the author's edit to every member on every node, and a late joiner's history shows it", async () => {
      const { ana, bia, room, key, seqs } = await roomWithPosts(["hello", "second"]);
      const [anaSees, biaSees] = [waitFor(ana.socket, "message_edited"), waitFor(bia.socket, "message_edited")];
      const msg = encryptText("hello, edited", room.id, key);
      const answer = await request(ana.socket, "edit_message", { roomId: room.id, seq: seqs[0], msg });
      expect(answer).toEqual({ ok: true, editedAt: expect.any(Number) });
      const event = { roomId: room.id, seq: seqs[0], msg, editedAt: answer.editedAt };
      expect(await anaSees).toEqual(event);
      expect(await biaSees).toEqual(event);

      // Later readers: a history page, and a join's backlog on the other node.
      const page = await history(bia.socket, room.id);
      expect(page.messages[0]).toEqual({ roomId: room.id, seq: seqs[0], from: ana.username, ts: expect.any(Number), msg, editedAt: answer.editedAt });
      expect(page.messages[1]).not.toHaveProperty("editedAt");
      expect(decryptAll(page.messages, room.id, page.keys)).toEqual(["hello, edited", "second"]);
      const cid = await user(node(1), "cid");
      const joined = await request(cid.socket, "join_room", { roomId: room.id });
      expect(joined.history.map((m: RoomMessage) => m.editedAt ?? 0)).toEqual([answer.editedAt, 0]);
      expect(decryptAll(joined.history, room.id, joined.keys)).toEqual(["hello, edited", "second"]);

      // Edited again: a later editedAt, the latest envelope.
      const again = await request(ana.socket, "edit_message", { roomId: room.id, seq: seqs[0], msg: encryptText("hello, twice", room.id, key) });
      expect(again.editedAt).toBeGreaterThan(answer.editedAt);
      expect(decryptAll((await history(cid.socket, room.id)).messages, room.id, [key])).toEqual(["hello, twice", "second"]);
    });

    it("leaves a tombstone everywhere when the author deletes, and nothing can change it after", async () => {
      const { ana, bia, room, key, seqs } = await roomWithPosts(["oops", "kept"]);
      const [anaSees, biaSees] = [waitFor(ana.socket, "message_deleted"), waitFor(bia.socket, "message_deleted")];
      expect(await request(ana.socket, "delete_message", { roomId: room.id, seq: seqs[0] })).toEqual({ ok: true });
      expect(await anaSees).toEqual({ roomId: room.id, seq: seqs[0] });
      expect(await biaSees).toEqual({ roomId: room.id, seq: seqs[0] });

      const tombstone = { roomId: room.id, seq: seqs[0], from: ana.username, ts: expect.any(Number), msg: "", deleted: true };
      const page = await history(bia.socket, room.id);
      expect(page.messages.map((m) => m.seq)).toEqual(seqs); // no hole in the numbering
      expect(page.messages[0]).toEqual(tombstone);
      expect(page.keys).toEqual([key]); // the tombstone asks for no key
      const cid = await user(node(0), "cid");
      expect((await request(cid.socket, "join_room", { roomId: room.id })).history[0]).toEqual(tombstone);

      const notFound = { ok: false, error: { code: ErrorCode.NOT_FOUND, message: expect.any(String) } };
      expect(await request(ana.socket, "edit_message", { roomId: room.id, seq: seqs[0], msg: encryptText("undo", room.id, key) })).toEqual(notFound);
      expect(await request(ana.socket, "delete_message", { roomId: room.id, seq: seqs[0] })).toEqual(notFound);
      expect(await request(ana.socket, "delete_message", { roomId: room.id, seq: 999 })).toEqual(notFound);
      expect((await history(bia.socket, room.id)).messages[0]).toEqual(tombstone);
    });

    it("refuses another member's and a non-member's edit or delete, changing nothing and telling no one", async () => {
      const { ana, bia, room, key, seqs } = await roomWithPosts(["mine"]);
      const before = (await history(ana.socket, room.id)).messages;
      const heard = [ana, bia].flatMap(({ socket }) => [record(socket, "message_edited"), record(socket, "message_deleted")]);
      const forbidden = { ok: false, error: { code: ErrorCode.FORBIDDEN, message: expect.any(String) } };
      expect(await request(bia.socket, "edit_message", { roomId: room.id, seq: seqs[0], msg: encryptText("not yours", room.id, key) })).toEqual(forbidden);
      expect(await request(bia.socket, "delete_message", { roomId: room.id, seq: seqs[0] })).toEqual(forbidden);

      const eve = await user(node(1), "eve"); // never joined
      const edit = { roomId: room.id, seq: seqs[0], msg: encryptText("eve's", room.id, key) };
      expect((await request(eve.socket, "edit_message", edit)).error.code).toBe(ErrorCode.NOT_MEMBER);
      expect((await request(eve.socket, "delete_message", { roomId: room.id, seq: seqs[0] })).error.code).toBe(ErrorCode.NOT_MEMBER);

      // The author herself, once she has left, may change nothing either.
      expect((await request(ana.socket, "leave_room", { roomId: room.id })).ok).toBe(true);
      expect((await request(ana.socket, "delete_message", { roomId: room.id, seq: seqs[0] })).error.code).toBe(ErrorCode.NOT_MEMBER);

      await sleep(100); // nothing on its way
      expect(heard).toEqual([[], [], [], []]);
      expect((await history(bia.socket, room.id)).messages).toEqual(before);
    });

    it("answers BAD_REQUEST to malformed edits and deletes, changing nothing", async () => {
      const { ana, room, key, seqs } = await roomWithPosts(["intact"]);
      const before = (await history(ana.socket, room.id)).messages;
      const good = encryptText("fine", room.id, key);
      const bad: Array<[string, unknown]> = [
        ["edit_message", { roomId: room.id, seq: seqs[0] }],
        ["edit_message", { roomId: room.id, seq: 0, msg: good }],
        ["edit_message", { roomId: room.id, seq: 1.5, msg: good }],
        ["edit_message", { roomId: room.id, seq: String(seqs[0]), msg: good }],
        ["edit_message", { roomId: room.id, seq: seqs[0], msg: "plain text, not an envelope" }],
        ["edit_message", { roomId: room.id, seq: seqs[0], msg: `${good.slice(0, -1)}${"A".repeat(Limits.envelopeMax)}=` }],
        ["edit_message", { roomId: room.id, seq: seqs[0], msg: good, id: "abcdefgh12" }],
        ["edit_message", { roomId: "../x", seq: seqs[0], msg: good }],
        ["delete_message", { roomId: room.id }],
        ["delete_message", { roomId: room.id, seq: -1 }],
        ["delete_message", { roomId: room.id, seq: Number.MAX_SAFE_INTEGER + 2 }],
        ["delete_message", { roomId: room.id, seq: seqs[0], extra: true }],
        ["delete_message", null],
      ];
      for (const [event, payload] of bad) {
        expect((await request(ana.socket, event, payload)).error?.code, JSON.stringify(payload)).toBe(ErrorCode.BAD_REQUEST);
      }
      expect((await history(ana.socket, room.id)).messages).toEqual(before);
    });

    it("spends the socket's event budget like text: past it, edits and texts alike are RATE_LIMITED", async () => {
      const { ana, room, key, seqs } = await roomWithPosts(["budget"]);
      const msg = encryptText("again", room.id, key);
      // Sent at once, in order: the budget (SOCKET_EVENTS_PER_SEC, 30) runs out among the edits.
      const edits = Array.from({ length: 32 }, () => request(ana.socket, "edit_message", { roomId: room.id, seq: seqs[0], msg }));
      const text = request(ana.socket, "text", { roomId: room.id, msg });
      const answers = await Promise.all(edits);
      const limited = answers.filter((answer) => answer.error?.code === ErrorCode.RATE_LIMITED);
      expect(limited.length).toBeGreaterThan(0);
      expect(answers.filter((answer) => answer.ok).length).toBeLessThanOrEqual(30);
      expect((await text).error).toEqual({ code: ErrorCode.RATE_LIMITED, message: expect.any(String), retryAfterMs: expect.any(Number) });
      await sleep(limited[0].error.retryAfterMs + 50);
      expect((await request(ana.socket, "edit_message", { roomId: room.id, seq: seqs[0], msg })).ok).toBe(true);
    });

    it("takes an edit only under the room's current key, and nothing of a cleared history", async () => {
      const { ana, bia, room, key, seqs } = await roomWithPosts(["one", "two"]);
      // A kick rotates the key: an edit under the old one is stale; a delete needs no key.
      const rotated = waitFor<{ key: RoomKey }>(ana.socket, "room_key");
      expect((await request(ana.socket, "kick", { roomId: room.id, username: bia.username })).ok).toBe(true);
      const next = (await rotated).key;
      const stale = await request(ana.socket, "edit_message", { roomId: room.id, seq: seqs[0], msg: encryptText("old key", room.id, key) });
      expect(stale.error.code).toBe(ErrorCode.STALE_KEY);
      expect((await request(ana.socket, "edit_message", { roomId: room.id, seq: seqs[0], msg: encryptText("new key", room.id, next) })).ok).toBe(true);
      const page = await history(ana.socket, room.id);
      expect(decryptAll(page.messages, room.id, page.keys)).toEqual(["new key", "two"]);

      expect((await request(ana.socket, "clear_history", { roomId: room.id })).ok).toBe(true);
      const edit = await request(ana.socket, "edit_message", { roomId: room.id, seq: seqs[1], msg: encryptText("gone", room.id, next) });
      expect(edit.error.code).toBe(ErrorCode.NOT_FOUND);
      expect((await request(ana.socket, "delete_message", { roomId: room.id, seq: seqs[0] })).error.code).toBe(ErrorCode.NOT_FOUND);
      expect((await history(ana.socket, room.id)).messages).toEqual([]);
    });
  });
}
