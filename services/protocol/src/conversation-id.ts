import { nameKey } from "./names.js";

/**
 * The id of the 1-to-1 conversation between two users: `dm:<a>:<b>`, the two case-folded names
 * sorted. Usernames cannot contain ":", so the id is unambiguous. It is the scope that a whisper
 * envelope's MAC binds (like a room id for room messages), so a whisper cannot be replayed into
 * another conversation.
 */
export function conversationId(userA: string, userB: string): string {
  const [first, second] = [nameKey(userA), nameKey(userB)].sort();
  return `dm:${first}:${second}`;
}

/** The other participant's name key in conversation `id` (`me`'s own, for a conversation with oneself); null: not a conversation id. */
export function partnerIn(id: string, me: string): string | null {
  const [tag, first, second, ...rest] = id.split(":");
  if (tag !== "dm" || first === undefined || second === undefined || rest.length > 0) return null;
  return first === nameKey(me) ? second : first;
}
