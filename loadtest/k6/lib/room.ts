/** Room chat's protocol steps: find or create a room by name, join it, send sealed messages into it. */
import { LobbyState, type RoomKey } from "@sala/protocol";
import { sealPayload } from "../../src/chat-payload.js";
import { settle } from "../../src/pacer.js";
import type { SioClient } from "../../src/sio-client.js";
import { messageId, type ReceiverTally } from "./delivery.js";

/** The lobby as this VU's socket sees it, from the connect on (give `follow` to openSocket). */
export class LobbyRooms {
  private readonly state = new LobbyState();

  readonly follow = (client: SioClient): void => {
    client.on("lobby", (snapshot) => this.state.applySnapshot(snapshot));
    client.on("lobby_update", (update) => this.state.applyUpdate(update));
  };

  /** Room names compare regardless of case, as Sala compares them. */
  find(name: string): string | undefined {
    const wanted = name.toLowerCase();
    return this.state.roomList().find((room) => room.name.toLowerCase() === wanted)?.id;
  }
}

/** The id of the room `name`: this VU creates it when `create` (else, or on a rerun, waits for it in the lobby). */
export async function roomNamed(client: SioClient, lobby: LobbyRooms, name: string, create: boolean, waitMs: number): Promise<string> {
  if (create) {
    const created = await client.request("create_room", { name }, 20_000);
    if (created.ok) return created.room.id;
    if (created.error.code !== "ROOM_EXISTS") throw new Error(`create_room: ${created.error.code}`);
  }
  await settle(() => lobby.find(name) !== undefined, waitMs);
  const id = lobby.find(name);
  if (!id) throw new Error(`room "${name}" did not appear in the lobby within ${waitMs} ms`);
  return id;
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
