import { ErrorCode } from "@sala/protocol";
import { AppError } from "../errors.js";
import type { RoomStore } from "../stores/types.js";

/**
 * Runs `read` (anything that hands out a room's keys or messages) for a member, and answers it
 * only if the user is still a member once it is done, by the store's word (not the socket's
 * rooms, so every node agrees). A kick that lands while it runs makes it NOT_MEMBER instead of
 * handing the kicked user messages or the key minted after them: whatever `read` saw was read
 * while they were a member, or they were let back in by the time it ended.
 */
export async function readAsMember<T>(rooms: RoomStore, roomId: string, username: string, read: () => Promise<T>): Promise<T> {
  const result = await read();
  if (!(await rooms.isMember(roomId, username))) throw new AppError(ErrorCode.NOT_MEMBER, "Join the room first");
  return result;
}
