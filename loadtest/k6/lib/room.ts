/** Room chat's protocol steps: find or create a room by name, join it, send sealed messages into it. */
import { nameKey, type RoomKey } from "@sala/protocol";
import { sealPayload } from "../../src/chat-payload.js";
import type { SioClient } from "../../src/sio-client.js";
import { messageId, type ReceiverTally } from "./delivery.js";

/** How often a VU waiting for another's room searches the lobby for it. */
const SEARCH_EVERY_MS = 250;

/** The room named `name` (names compare as Sala compares them), searched by name in the lobby. */
async function findRoom(client: SioClient, name: string): Promise<string | undefined> {
  const page = await client.request("lobby_rooms", { prefix: name, limit: 1 }, 20_000);
  if (!page.ok) throw new Error(`lobby_rooms: ${page.error.code}`);
  return page.rooms.find((room) => nameKey(room.name) === nameKey(name))?.id;
}

/**
 * The id of the room `name`: this VU creates it when `create` (else, or on a rerun, waits for it,
 * searching the lobby by name: the lobby's first page shows only the most active rooms).
 */
export async function roomNamed(client: SioClient, name: string, create: boolean, waitMs: number): Promise<string> {
  if (create) {
    const created = await client.request("create_room", { name }, 20_000);
    if (created.ok) return created.room.id;
    if (created.error.code !== "ROOM_EXISTS") throw new Error(`create_room: ${created.error.code}`);
  }
  const deadline = Date.now() + waitMs;
  for (;;) {
    const id = await findRoom(client, name);
    if (id) return id;
    if (Date.now() >= deadline) throw new Error(`room "${name}" did not appear in the lobby within ${waitMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, SEARCH_EVERY_MS));
  }
}

export interface JoinedRoom {
  id: string;
  key: RoomKey;
}

/**
 * Joins, and starts the tally after the last seq the join's history shows (wire `text` into the
 * tally before joining). The room's key follows rotations.
 */
export async function joinRoom(client: SioClient, roomId: string, tally: ReceiverTally): Promise<JoinedRoom> {
  const joined = await client.request("join_room", { roomId }, 30_000);
  if (!joined.ok) throw new Error(`join_room: ${joined.error.code}`);
  const keys = new Map(joined.keys.map((key) => [key.id, key.key]));
  const room: JoinedRoom = { id: roomId, key: joined.key };
  client.on("room_key", (event) => {
    if (event.roomId !== roomId) return;
    keys.set(event.key.id, event.key.key);
    room.key = event.key;
  });
  tally.expect(roomId, joined.history[joined.history.length - 1]?.seq ?? 0, keys);
  return room;
}

export function sendText(client: SioClient, room: JoinedRoom, vu: number, n: number, sentAt: number) {
  return client.request("text", { roomId: room.id, msg: sealPayload({ sentAt, n }, room.id, room.key), id: messageId(vu, n) }, 10_000);
}
