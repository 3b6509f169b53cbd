/**
 * What asks for the user's attention in a room: messages of others they have not seen (counted per
 * room, remembered per device across reloads) and those that mention them by `@name`.
 */

/** Whether `text` mentions `username` as `@username` (any case), not as part of a longer name. */
export function mentions(text: string | null, username: string): boolean {
  if (!text || !username) return false;
  const escaped = username.replace(/[.*+?^${}()|[\]\\-]/g, "\\$&");
  return new RegExp(`(^|[^A-Za-z0-9_.@-])@${escaped}(?![A-Za-z0-9_-]|\\.[A-Za-z0-9_-])`, "i").test(text);
}

const markKey = (me: string, roomId: string) => `sala:read:${me.toLowerCase()}:${roomId}`;

/**
 * The last message seq the user saw in each room, on this device (localStorage: a reload or a new
 * tab starts from it; another device has its own). Storage that is full or refused is ignored.
 */
export const readMarks = {
  get(me: string, roomId: string): number {
    try {
      return Number(localStorage.getItem(markKey(me, roomId))) || 0;
    } catch {
      return 0;
    }
  },
  set(me: string, roomId: string, seq: number): void {
    try {
      localStorage.setItem(markKey(me, roomId), String(seq));
    } catch {
      // Private mode or full storage: the count starts over at the next reload.
    }
  },
  forget(me: string, roomId: string): void {
    try {
      localStorage.removeItem(markKey(me, roomId));
    } catch {
      // As above.
    }
  },
};
