/**
 * The id of the 1-to-1 conversation between two users: `dm:<a>:<b>`, the two case-folded names
 * sorted. Usernames cannot contain ":", so the id is unambiguous. It is the scope that a whisper
 * envelope's MAC binds (like a room id for room messages), so a whisper cannot be replayed into
 * another conversation.
 */
export function conversationId(userA: string, userB: string): string {
  const [first, second] = [fold(userA), fold(userB)].sort();
  return `dm:${first}:${second}`;
}

function fold(name: string): string {
  return name.normalize("NFC").toLowerCase();
}
