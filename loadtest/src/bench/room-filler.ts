/**
 * Real rooms for the lobby bench, made the way users make them: a few owners, each a logged-in
 * socket, create rooms over `create_room` and stay online (a room's owner is its first member, so
 * every room shows one member), and every tenth room gets a second member (another owner joins it).
 * The owners count among the bench's online users. The nodes need MAX_ROOMS_PER_USER=0 and a high
 * ROOM_CREATIONS_PER_USER for this.
 */
import type { SioClient } from "../sio-client.js";
import { connect, inPool, type LoadUser, type Target } from "../target.js";

export class RoomFiller {
  private roomIds: string[] = [];

  private constructor(readonly owners: SioClient[]) {}

  /** Connects the owners (round-robin over the target's nodes). */
  static async open(target: Target, owners: LoadUser[]): Promise<RoomFiller> {
    const clients: SioClient[] = [];
    try {
      await inPool(owners, 10, async (user, i) => {
        clients.push(await connect(target, user, target.urls[i % target.urls.length]!));
      });
    } catch (error) {
      await Promise.all(clients.map((client) => client.close()));
      throw error;
    }
    return new RoomFiller(clients);
  }

  get rooms(): number {
    return this.roomIds.length;
  }

  /** Creates rooms until there are `total`, named `<prefix><n>`; `onProgress` with the count so far. */
  async fill(total: number, prefix: string, onProgress?: (rooms: number) => void): Promise<void> {
    const numbers = Array.from({ length: Math.max(0, total - this.roomIds.length) }, (_, i) => this.roomIds.length + i);
    await inPool(numbers, this.owners.length * 2, async (n) => {
      const owner = this.owners[n % this.owners.length]!;
      const created = await owner.request("create_room", { name: `${prefix}${n}` }, 30_000);
      if (!created.ok) throw new Error(`create_room ${prefix}${n}: ${created.error.code} ${created.error.message}`);
      this.roomIds.push(created.room.id);
      if (n % 10 === 0) {
        const guest = this.owners[(n + 1) % this.owners.length]!;
        const joined = await guest.request("join_room", { roomId: created.room.id }, 30_000);
        if (!joined.ok) throw new Error(`join_room: ${joined.error.code}`);
      }
      if (this.roomIds.length % 200 === 0) onProgress?.(this.roomIds.length);
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.owners.map((client) => client.close()));
  }
}
