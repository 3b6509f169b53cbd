/**
 * Hostile socket input against a 3-node cluster: an authenticated attacker throws malformed,
 * oversized, unknown and unauthorised events at every node. Every answer must be a well-formed
 * error ack, nothing may change, no node may fall over, and the private room's members must keep
 * chatting while the attacker learns nothing about the room.
 */
import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { conversationId, ErrorCode, type JoinedRoom, type LobbySnapshot, type RoomKey, type RoomSummary } from "@sala/protocol";
import { decryptText, encryptText } from "@sala/protocol/envelope";
import {
  connect,
  newUsername,
  record,
  registerAndLogin,
  sleep,
  startCluster,
  waitFor,
  type ClientSocket,
  type TestCluster,
  type TestNode,
} from "./support/cluster.js";

const ALL_CODES = new Set<string>(Object.values(ErrorCode));
const ROOM_PASSWORD = "hunter22";
/** Valid room-id shape, no such room. */
const NO_ROOM = "AAAAAAAAAAAAAAAA";
/** The node default SOCKET_EVENTS_PER_SEC is 30; the paced barrage stays under it per window. */
const CHUNK = 28;

let cluster: TestCluster;
let redis: Redis;
const sockets: ClientSocket[] = [];

let alice: string, bob: string, carol: string, mallory: string, sleeper: string;
let aliceSocket: ClientSocket, bobSocket: ClientSocket, carolSocket: ClientSocket;
let attackers: ClientSocket[]; // one of mallory's sockets on each node
let guessers: ClientSocket[]; // trudy, a second attacker, on each node
let trudy: string;
let malloryCookie: string;
let secret: RoomSummary; // alice's private room
let secretKey: RoomKey;
let den: RoomSummary; // mallory's own public room
let denKey: RoomKey;
let baselineSeq: number;
let baselineLobby: LobbySnapshot;

/** What members and bystanders saw, for the "learned nothing / got nothing" checks. */
const seenBy: Record<string, Record<string, any[]>> = {};
const WATCHED = ["room_key", "text", "member_joined", "member_left", "typing", "kicked", "room_deleted", "private_message", "conversation_read"];

function watch(label: string, socket: ClientSocket): void {
  seenBy[label] = {};
  for (const event of WATCHED) seenBy[label]![event] = record(socket, event);
}

async function open(node: TestNode, cookie: string): Promise<ClientSocket> {
  const socket = await connect(node, cookie);
  sockets.push(socket);
  return socket;
}

interface Answer {
  ack?: any;
  count?: number;
  error?: Error;
}

/** Emits `event` with `args` and an ack; resolves with the answer (or the timeout/disconnect error). */
function ask(socket: ClientSocket, event: string | number, args: unknown[], timeoutMs = 5000): Promise<Answer> {
  return new Promise((resolve) => {
    (socket.timeout(timeoutMs) as any).emit(event, ...args, (error: Error | null, ...answers: unknown[]) => {
      resolve(error ? { error } : { ack: answers[0], count: answers.length });
    });
  });
}

/** Problems with an answer that should be an error ack with one of `codes` (empty list: none). */
function errorAckProblems(answer: Answer, codes: readonly string[]): string[] {
  if (answer.error) return [`no ack (${answer.error.message})`];
  const problems: string[] = [];
  const ack = answer.ack;
  if (answer.count !== 1) problems.push(`ack called with ${answer.count} arguments`);
  if (typeof ack !== "object" || ack === null) return [...problems, `ack is ${JSON.stringify(ack)}`];
  if (JSON.stringify(Object.keys(ack).sort()) !== JSON.stringify(["error", "ok"])) problems.push(`ack keys ${Object.keys(ack)}`);
  if (ack.ok !== false) problems.push(`ok is ${JSON.stringify(ack.ok)}`);
  const error = ack.error;
  if (typeof error !== "object" || error === null) return [...problems, `error is ${JSON.stringify(error)}`];
  const extra = Object.keys(error).filter((key) => !["code", "message", "retryAfterMs"].includes(key));
  if (extra.length > 0) problems.push(`unexpected error fields ${extra}`);
  if (!ALL_CODES.has(error.code)) problems.push(`unknown code ${JSON.stringify(error.code)}`);
  if (typeof error.message !== "string" || error.message.length === 0) problems.push("missing message");
  if (error.code === ErrorCode.RATE_LIMITED && !(typeof error.retryAfterMs === "number" && error.retryAfterMs > 0)) {
    problems.push(`RATE_LIMITED without retryAfterMs: ${JSON.stringify(error)}`);
  }
  if (error.code !== ErrorCode.RATE_LIMITED && error.retryAfterMs !== undefined) problems.push("retryAfterMs on a non-rate-limit error");
  if (codes.length > 0 && !codes.includes(error.code)) problems.push(`code ${error.code}, expected ${codes.join("|")}`);
  return problems;
}

interface Case {
  label: string;
  event: string | number;
  args: unknown[];
  codes: readonly string[];
}

/**
 * Sends `cases` in chunks that stay inside the per-socket event budget, so each gets its own
 * answer rather than RATE_LIMITED, and returns every problem found.
 */
async function barrage(socket: ClientSocket, cases: Case[], where: string): Promise<string[]> {
  const problems: string[] = [];
  for (let i = 0; i < cases.length; i += CHUNK) {
    const chunk = cases.slice(i, i + CHUNK);
    const answers = await Promise.all(chunk.map((c) => ask(socket, c.event, c.args)));
    answers.forEach((answer, j) => {
      for (const problem of errorAckProblems(answer, chunk[j]!.codes)) {
        problems.push(`[${where}] ${chunk[j]!.label}: ${problem} — got ${JSON.stringify(answer.ack ?? answer.error?.message)}`);
      }
    });
    await sleep(1050); // next budget window
  }
  return problems;
}

/** A payload object whose `__proto__` is an own key, as JSON.parse makes it (and as it travels). */
const withOwnKey = (head: string, fields: Record<string, unknown>) => {
  const rest = JSON.stringify(fields).slice(1, -1);
  return JSON.parse(`{${head}${rest ? `,${rest}` : ""}}`);
};
const withProto = (fields: Record<string, unknown>) => {
  const payload = withOwnKey('"__proto__":{"polluted":"yes","isAdmin":true}', fields);
  if (!Object.hasOwn(payload, "__proto__")) throw new Error("__proto__ is not an own key");
  return payload;
};
const withConstructor = (fields: Record<string, unknown>) => withOwnKey('"constructor":{"prototype":{"polluted":"yes"}}', fields);

function nested(depth: number): unknown {
  return JSON.parse("[".repeat(depth) + "]".repeat(depth));
}

function randomKey(id: number): RoomKey {
  return { id, key: randomBytes(32).toString("base64") };
}

/** Every malformed-shape case for every client event; all must answer BAD_REQUEST. */
function shapeCases(): Case[] {
  const bad = ErrorCode.BAD_REQUEST;
  const envelope = encryptText("hello", secret.id, randomKey(secretKey.id));
  // A valid-shaped payload per event (never sent as is: the cases below break each one).
  const valid: Record<string, Record<string, unknown>> = {
    lobby: {},
    create_room: { name: "Evil Room" },
    join_room: { roomId: secret.id },
    leave_room: { roomId: secret.id },
    delete_room: { roomId: secret.id },
    kick: { roomId: secret.id, username: alice },
    unban: { roomId: secret.id, username: alice },
    text: { roomId: secret.id, msg: envelope },
    private_message: { to: alice, msg: encryptText("psst", conversationId(mallory, alice), randomKey(1)) },
    typing: { roomId: secret.id },
    open_conversation: { with: alice },
    conversations: {},
    conversation_history: { with: alice },
    mark_read: { with: alice, seq: 1 },
  };
  const cases: Case[] = [];
  for (const [event, payload] of Object.entries(valid)) {
    const add = (label: string, args: unknown[]) => cases.push({ label: `${event} ${label}`, event, args, codes: [bad] });
    for (const [label, value] of [
      ["number", 42],
      ["negative float", -1.5],
      ["NaN (null on the wire)", Number.NaN],
      ["string", "x"],
      ["empty string", ""],
      ["JSON string", JSON.stringify(payload)],
      ["empty array", []],
      ["array of payload", [payload]],
      ["null", null],
      ["boolean", true],
      ["binary", Buffer.from(JSON.stringify(payload))],
      ["deeply nested array", nested(2000)],
    ] as const) {
      add(`with a ${label} payload`, [value]);
    }
    add("with an extra field", [{ ...payload, extra: 1 }]);
    add("with an isAdmin field", [{ ...payload, isAdmin: true }]);
    add("with an own __proto__ key", [withProto(payload)]);
    add("with a constructor key", [withConstructor(payload)]);
    add("with no payload", []);
    add("with two payloads", [payload, payload]);
    add("with a payload and a string", [payload, "extra"]);
    if (Object.keys(payload).length > 0) add("with no fields", [{}]);
    for (const field of Object.keys(payload)) {
      const { [field]: _dropped, ...rest } = payload;
      if (Object.keys(rest).length > 0) add(`without ${field}`, [rest]);
      for (const [label, value] of [
        ["number", 7],
        ["null", null],
        ["array", [payload[field]]],
        ["object", { $ne: null }],
        ["boolean", false],
      ] as const) {
        add(`with ${field} as ${label}`, [{ ...payload, [field]: value }]);
      }
    }
  }
  return cases;
}

/** Well-shaped but unauthorised or invalid requests, each with the code it must get. */
function semanticCases(socketIndex: number): Case[] {
  const c = (label: string, event: string, payload: unknown, ...codes: string[]): Case => ({ label, event, args: [payload], codes });
  const guessedEnvelope = encryptText("let me in", secret.id, randomKey(secretKey.id));
  const denEnvelope = encryptText("hi", den.id, denKey);
  const whisperEnvelope = encryptText("hi", conversationId(mallory, sleeper), randomKey(1));
  const selfEnvelope = encryptText("me", conversationId(mallory, mallory), randomKey(1));
  return [
    // The private room the attacker is not in and does not own.
    c("text to the private room", "text", { roomId: secret.id, msg: guessedEnvelope }, ErrorCode.NOT_MEMBER),
    c("text to the private room, next key id", "text", { roomId: secret.id, msg: encryptText("x", secret.id, randomKey(secretKey.id + 1)) }, ErrorCode.NOT_MEMBER),
    c("typing in the private room", "typing", { roomId: secret.id }, ErrorCode.NOT_MEMBER),
    c("kick the owner", "kick", { roomId: secret.id, username: alice }, ErrorCode.NOT_OWNER),
    c("kick a member", "kick", { roomId: secret.id, username: bob }, ErrorCode.NOT_OWNER),
    c("kick a member (case-folded)", "kick", { roomId: secret.id, username: bob.toUpperCase() }, ErrorCode.NOT_OWNER),
    c("delete the private room", "delete_room", { roomId: secret.id }, ErrorCode.NOT_OWNER),
    c("join without password", "join_room", { roomId: secret.id }, ErrorCode.WRONG_PASSWORD, ErrorCode.RATE_LIMITED),
    c("join with empty password", "join_room", { roomId: secret.id, password: "" }, ErrorCode.WRONG_PASSWORD, ErrorCode.RATE_LIMITED),
    c("join with a wrong password", "join_room", { roomId: secret.id, password: `guess-${socketIndex}` }, ErrorCode.WRONG_PASSWORD, ErrorCode.RATE_LIMITED),
    c("join with an over-long password", "join_room", { roomId: secret.id, password: "p".repeat(129) }, ErrorCode.BAD_REQUEST),
    c("join a room id with a path", "join_room", { roomId: "../../../etc/pwd" }, ErrorCode.BAD_REQUEST),
    c("join a room id with a Redis hash tag", "join_room", { roomId: `${secret.id}}:meta` }, ErrorCode.BAD_REQUEST),
    c("join a room id with a glob", "join_room", { roomId: "****************" }, ErrorCode.BAD_REQUEST),
    // Rooms that do not exist.
    c("join a missing room", "join_room", { roomId: NO_ROOM }, ErrorCode.ROOM_NOT_FOUND),
    c("delete a missing room", "delete_room", { roomId: NO_ROOM }, ErrorCode.ROOM_NOT_FOUND),
    c("kick in a missing room", "kick", { roomId: NO_ROOM, username: alice }, ErrorCode.ROOM_NOT_FOUND),
    c("text to a missing room", "text", { roomId: NO_ROOM, msg: guessedEnvelope }, ErrorCode.NOT_MEMBER),
    c("typing in a missing room", "typing", { roomId: NO_ROOM }, ErrorCode.NOT_MEMBER),
    // Envelopes in the attacker's own room: malformed ones, and well-formed ones under a wrong key id.
    c("plaintext instead of an envelope", "text", { roomId: den.id, msg: "hello everyone" }, ErrorCode.BAD_REQUEST),
    c("empty envelope", "text", { roomId: den.id, msg: "" }, ErrorCode.BAD_REQUEST),
    c("envelope with short parts", "text", { roomId: den.id, msg: "v1.1.abc.def.ghi" }, ErrorCode.BAD_REQUEST),
    c("envelope of version v2", "text", { roomId: den.id, msg: denEnvelope.replace(/^v1/, "v2") }, ErrorCode.BAD_REQUEST),
    c("envelope with key id 0", "text", { roomId: den.id, msg: denEnvelope.replace(/^v1\.\d+\./, "v1.0.") }, ErrorCode.BAD_REQUEST),
    c("envelope with key id 1e3", "text", { roomId: den.id, msg: denEnvelope.replace(/^v1\.\d+\./, "v1.1e3.") }, ErrorCode.BAD_REQUEST),
    c("envelope with a trailing newline", "text", { roomId: den.id, msg: `${denEnvelope}\n` }, ErrorCode.BAD_REQUEST),
    c("envelope with a sixth part", "text", { roomId: den.id, msg: `${denEnvelope}.AAAA` }, ErrorCode.BAD_REQUEST),
    c("envelope of 50 000 characters", "text", { roomId: den.id, msg: `v1.1.${"A".repeat(22)}==.${"A".repeat(50_000)}.${"A".repeat(43)}=` }, ErrorCode.BAD_REQUEST),
    c("envelope under key id 2 (stale)", "text", { roomId: den.id, msg: encryptText("x", den.id, { id: denKey.id + 1, key: denKey.key }) }, ErrorCode.STALE_KEY),
    c("envelope under key id 999999999", "text", { roomId: den.id, msg: encryptText("x", den.id, randomKey(999_999_999)) }, ErrorCode.STALE_KEY),
    c("kick self in own room", "kick", { roomId: den.id, username: mallory }, ErrorCode.BAD_REQUEST),
    c("unban in the private room", "unban", { roomId: secret.id, username: mallory }, ErrorCode.NOT_OWNER),
    c("unban in a missing room", "unban", { roomId: NO_ROOM, username: mallory }, ErrorCode.ROOM_NOT_FOUND),
    c("kick an over-long name", "kick", { roomId: den.id, username: "x".repeat(25) }, ErrorCode.BAD_REQUEST),
    // Room creation that must not create anything.
    c("create a room named like the private one", "create_room", { name: secret.name.toUpperCase() }, ErrorCode.ROOM_EXISTS),
    c("create a room named with spaces only", "create_room", { name: "     " }, ErrorCode.INVALID_ROOM_NAME),
    c("create a room named with markup", "create_room", { name: "<script>alert(1)</script>" }, ErrorCode.INVALID_ROOM_NAME),
    c("create a room with a 41-character name", "create_room", { name: "n".repeat(41) }, ErrorCode.INVALID_ROOM_NAME),
    c("create a room with an 81-character name", "create_room", { name: "n".repeat(81) }, ErrorCode.BAD_REQUEST),
    c("create a room with a 3-character password", "create_room", { name: `Weak ${socketIndex}`, password: "abc" }, ErrorCode.WEAK_PASSWORD),
    c("create a room with a 129-character password", "create_room", { name: `Long ${socketIndex}`, password: "p".repeat(129) }, ErrorCode.BAD_REQUEST),
    // Whispers and conversations.
    c("whisper to self", "private_message", { to: mallory, msg: selfEnvelope }, ErrorCode.SELF_WHISPER),
    c("whisper to self (case-folded)", "private_message", { to: mallory.toUpperCase(), msg: selfEnvelope }, ErrorCode.SELF_WHISPER),
    c("whisper to nobody", "private_message", { to: "nobody-at-all", msg: whisperEnvelope }, ErrorCode.USER_NOT_FOUND),
    c("whisper before opening the conversation", "private_message", { to: sleeper, msg: whisperEnvelope }, ErrorCode.BAD_REQUEST),
    c("plaintext whisper", "private_message", { to: alice, msg: "hi alice" }, ErrorCode.BAD_REQUEST),
    c("empty whisper", "private_message", { to: alice, msg: "" }, ErrorCode.BAD_REQUEST),
    c("over-long whisper", "private_message", { to: alice, msg: "w".repeat(12_001) }, ErrorCode.BAD_REQUEST),
    c("whisper to an over-long name", "private_message", { to: "x".repeat(25), msg: whisperEnvelope }, ErrorCode.BAD_REQUEST),
    c("whisper with a bad id", "private_message", { to: alice, msg: whisperEnvelope, id: "bad id!" }, ErrorCode.BAD_REQUEST),
    c("open a conversation with self", "open_conversation", { with: mallory.toUpperCase() }, ErrorCode.SELF_WHISPER),
    c("open a conversation with nobody", "open_conversation", { with: "nobody-at-all" }, ErrorCode.USER_NOT_FOUND),
    c("open another pair's conversation id", "open_conversation", { with: `${alice}:${bob}` }, ErrorCode.BAD_REQUEST),
    c("open a conversation by hash tag", "open_conversation", { with: `}:${alice}` }, ErrorCode.BAD_REQUEST),
    c("read another pair's history", "conversation_history", { with: `dm:${alice}:${bob}` }, ErrorCode.BAD_REQUEST),
    c("history both ways at once", "conversation_history", { with: alice, afterSeq: 1, beforeSeq: 5 }, ErrorCode.BAD_REQUEST),
    c("history with a negative seq", "conversation_history", { with: alice, afterSeq: -1 }, ErrorCode.BAD_REQUEST),
    c("history page of 201", "conversation_history", { with: alice, limit: 201 }, ErrorCode.BAD_REQUEST),
    c("mark read with nobody", "mark_read", { with: "nobody-at-all", seq: 1 }, ErrorCode.USER_NOT_FOUND),
    c("mark read without a conversation", "mark_read", { with: sleeper, seq: 1 }, ErrorCode.BAD_REQUEST),
    c("mark read a fractional seq", "mark_read", { with: alice, seq: 1.5 }, ErrorCode.BAD_REQUEST),
    c("mark read a negative seq", "mark_read", { with: alice, seq: -1 }, ErrorCode.BAD_REQUEST),
  ];
}

/** Event names outside the protocol, including server→client names and prototype names. */
function unknownEventCases(): Case[] {
  const names: Array<string | number> = [
    "nope",
    "Lobby",
    "lobby ",
    "TEXT",
    "room_key",
    "member_joined",
    "kicked",
    "lobby_update",
    "__proto__",
    "constructor",
    "hasOwnProperty",
    "toString",
    "valueOf",
    "error",
    "admin:delete_all",
    "x".repeat(5000),
    123,
  ];
  return names.flatMap((event) => [
    { label: `unknown event ${String(event).slice(0, 20)}`, event, args: [{ roomId: secret.id }], codes: [ErrorCode.UNKNOWN_EVENT] },
    { label: `unknown event ${String(event).slice(0, 20)} without payload`, event, args: [], codes: [ErrorCode.UNKNOWN_EVENT] },
  ]);
}

let ghostRoomName: string;

beforeAll(async () => {
  cluster = await startCluster(3, inject("redisUrl"));
  redis = new Redis(inject("redisUrl"));
  const [n1, n2, n3] = cluster.nodes as [TestNode, TestNode, TestNode];
  [alice, bob, carol, mallory, sleeper, trudy] = ["alice", "bob", "carol", "mallory", "sleeper", "trudy"].map((label) =>
    newUsername(label),
  ) as [string, string, string, string, string, string];
  const [aliceCookie, bobCookie, carolCookie, cookie, , trudyCookie] = await Promise.all([
    registerAndLogin(n1, alice),
    registerAndLogin(n2, bob, n1),
    registerAndLogin(n3, carol),
    registerAndLogin(n1, mallory, n3),
    registerAndLogin(n2, sleeper),
    registerAndLogin(n3, trudy),
  ]);
  malloryCookie = cookie!;
  aliceSocket = await open(n1, aliceCookie!);
  bobSocket = await open(n2, bobCookie!);
  carolSocket = await open(n3, carolCookie!);
  attackers = [await open(n1, malloryCookie), await open(n2, malloryCookie), await open(n3, malloryCookie)];
  watch("alice", aliceSocket);
  watch("bob", bobSocket);
  watch("carol", carolSocket);
  attackers.forEach((socket, i) => watch(`mallory${i + 1}`, socket));
  guessers = [await open(n1, trudyCookie!), await open(n2, trudyCookie!), await open(n3, trudyCookie!)];
  guessers.forEach((socket, i) => watch(`trudy${i + 1}`, socket));

  const tag = randomBytes(3).toString("hex");
  const created = await (aliceSocket.timeout(5000) as any).emitWithAck("create_room", { name: `Secret ${tag}`, password: ROOM_PASSWORD });
  expect(created.ok).toBe(true);
  secret = created.room;
  const aliceJoin: { ok: true } & JoinedRoom = await (aliceSocket.timeout(5000) as any).emitWithAck("join_room", {
    roomId: secret.id,
    password: ROOM_PASSWORD,
  });
  expect(aliceJoin.ok).toBe(true);
  secretKey = aliceJoin.key;
  const bobJoined = waitFor(aliceSocket, "member_joined", (event: any) => event.username === bob);
  const bobJoin = await (bobSocket.timeout(5000) as any).emitWithAck("join_room", { roomId: secret.id, password: ROOM_PASSWORD });
  expect(bobJoin.ok).toBe(true);
  expect(bobJoin.key).toEqual(secretKey);
  await bobJoined;

  const denCreated = await (attackers[0]!.timeout(5000) as any).emitWithAck("create_room", { name: `Den ${tag}` });
  expect(denCreated.ok).toBe(true);
  den = denCreated.room;
  for (const socket of attackers) {
    const joined = await (socket.timeout(5000) as any).emitWithAck("join_room", { roomId: den.id });
    expect(joined.ok).toBe(true);
    denKey = joined.key;
  }
  ghostRoomName = `Ghost ${tag}`;

  // One message before the attack fixes the baseline sequence number.
  const first = waitFor(bobSocket, "text", (message: any) => message.roomId === secret.id);
  const sent = await (aliceSocket.timeout(5000) as any).emitWithAck("text", { roomId: secret.id, msg: encryptText("before", secret.id, secretKey) });
  expect(sent.ok).toBe(true);
  baselineSeq = (await first).seq;
  expect(baselineSeq).toBe(sent.seq);

  // The lobby settles (flush every 20 ms), then is recorded as the baseline.
  await sleep(200);
  baselineLobby = await (carolSocket.timeout(5000) as any).emitWithAck("lobby", {});
  expect(baselineLobby.users).toEqual(expect.arrayContaining([alice, bob, carol, mallory, trudy]));
  expect(baselineLobby.users).not.toContain(sleeper);
  expect(baselineLobby.rooms.find((room) => room.id === secret.id)?.memberCount).toBe(2);
}, 30_000);

afterAll(async () => {
  for (const socket of sockets) socket.close();
  await redis?.quit();
  await cluster?.close();
});

const comparableRooms = (rooms: RoomSummary[]) =>
  rooms.map(({ id, name, owner, isPrivate, memberCount, createdAt }) => ({ id, name, owner, isPrivate, memberCount, createdAt })).sort((a, b) => a.id.localeCompare(b.id));

describe("a hostile client on every node", () => {
  it("gets a well-formed error ack for every malformed, unknown or unauthorised event", async () => {
    const perNode = await Promise.all(
      attackers.map(async (socket, i) => {
        // Ack-less requests are dropped unseen, even valid ones: this must neither create the
        // ghost room nor delete the attacker's own room.
        (socket as any).emit("create_room", { name: ghostRoomName });
        (socket as any).emit("delete_room", { roomId: den.id });
        (socket as any).emit("nope", { roomId: secret.id });
        (socket as any).emit("__proto__", { polluted: true });
        (socket as any).emit("typing", { roomId: secret.id }); // not a member: nothing is relayed
        (socket as any).emit("typing", withProto({ roomId: secret.id }));
        (socket as any).emit("typing", 42);
        (socket as any).emit("text", { roomId: secret.id, msg: encryptText("x", secret.id, secretKey) });
        await sleep(1050);
        const cases = [...semanticCases(i), ...unknownEventCases(), ...shapeCases()];
        return barrage(socket, cases, `node ${i + 1}`);
      }),
    );
    // A member using a retired key id gets STALE_KEY (and, checked later, consumes no seq).
    const stale = await ask(bobSocket, "text", [{ roomId: secret.id, msg: encryptText("old", secret.id, { id: secretKey.id + 1, key: secretKey.key }) }]);
    const problems = [...perNode.flat(), ...errorAckProblems(stale, [ErrorCode.STALE_KEY]).map((p) => `[bob] stale key: ${p}`)];
    expect(problems).toEqual([]);
    expect(stale.ack.error.message).toContain(String(secretKey.id));
    // The server runs in this process: no payload polluted Object.prototype.
    expect(({} as any).polluted).toBeUndefined();
    expect(({} as any).isAdmin).toBeUndefined();
    for (const socket of attackers) expect(socket.connected).toBe(true);

    // Leaving a room one is not in (or that does not exist) is a documented no-op answered {ok:true};
    // the invariants checked after the attack show it changed nothing (no key rotation, no member_left).
    for (const [i, socket] of attackers.entries()) {
      for (const roomId of [secret.id, NO_ROOM]) {
        const answer = await ask(socket, "leave_room", [{ roomId }]);
        expect(answer.ack, `node ${i + 1} leave ${roomId}`).toEqual({ ok: true });
      }
    }
  }, 45_000);

  it("lets a burst of parallel room-password guesses across nodes get at most ROOM_PASSWORD_MAX_FAILS (5) checks", async () => {
    // 12 guesses, 4 per node: within each socket's event budget, so only the password throttle applies.
    const answers = await Promise.all(
      Array.from({ length: 12 }, (_, i) => ask(guessers[i % 3]!, "join_room", [{ roomId: secret.id, password: `guess number ${i}` }])),
    );
    const problems = answers.flatMap((answer, i) => errorAckProblems(answer, [ErrorCode.WRONG_PASSWORD, ErrorCode.RATE_LIMITED]).map((p) => `#${i}: ${p}`));
    expect(problems).toEqual([]);
    const codes = answers.map((answer) => answer.ack.error.code);
    expect(codes.filter((code) => code === ErrorCode.WRONG_PASSWORD).length, codes.join(",")).toBeLessThanOrEqual(5);
    // And once over the limit, the right password is refused too (the throttle is not a hint).
    await sleep(1050);
    const right = await ask(guessers[0]!, "join_room", [{ roomId: secret.id, password: ROOM_PASSWORD }]);
    expect(errorAckProblems(right, [ErrorCode.RATE_LIMITED])).toEqual([]);
  });

  it("rate-limits a flood of several hundred events per socket with RATE_LIMITED and retryAfterMs, then recovers", async () => {
    const FLOOD = 300;
    const results = await Promise.all(
      attackers.map(async (socket) => {
        const answers = await Promise.all(
          Array.from({ length: FLOOD }, (_, i) => ask(socket, "text", [{ roomId: secret.id, msg: encryptText(`flood ${i}`, secret.id, secretKey) }], 10_000)),
        );
        return answers;
      }),
    );
    // While the attacker floods, another socket on the same node is not throttled.
    const aliceLobby = await ask(aliceSocket, "lobby", [{}]);
    expect(aliceLobby.ack?.ok).toBe(true);

    let maxRetry = 0;
    results.forEach((answers, node) => {
      const problems = answers.flatMap((answer, i) => errorAckProblems(answer, [ErrorCode.NOT_MEMBER, ErrorCode.RATE_LIMITED]).map((p) => `node ${node + 1} #${i}: ${p}`));
      expect(problems).toEqual([]);
      const limited = answers.filter((answer) => answer.ack.error.code === ErrorCode.RATE_LIMITED);
      expect(limited.length, `node ${node + 1}`).toBeGreaterThanOrEqual(FLOOD - 100);
      expect(limited.length, `node ${node + 1}`).toBeLessThan(FLOOD);
      for (const answer of limited) {
        expect(answer.ack.error.retryAfterMs).toBeGreaterThan(0);
        expect(answer.ack.error.retryAfterMs).toBeLessThanOrEqual(1000);
        maxRetry = Math.max(maxRetry, answer.ack.error.retryAfterMs);
      }
    });
    await sleep(maxRetry + 100);
    for (const socket of attackers) {
      expect(socket.connected).toBe(true);
      const again = await ask(socket, "lobby", [{}]);
      expect(again.ack?.ok).toBe(true);
    }

    // Unknown events spend the same budget (commit 4f0fd60), so they cannot be used to flood either.
    await sleep(1050);
    const unknown = await Promise.all(
      attackers.map((socket) => Promise.all(Array.from({ length: FLOOD }, (_, i) => ask(socket, `no_such_event_${i % 7}`, [{}], 10_000)))),
    );
    unknown.forEach((answers, node) => {
      const problems = answers.flatMap((answer, i) => errorAckProblems(answer, [ErrorCode.UNKNOWN_EVENT, ErrorCode.RATE_LIMITED]).map((p) => `node ${node + 1} #${i}: ${p}`));
      expect(problems).toEqual([]);
      const limited = answers.filter((answer) => answer.ack.error.code === ErrorCode.RATE_LIMITED).length;
      expect(limited, `node ${node + 1}`).toBeGreaterThanOrEqual(FLOOD - 100);
    });
    await sleep(1100);
    for (const socket of attackers) expect((await ask(socket, "lobby", [{}])).ack?.ok).toBe(true);
  }, 30_000);

  it("is disconnected for a 1 MB payload (maxHttpBufferSize) or a malformed packet, and the node stays up", async () => {
    const huge = "A".repeat(1024 * 1024);
    const payloads: Array<[string, unknown]> = [
      ["text", { roomId: den.id, msg: huge }],
      ["create_room", { name: huge }],
      ["private_message", { to: alice, msg: huge }],
    ];
    await Promise.all(
      cluster.nodes.map(async (node, i) => {
        const victim = await open(node, malloryCookie);
        const gone = waitFor(victim, "disconnect", () => true, 10_000);
        const answers: unknown[] = [];
        const [event, payload] = payloads[i]!;
        (victim as any).emit(event, payload, (answer: unknown) => answers.push(answer));
        expect(await gone).toBe("transport close");
        expect(victim.connected).toBe(false);
        expect(answers).toEqual([]);
        const health = await fetch(`${node.url}/healthz`);
        expect(health.status).toBe(200);
      }),
    );

    // Packets the Socket.IO parser cannot decode close that connection only.
    // (engine.write adds the engine.io "4" message prefix; these are Socket.IO-level packets.)
    for (const packet of ['2["lobby",', '2{"not":"an array"}', '2["disconnect"]', "9", "2[null]", '2["lobby",{}]garbage']) {
      const node = cluster.nodes[1]!;
      const victim = await open(node, malloryCookie);
      const gone = waitFor(victim, "disconnect", () => true, 10_000);
      (victim as any).io.engine.write(packet);
      await gone;
      expect(victim.connected, packet).toBe(false);
    }
    for (const socket of [aliceSocket, bobSocket, carolSocket, ...attackers, ...guessers]) expect(socket.connected).toBe(true);
  }, 30_000);
});

describe("after the attack", () => {
  it("leaves the room list, member count, room key and online users unchanged", async () => {
    await sleep(300); // let stray lobby updates (if any) flush
    const lobby: LobbySnapshot = await (carolSocket.timeout(5000) as any).emitWithAck("lobby", {});
    expect(comparableRooms(lobby.rooms)).toEqual(comparableRooms(baselineLobby.rooms));
    expect([...lobby.users].sort()).toEqual([...baselineLobby.users].sort());
    expect(lobby.rooms.some((room) => room.name === ghostRoomName)).toBe(false);
    expect(lobby.rooms.find((room) => room.id === den.id)).toBeTruthy();
    expect(lobby.rooms.find((room) => room.id === secret.id)?.memberCount).toBe(2);

    // Bob is already a member: joining again needs no password and returns the current key.
    const rejoin = await (bobSocket.timeout(5000) as any).emitWithAck("join_room", { roomId: secret.id });
    expect(rejoin.ok).toBe(true);
    expect(rejoin.key).toEqual(secretKey);
    expect([...rejoin.members].sort()).toEqual([alice, bob].sort());

    const meta = await redis.hgetall(`${cluster.prefix}:{room:${secret.id}}:meta`);
    expect(meta.keyId).toBe(String(secretKey.id));
    expect(meta.owner).toBe(alice);
    expect(meta.seq).toBe(String(baselineSeq));
    expect(Object.keys(await redis.hgetall(`${cluster.prefix}:{room:${secret.id}}:members`)).sort()).toEqual(
      [alice, bob].map((name) => name.toLowerCase()).sort(),
    );
    expect(await redis.hexists(`${cluster.prefix}:{global}:roomnames`, ghostRoomName.toLowerCase())).toBe(0);
  });

  it("lets the members keep chatting with the next sequence numbers", async () => {
    const toBob = waitFor(bobSocket, "text", (message: any) => message.roomId === secret.id && message.from === alice);
    const sent = await (aliceSocket.timeout(5000) as any).emitWithAck("text", { roomId: secret.id, msg: encryptText("still here", secret.id, secretKey) });
    expect(sent.ok).toBe(true);
    expect(sent.seq).toBe(baselineSeq + 1);
    const received = await toBob;
    expect(received.seq).toBe(baselineSeq + 1);
    const plain = decryptText(received.msg, secret.id, (id) => (id === secretKey.id ? secretKey.key : undefined));
    expect(plain).toEqual({ ok: true, text: "still here", keyId: secretKey.id });

    const toAlice = waitFor(aliceSocket, "text", (message: any) => message.roomId === secret.id && message.from === bob);
    const reply = await (bobSocket.timeout(5000) as any).emitWithAck("text", { roomId: secret.id, msg: encryptText("me too", secret.id, secretKey) });
    expect(reply.ok).toBe(true);
    expect((await toAlice).seq).toBe(baselineSeq + 2);
  });

  it("never let the attacker (or the bystander) see the private room, nor the members see the attacker", async () => {
    await sleep(200);
    for (const label of ["mallory1", "mallory2", "mallory3", "trudy1", "trudy2", "trudy3", "carol"]) {
      for (const event of WATCHED) {
        const leaked = seenBy[label]![event]!.filter((payload) => payload?.roomId === secret.id);
        expect(leaked, `${label} got ${event} of the private room`).toEqual([]);
      }
    }
    for (const label of ["alice", "bob"]) {
      const seen = seenBy[label]!;
      expect(seen.typing!.filter((event) => event.username === mallory), `${label} typing`).toEqual([]);
      expect(seen.member_joined!.filter((event) => event.username === mallory || event.username === trudy)).toEqual([]);
      expect(seen.member_left).toEqual([]);
      expect(seen.kicked).toEqual([]);
      expect(seen.room_deleted).toEqual([]);
      expect(seen.room_key).toEqual([]);
      expect(seen.private_message).toEqual([]);
      expect(seen.conversation_read).toEqual([]);
      // Room messages: only the baseline and the two above, in order, all from members.
      const texts = seen.text!.filter((message) => message.roomId === secret.id);
      expect(texts.every((message) => message.from === alice || message.from === bob)).toBe(true);
      expect(texts.map((message) => message.seq)).toEqual([...new Set(texts.map((message) => message.seq))].sort((a, b) => a - b));
    }
  });

  it("keeps every node healthy and accepting new logins and sockets", async () => {
    for (const node of cluster.nodes) {
      const health = await fetch(`${node.url}/healthz`);
      expect(health.status).toBe(200);
      expect(await health.json()).toEqual({ ok: true, node: node.id });
      const ready = await fetch(`${node.url}/readyz`);
      expect(ready.status).toBe(200);

      const probe = newUsername("probe");
      const cookie = await registerAndLogin(node, probe);
      const socket = await open(node, cookie);
      const lobby: LobbySnapshot = await (socket.timeout(5000) as any).emitWithAck("lobby", {});
      expect(lobby.users).toEqual(expect.arrayContaining([alice, bob, carol, mallory, trudy, probe]));
      expect(lobby.rooms.map((room) => room.id)).toEqual(expect.arrayContaining([secret.id, den.id]));
      socket.close();
    }
  });
});
