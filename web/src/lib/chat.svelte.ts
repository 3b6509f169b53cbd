/**
 * The live chat: one Socket.IO connection (same origin, session cookie), the lobby, the rooms the
 * user is a member of (all joined on this connection, so their messages keep arriving and count
 * unread while another is shown), the room shown, and their conversations. Components read its
 * state and call its actions; every action answers with an error message to show, or null.
 */
import { io, type Socket } from "socket.io-client";
import {
  ErrorCode,
  nameKey,
  sameName,
  type Ack,
  type ClientToServerEvents,
  type ErrorBody,
  type LobbySnapshot,
  type RoomKey,
  type RoomMessage,
  type ServerToClientEvents,
  type SignOutReason,
  type Whisper,
} from "@sala/protocol";
import { keepConnected, type ConnectionState } from "./connection.js";
import { describeError } from "./errors.js";
import { Conversations } from "./conversations.svelte.js";
import { Lobby } from "./lobby.svelte.js";
import { RoomSession } from "./room.svelte.js";
import { messageId, type SendText } from "./outbox.svelte.js";
import { readMarks } from "./attention.js";
import type { MessageKey } from "../i18n/i18n.svelte.js";

export type { ConnectionState };

/** What may deserve a desktop notification: a mention of the user in a room, a whisper to them. */
export type Attention =
  | { kind: "mention"; roomId: string; room: string; from: string; text: string | null }
  | { kind: "whisper"; from: string; text: string | null };
type SalaSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

interface PendingJoin {
  roomId: string;
  messages: RoomMessage[];
  keys: RoomKey[];
  /** Edits and deletions heard before the answer: applied after its history. */
  changes: Array<{ seq: number; msg: string; editedAt: number } | { seq: number; deleted: true }>;
  /** The join's outcome (an error to show, or null): a second join of the same room waits for it. */
  done: Promise<string | null>;
}

const TYPING_SIGNAL_EVERY_MS = 2000;
const ACK_TIMEOUT_MS = 10_000;
const SEND_ATTEMPTS = 4;
/**
 * Tries of a request that fails for a passing reason (Redis, a busy node, the rate limit) before
 * its failure stands: a leave, a conversation's keys, a reconnect's `join_room` (then the room is given up).
 */
const PATIENT_ATTEMPTS = 5;
const PASSING = new Set<string>([ErrorCode.UNAVAILABLE, ErrorCode.BUSY, ErrorCode.RATE_LIMITED]);
/** How long messages numbered before our own may take to arrive after our ack before they are fetched. */
const GAP_WAIT_MS = 1000;
/** The server sends the lobby right after every connection; without it by then, ask for it. */
const LOBBY_WAIT_MS = 3000;
/**
 * Rooms joined in the background (at a connection: the user's rooms, again) are started this far
 * apart: each costs a `join_room` and, after a reconnect, a `history`, within the socket's event
 * budget (SOCKET_EVENTS_PER_SEC, 30 by default) with room to spare for what the user does.
 */
const BACKGROUND_JOIN_SPACING_MS = 100;
/** Rooms a reconnecting socket asks the handshake to put it back in (the schema's `auth.rooms` cap); the rest rejoin after. */
const RESUMED_ROOMS_MAX = 16;

export class Chat {
  connection = $state<ConnectionState>("connecting");
  /** The rooms the user is a member of, joined on this connection, by id. */
  rooms = $state<Record<string, RoomSession>>({});
  /** The room shown (a key of `rooms`), or null: the lobby. */
  viewing = $state<string | null>(null);
  /** Whether the page is visible: messages of the shown room count unread while it is not. */
  visible = $state(typeof document === "undefined" || document.visibilityState !== "hidden");
  /** Told of mentions and whispers the user is not looking at (ChatApp: desktop notifications). */
  onAttention: (event: Attention) => void = () => {};
  /** A notice for the lobby (kicked, room deleted…), as a message key and its parameters. */
  lobbyNotice = $state<{ key: MessageKey; params: Record<string, string> } | null>(null);
  /** Messages of a room we were taken out of before they were confirmed as sent: shown, so none is lost unseen. */
  unsent = $state<{ room: string; texts: string[] } | null>(null);
  /** Ticks every second so typing indicators expire on screen. */
  now = $state(Date.now());
  readonly conversations = new Conversations();
  /** What the lobby shows (counts, users, rooms) and its searches and pages. */
  readonly lobby: Lobby;

  private readonly socket: SalaSocket;
  private lastTypingSignal = 0;
  /** `open_conversation` requests under way, by case-folded peer name. */
  private readonly conversationFetches = new Map<string, Promise<string | null>>();
  private everConnected = false;
  /** Counts connections, so the catch-up of one that has since dropped stops. */
  private connections = 0;
  private readonly clock: ReturnType<typeof setInterval>;
  private stopKeeping: () => void = () => {};
  /** When the last lobby snapshot arrived, and the check that asks for one when it is overdue. */
  private lobbyAt = 0;
  private lobbyCheck: ReturnType<typeof setTimeout> | undefined;
  /** Rooms being joined, and what arrived for each before the join's answer. */
  private readonly pendingJoins = new Map<string, PendingJoin>();
  private ended = false;

  constructor(
    readonly me: string,
    /**
     * Called once when the session is gone: back to the login page. With a reason when the server
     * ended it from elsewhere (`signed_out`: locked, deleted, password changed…); without one when
     * it just vanished (expired, logged out in another tab).
     */
    private readonly onSessionEnded: (reason?: SignOutReason) => void,
  ) {
    this.socket = io({
      transports: ["websocket"],
      withCredentials: true,
      // Sent at every (re)connection: the server puts the new socket back in our room before it
      // handles anything we typed while disconnected.
      auth: (send) => send({ rooms: Object.keys(this.rooms).slice(0, RESUMED_ROOMS_MAX) }),
    });
    this.lobby = new Lobby(me, {
      users: (payload) => this.request("lobby_users", payload),
      rooms: (payload) => this.request("lobby_rooms", payload),
    });
    this.listen();
    this.clock = setInterval(() => (this.now = Date.now()), 1000);
  }

  /** The room shown, or null. */
  get room(): RoomSession | null {
    return this.viewing ? (this.rooms[this.viewing] ?? null) : null;
  }

  /** The rooms the user is in, by name. */
  joinedRooms(): RoomSession[] {
    return Object.values(this.rooms).sort((a, b) => a.summary.name.localeCompare(b.summary.name, undefined, { sensitivity: "base" }));
  }

  /** Unread messages in rooms and conversations: the tab title shows it. */
  totalUnread(): number {
    return Object.values(this.rooms).reduce((sum, room) => sum + room.unread, 0) + this.conversations.totalUnread();
  }

  /** The page was hidden or shown again: the shown room is read once it is seen. */
  setVisible(visible: boolean): void {
    this.visible = visible;
    if (visible && this.room) this.markRoomRead(this.room);
  }

  close(): void {
    clearInterval(this.clock);
    clearTimeout(this.lobbyCheck);
    this.lobby.close();
    this.stopKeeping();
    this.socket.close();
  }

  // ---- actions ---------------------------------------------------------------------------

  async createRoom(name: string, password: string): Promise<string | null> {
    const answer = await this.request("create_room", { name, ...(password ? { password } : {}) });
    if (!answer.ok) return describeError(answer.error);
    return this.joinRoom(answer.room.id, password || undefined);
  }

  /** Shows the room, joining it first when the user is not in it yet (a private one needs `password`). */
  async joinRoom(roomId: string, password?: string): Promise<string | null> {
    const error = this.rooms[roomId] ? null : await this.enter(roomId, password);
    if (!error) this.show(roomId);
    return error;
  }

  /** Shows the lobby; the user stays in their rooms (their messages keep arriving). */
  showLobby(): void {
    this.viewing = null;
  }

  /** Leaves the room shown (every tab of the user's leaves it) and shows the lobby; the server is told in the background. */
  leaveRoom(): void {
    const room = this.room;
    if (!room) return;
    this.dropRoom(room.id);
    this.lobby.left(room.id);
    readMarks.forget(this.me, room.id);
    void this.sendLeave(room);
  }

  /**
   * Tells the server, trying again for a passing failure: a leave the server never heard would
   * bring the room back at the next connection. One that still fails is said in the lobby.
   */
  private async sendLeave(room: RoomSession): Promise<void> {
    const answer = await this.requestPatiently("leave_room", { roomId: room.id });
    if (answer.ok || answer.error.code === ErrorCode.NOT_MEMBER || answer.error.code === ErrorCode.ROOM_NOT_FOUND) return;
    this.lobbyNotice = { key: "room.leaveFailed", params: { room: room.summary.name, reason: describeError(answer.error) } };
  }

  /**
   * A request tried again, after the wait the server asks for, while it fails for a passing
   * reason (RATE_LIMITED after a burst of the user's own sends, BUSY, UNAVAILABLE) — and while
   * `wanted` says its answer still matters (a rejoin: its connection is still the one up). Once it
   * does not, the last answer comes back as it is, without another try; the caller drops it.
   */
  private async requestPatiently<E extends keyof ClientToServerEvents>(
    event: E,
    payload: Parameters<ClientToServerEvents[E]>[0],
    wanted: () => boolean = () => true,
  ): Promise<AckOf<E>> {
    for (let attempt = 1; ; attempt++) {
      const answer = await this.request(event, payload);
      // Every answer is an Ack (generic E hides it from the compiler).
      const failed = answer as Ack | { ok: true };
      if (failed.ok || !PASSING.has(failed.error.code) || attempt >= PATIENT_ATTEMPTS || !wanted()) return answer;
      await new Promise((resolve) => setTimeout(resolve, failed.error.retryAfterMs ?? 500 * attempt));
      if (!wanted()) return answer;
    }
  }

  async deleteRoom(): Promise<string | null> {
    if (!this.room) return null;
    const answer = await this.request("delete_room", { roomId: this.room.id });
    return answer.ok ? null : describeError(answer.error);
  }

  async clearHistory(): Promise<string | null> {
    if (!this.room) return null;
    const answer = await this.request("clear_history", { roomId: this.room.id });
    return answer.ok ? null : describeError(answer.error);
  }

  /**
   * Replaces the text of our message `seq` in the room shown, for everyone: encrypted under the
   * room's current key like a new message (a key that rotated meanwhile is waited for once).
   */
  async editMessage(seq: number, text: string): Promise<string | null> {
    const room = this.room;
    if (!room) return null;
    let msg = room.encrypt(text);
    let answer = await this.request("edit_message", { roomId: room.id, seq, msg });
    if (!answer.ok && answer.error.code === ErrorCode.STALE_KEY) {
      await new Promise((resolve) => setTimeout(resolve, 500)); // the new key's room_key is on its way
      msg = room.encrypt(text);
      answer = await this.request("edit_message", { roomId: room.id, seq, msg });
    }
    if (!answer.ok) return describeError(answer.error);
    room.edited(seq, msg, answer.editedAt); // the room's message_edited says it too
    return null;
  }

  /** Deletes our message `seq` in the room shown, for everyone (it shows as deleted). */
  async deleteMessage(seq: number): Promise<string | null> {
    const room = this.room;
    if (!room) return null;
    const answer = await this.request("delete_message", { roomId: room.id, seq });
    if (!answer.ok) return describeError(answer.error);
    room.deleted(seq);
    return null;
  }

  /** Owner only: removes the member, who stays barred until `unban` (the server says so with `ban_changed`). */
  async kick(username: string): Promise<string | null> {
    if (!this.room) return null;
    const answer = await this.request("kick", { roomId: this.room.id, username });
    return answer.ok ? null : describeError(answer.error);
  }

  /** Owner only: lets a barred user join the room again. */
  async unban(username: string): Promise<string | null> {
    const room = this.room;
    if (!room) return null;
    const answer = await this.request("unban", { roomId: room.id, username });
    if (!answer.ok) return describeError(answer.error);
    room.banChanged(username, false); // `ban_changed` says it too; this tab need not wait for it
    return null;
  }

  /**
   * Queues the message in the room's outbox, which shows it at once as pending and sends it, now
   * or once the connection and the room are back, with one id for every attempt: the server posts
   * it once. How it ends (delivered, or failed with a retry) shows on its bubble.
   */
  send(text: string): void {
    this.room?.outbox.add(text);
    this.lastTypingSignal = 0;
  }

  /**
   * Shows the conversation with `user`: its keys and latest whispers come from the server (which
   * creates it on first use); what is on screen is then read, on every device of ours.
   */
  async openConversation(user: string): Promise<string | null> {
    const thread = this.conversations.select(user);
    // The last whisper held here, not thread.lastSeq: after a reconnect the `conversations`
    // answer has already raised lastSeq to the server's, and the gap must still be fetched.
    const before = thread.lines.at(-1)?.seq ?? 0;
    const error = await this.fetchConversation(user);
    if (error) {
      this.conversations.discard(user);
      return error;
    }
    if (before > 0) await this.conversationBackfill(thread.user, before);
    await this.markRead(thread.user);
    return null;
  }

  /** Older whispers of the open thread (paging back). */
  async earlierWhispers(): Promise<string | null> {
    const thread = this.conversations.current();
    const first = thread ? this.conversations.firstSeq(thread.user) : 0;
    if (!thread || first <= 1) return null;
    const answer = await this.request("conversation_history", { with: thread.user, beforeSeq: first, limit: 50 });
    if (!answer.ok) return describeError(answer.error);
    this.conversations.addPage(thread.user, answer.messages, answer.keys, this.me);
    if (answer.messages.length < 50) thread.allLoaded = true;
    return null;
  }

  /**
   * Encrypts under the conversation's key and sends, with an id: a lost answer or a stale key
   * (fetched again) is retried, and the server posts it once.
   */
  async whisper(to: string, text: string): Promise<string | null> {
    if (!this.conversations.hasKey(to)) {
      const error = await this.fetchConversation(to);
      if (error) return error;
    }
    const id = messageId();
    let answer: AckOf<"private_message"> = { ok: false, error: { code: ErrorCode.UNAVAILABLE, message: "" } };
    for (let attempt = 0; attempt < SEND_ATTEMPTS; attempt++) {
      const msg = this.conversations.encrypt(to, text);
      if (!msg) break;
      answer = await this.request("private_message", { to, msg, id });
      if (answer.ok) {
        const { conversationId, seq, ts, to: recipient } = answer;
        this.lobby.addPartners([recipient]);
        this.showWhisper({ conversationId, seq, ts, from: this.me, to: recipient, msg });
        return null;
      }
      if (answer.error.code === ErrorCode.STALE_KEY) await this.fetchConversation(to);
      else if (answer.error.code !== ErrorCode.UNAVAILABLE) break;
      await new Promise((resolve) => setTimeout(resolve, 300 * (attempt + 1)));
    }
    return describeError(answer.error);
  }

  /** Tells the room we are typing, at most every few seconds. */
  typing(): void {
    const now = Date.now();
    if (!this.room || now - this.lastTypingSignal < TYPING_SIGNAL_EVERY_MS) return;
    this.lastTypingSignal = now;
    this.socket.emit("typing", { roomId: this.room.id });
  }

  // ---- incoming --------------------------------------------------------------------------

  private listen(): void {
    const socket = this.socket;
    this.stopKeeping = keepConnected(socket, {
      state: (state) => (this.connection = state),
      connected: () => {
        this.connections += 1;
        this.expectLobby();
        void this.resumeRooms(this.connections);
        void this.loadConversations();
        this.everConnected = true;
      },
      sessionEnded: () => this.sessionEnded(),
      signedOut: (reason) => this.sessionEnded(reason),
    });
    // What is typed from now on waits until the room is rejoined on the next connection; a send
    // under way gets its answer as lost (Socket.IO ends pending acks on a disconnect).
    socket.on("disconnect", () => {
      for (const room of Object.values(this.rooms)) room.outbox.close();
      this.lobby.connectionLost();
    });
    socket.on("lobby", (snapshot) => this.lobbyArrived(snapshot));
    socket.on("lobby_update", (update) => this.lobby.applyUpdate(update));
    socket.on("lobby_counts", (counts) => this.lobby.applyCounts(counts));
    socket.on("member_joined", ({ roomId, username }) => this.inRoom(roomId)?.memberJoined(username));
    socket.on("member_left", ({ roomId, username, reason }) => {
      const room = this.inRoom(roomId);
      if (!room) return;
      // Membership is the user's, not the tab's: leaving in another tab takes this one out too.
      if (sameName(username, this.me)) this.sentToLobby(roomId, "room.youLeftElsewhere", { room: room.summary.name });
      else room.memberLeft(username, reason);
    });
    socket.on("member_presence", ({ roomId, username, online }) => this.inRoom(roomId)?.memberPresence(username, online));
    socket.on("room_key", ({ roomId, key }) => {
      const pending = this.pendingJoins.get(roomId);
      if (pending) pending.keys.push(key);
      else this.inRoom(roomId)?.addKey(key);
    });
    socket.on("message_edited", ({ roomId, seq, msg, editedAt }) => {
      this.pendingJoins.get(roomId)?.changes.push({ seq, msg, editedAt });
      this.inRoom(roomId)?.edited(seq, msg, editedAt);
    });
    socket.on("message_deleted", ({ roomId, seq }) => {
      this.pendingJoins.get(roomId)?.changes.push({ seq, deleted: true });
      this.inRoom(roomId)?.deleted(seq);
    });
    socket.on("history_cleared", ({ roomId, by }) => this.inRoom(roomId)?.clearMessages(by));
    socket.on("text", (message) => {
      this.pendingJoins.get(message.roomId)?.messages.push(message);
      const room = this.inRoom(message.roomId);
      if (!room) return;
      const last = room.lastSeq();
      const mentioned = room.receive(message, this.me);
      if (mentioned && !this.looksAt(room.id)) {
        const item = room.feed.find((entry) => entry.kind === "message" && entry.seq === message.seq);
        this.onAttention({ kind: "mention", roomId: room.id, room: room.summary.name, from: message.from, text: item?.kind === "message" ? item.text : null });
      }
      this.markRoomRead(room);
      // A skipped sequence number: fetch what is missing, from before the jump.
      if (last > 0 && message.seq > last + 1) void this.backfill(room, last);
    });
    socket.on("typing", ({ roomId, username }) => {
      if (!sameName(username, this.me)) this.inRoom(roomId)?.startTyping(username);
    });
    socket.on("ban_changed", ({ roomId, username, banned }) => this.inRoom(roomId)?.banChanged(username, banned));
    socket.on("kicked", ({ roomId, name, by }) => this.sentToLobby(roomId, "room.youWereKicked", { room: name, by }));
    socket.on("room_deleted", ({ roomId, name }) => this.sentToLobby(roomId, "room.deleted", { room: name }));
    socket.on("private_message", (whisper) => void this.whisperArrived(whisper));
    socket.on("conversation_read", ({ with: user, seq }) => this.conversations.read(user, seq));
  }

  /** The socket stays closed (no reconnecting with a dead session) until the user logs in again. */
  private sessionEnded(reason?: SignOutReason): void {
    if (this.ended) return;
    this.ended = true;
    this.close();
    this.onSessionEnded(reason);
  }

  private lobbyArrived(snapshot: LobbySnapshot): void {
    this.lobbyAt = Date.now();
    this.lobby.applySnapshot(snapshot);
  }

  /**
   * A node that cannot read the lobby when a socket connects (Redis busy or reconnecting) logs it
   * and sends nothing: ask once the snapshot is overdue, so the lobby is not left empty.
   */
  private expectLobby(): void {
    const connectedAt = Date.now();
    clearTimeout(this.lobbyCheck);
    this.lobbyCheck = setTimeout(async () => {
      if (this.lobbyAt >= connectedAt || !this.socket.connected) return;
      const answer = await this.request("lobby", {});
      if (answer.ok && this.lobbyAt < connectedAt) {
        const { ok: _ok, ...snapshot } = answer;
        this.lobbyArrived(snapshot);
      }
    }, LOBBY_WAIT_MS);
  }

  private inRoom(roomId: string): RoomSession | null {
    return this.rooms[roomId] ?? null;
  }

  /**
   * Joins the room on this connection (its messages arrive from now on) without showing it. The
   * server puts this socket in the room before it reads the history it answers with, so messages
   * (and a rotated key) can arrive before the answer: they are kept for the session.
   */
  private enter(roomId: string, password?: string, resume = false): Promise<string | null> {
    const under = this.pendingJoins.get(roomId);
    if (under) return under.done; // one join at a time per room: its early events go to one place
    const early: PendingJoin = { roomId, messages: [], keys: [], changes: [], done: Promise.resolve(null) };
    // Listed before the request goes: what the room sends from then on is kept for the session.
    this.pendingJoins.set(roomId, early);
    early.done = this.request("join_room", { roomId, ...(password ? { password } : {}), ...(resume ? { resume: true } : {}) }).then((answer) => {
      if (this.pendingJoins.get(roomId) === early) this.pendingJoins.delete(roomId);
      if (!answer.ok) return describeError(answer.error);
      if (this.rooms[roomId]) return null;
      const room = new RoomSession(answer.room, answer.members, answer.key, answer.history, answer.keys, this.me, readMarks.get(this.me, roomId));
      room.setBanned(answer.banned);
      room.setOnline(answer.online);
      for (const key of early.keys) room.addKey(key);
      for (const message of early.messages) room.receive(message, this.me);
      for (const change of early.changes) {
        if ("deleted" in change) room.deleted(change.seq);
        else room.edited(change.seq, change.msg, change.editedAt);
      }
      this.rooms = { ...this.rooms, [roomId]: room };
      this.lobby.joined(answer.room);
      if (this.socket.connected) this.openOutbox(room);
      return null;
    });
    return early.done;
  }

  private show(roomId: string): void {
    this.viewing = roomId;
    this.lobbyNotice = null;
    this.unsent = null;
    const room = this.rooms[roomId];
    if (!room) return;
    room.shown();
    this.markRoomRead(room);
  }

  /** Whether the room is shown in a visible page. */
  private looksAt(roomId: string): boolean {
    return this.viewing === roomId && this.visible;
  }

  /** The room is seen up to its last message, if it is shown in a visible page. */
  private markRoomRead(room: RoomSession): void {
    if (!this.looksAt(room.id)) return;
    const before = room.readSeq;
    const seq = room.markRead();
    if (seq > before) readMarks.set(this.me, room.id, seq);
  }

  /**
   * The user is out of the room: its outbox stops, and the messages it still held (never confirmed
   * as sent) are shown in the lobby, so none is lost unseen.
   */
  private dropRoom(roomId: string): RoomSession | null {
    const room = this.rooms[roomId];
    if (!room) return null;
    room.outbox.close();
    const { [roomId]: _gone, ...rest } = this.rooms;
    this.rooms = rest;
    if (this.viewing === roomId) this.viewing = null;
    const texts = room.outbox.items.map((message) => message.text);
    this.unsent = texts.length > 0 ? { room: room.summary.name, texts } : null;
    return room;
  }

  /**
   * At every connection: the rooms the user is a member of and this page is not in yet (after a
   * reload, or joined on another device) are joined, so their messages arrive and count unread.
   */
  private async resumeRooms(connection: number): Promise<void> {
    const live = () => this.connections === connection && this.socket.connected;
    // After a reconnect: back into the rooms held, the one shown first, spaced within the budget.
    if (this.everConnected) {
      const held = Object.values(this.rooms).sort((a, b) => Number(b.id === this.viewing) - Number(a.id === this.viewing));
      for (const room of held) {
        if (!live()) return;
        void this.rejoin(room, connection);
        await new Promise((resolve) => setTimeout(resolve, BACKGROUND_JOIN_SPACING_MS));
      }
    }
    if (!live()) return;
    const answer = await this.request("my_rooms", {});
    if (!answer.ok) return;
    for (const summary of answer.rooms) {
      if (!live()) return;
      if (this.rooms[summary.id] || this.pendingJoins.has(summary.id)) continue;
      // `resume`: back in as a member only, so a leave made meanwhile elsewhere is not undone.
      void this.enter(summary.id, undefined, true);
      await new Promise((resolve) => setTimeout(resolve, BACKGROUND_JOIN_SPACING_MS));
    }
  }

  /** The room is usable (connected, joined, caught up): its outbox sends what waits. */
  private openOutbox(room: RoomSession): void {
    const send: SendText = async (payload) => {
      const answer = await this.request("text", { roomId: room.id, ...payload });
      if (answer.ok) this.checkGapBefore(room, answer.seq);
      return answer;
    };
    room.outbox.open(send);
  }

  private sentToLobby(roomId: string, key: MessageKey, params: Record<string, string>): void {
    if (!this.dropRoom(roomId)) return;
    this.lobby.left(roomId);
    readMarks.forget(this.me, roomId);
    this.lobbyNotice = { key, params };
  }

  /** A whisper event (ours, echoed, or someone's): into its thread, and the room's feed. */
  private async whisperArrived(whisper: Whisper): Promise<void> {
    const incoming = !sameName(whisper.from, this.me);
    const peer = incoming ? whisper.from : whisper.to;
    // Followed by the server for this socket: whispers it sends, and a conversation's first one.
    if (!incoming || whisper.seq === 1) this.lobby.addPartners([peer]);
    // A thread never opened on this device: its key first (opening does not mark anything read).
    if (!this.conversations.hasKey(peer)) await this.fetchConversation(peer);
    this.showWhisper(whisper);
    if (incoming && this.conversations.isOpen(peer)) void this.markRead(peer);
    if (incoming && !(this.visible && this.conversations.isOpen(peer))) {
      this.onAttention({ kind: "whisper", from: whisper.from, text: this.conversations.line(peer, whisper.seq)?.text ?? null });
    }
  }

  /** Files a whisper in its thread, and shows it in the room's feed (once, by conversation and seq). */
  private showWhisper(whisper: Whisper): void {
    this.conversations.receive(whisper, this.me);
    const mine = sameName(whisper.from, this.me);
    const line = this.conversations.line(mine ? whisper.to : whisper.from, whisper.seq);
    if (line) this.room?.whisper(`${whisper.conversationId}#${whisper.seq}`, whisper.from, whisper.to, whisper.ts, line.text, line.incoming);
  }

  /** The panel's list with unread counts (on every connect: after a reload, or a reconnect). */
  private async loadConversations(): Promise<void> {
    const answer = await this.request("conversations", {});
    if (answer.ok) {
      this.conversations.load(answer.conversations);
    }
    const open = this.conversations.current();
    if (open) void this.openConversation(open.user); // a reconnect: what it missed, and read

  }

  /**
   * Keys, counts and latest whispers of the conversation with `user`. One request per peer at a
   * time: a burst of whispers from someone new must not fire one `open_conversation` each.
   */
  private fetchConversation(user: string): Promise<string | null> {
    const key = nameKey(user);
    let pending = this.conversationFetches.get(key);
    if (!pending) {
      pending = this.requestPatiently("open_conversation", { with: user })
        .then((answer) => {
          if (!answer.ok) return describeError(answer.error);
          this.conversations.opened(answer, this.me);
          return null;
        })
        .finally(() => this.conversationFetches.delete(key));
      this.conversationFetches.set(key, pending);
    }
    return pending;
  }

  /** Everything after `afterSeq` in the conversation (duplicates are dropped by seq). */
  private async conversationBackfill(user: string, afterSeq: number): Promise<void> {
    for (let page = 0; page < 10; page++) {
      const answer = await this.request("conversation_history", { with: user, afterSeq, limit: 200 });
      if (!answer.ok) return;
      this.conversations.addPage(user, answer.messages, answer.keys, this.me);
      if (answer.messages.length < 200) return;
      afterSeq = answer.messages.at(-1)!.seq;
    }
  }

  /** The open thread is read up to its last whisper, here and on every other device. */
  private async markRead(user: string): Promise<void> {
    const thread = this.conversations.current();
    if (!thread || !sameName(thread.user, user) || thread.lastSeq === 0) return;
    this.conversations.read(user, thread.lastSeq);
    await this.request("mark_read", { with: user, seq: thread.lastSeq });
  }

  /**
   * After a reconnect: back into the room we were in (membership survives a short outage), what
   * was missed, and only then the outbox. A passing failure (Redis, a busy node) is tried again;
   * a refusal (the room is gone, we are barred, a private room wants its password again) takes
   * us to the lobby. Stops when this connection drops: the next one starts over.
   */
  private async rejoin(room: RoomSession, connection: number): Promise<void> {
    const current = () => this.rooms[room.id] === room && this.connections === connection && this.socket.connected;
    const before = room.lastSeq();
    // `resume`: back in as a member only; a leave made meanwhile on another device stands.
    const answer = await this.requestPatiently("join_room", { roomId: room.id, resume: true }, current);
    if (!current()) return;
    if (answer.ok) {
      room.addKey(answer.key);
      room.setMembers(answer.members);
      room.setOnline(answer.online);
      room.setBanned(answer.banned);
      room.receiveHistory(answer.history, answer.keys, this.me);
      await this.backfill(room, before);
      // Pending messages that reached the room before the drop came back just now, in the
      // history, and left the outbox: what is still there was not posted.
      if (current()) this.openOutbox(room);
      return;
    }
    if (answer.error.code === ErrorCode.NOT_MEMBER) this.sentToLobby(room.id, "room.youLeftElsewhere", { room: room.summary.name });
    else this.sentToLobby(room.id, "room.rejoinFailed", { room: room.summary.name });
  }

  /**
   * Messages numbered before our own should arrive live (the room's messages come in seq order),
   * maybe just after our ack. Those still missing a moment later were lost on the way (say, while
   * the server's node re-subscribed to Redis): fetch them.
   */
  private checkGapBefore(room: RoomSession, seq: number): void {
    if (room.gapBefore(seq) === null) return;
    setTimeout(() => {
      const after = this.rooms[room.id] === room ? room.gapBefore(seq) : null;
      if (after !== null) void this.backfill(room, after);
    }, GAP_WAIT_MS);
  }

  /** Everything after `afterSeq` from the room's history (duplicates are dropped by seq). */
  private async backfill(room: RoomSession, afterSeq: number): Promise<void> {
    for (let page = 0; page < 10; page++) {
      const answer = await this.request("history", { roomId: room.id, afterSeq, limit: 200 });
      if (!answer.ok || this.rooms[room.id] !== room) return;
      room.receiveHistory(answer.messages, answer.keys, this.me);
      this.markRoomRead(room);
      if (answer.messages.length < 200) return;
      afterSeq = answer.messages.at(-1)!.seq;
    }
  }


  private async request<E extends keyof ClientToServerEvents>(
    event: E,
    payload: Parameters<ClientToServerEvents[E]>[0],
  ): Promise<AckOf<E>> {
    try {
      // Socket.IO's typed emitWithAck does not follow our per-event ack types; the protocol does.
      const timed = this.socket.timeout(ACK_TIMEOUT_MS) as unknown as { emitWithAck(event: E, payload: unknown): Promise<AckOf<E>> };
      return await timed.emitWithAck(event, payload);
    } catch {
      const error: ErrorBody = { code: ErrorCode.UNAVAILABLE, message: "no answer" };
      return { ok: false, error } as AckOf<E>;
    }
  }
}

type AckOf<E extends keyof ClientToServerEvents> =
  Parameters<ClientToServerEvents[E]>[1] extends ((answer: infer A) => void) | undefined ? (A extends Ack<infer _T> ? A : never) : never;
