/**
 * The chat's URLs: what the page shows is in its address, so a reload, back and forward, and a
 * shared link come back to it. `/` is the lobby, `/r/<roomId>` a room, `/dm/<username>` a
 * conversation (shown beside the lobby).
 */
export type ChatRoute = { page: "lobby" } | { page: "room"; roomId: string } | { page: "dm"; user: string };

/** Room ids are base64url; usernames letters, digits and `_ . -` (USERNAME_PATTERN). Anything else is the lobby. */
const ROOM_PATH = /^\/r\/([A-Za-z0-9_-]{1,64})\/?$/;
const DM_PATH = /^\/dm\/([A-Za-z0-9][A-Za-z0-9_.-]{0,63})\/?$/;

export function parseRoute(path: string): ChatRoute {
  const room = ROOM_PATH.exec(path);
  if (room) return { page: "room", roomId: room[1]! };
  const dm = DM_PATH.exec(path);
  if (dm) return { page: "dm", user: dm[1]! };
  return { page: "lobby" };
}

export function routePath(route: ChatRoute): string {
  switch (route.page) {
    case "room":
      return `/r/${encodeURIComponent(route.roomId)}`;
    case "dm":
      return `/dm/${encodeURIComponent(route.user)}`;
    default:
      return "/";
  }
}

/** Whether `path` is one of the chat's own addresses (the rest of the app's are not the chat's to handle). */
export function isChatPath(path: string): boolean {
  return path === "/" || ROOM_PATH.test(path) || DM_PATH.test(path);
}
