/**
 * Everything whisper-specific of the whisper storm, in one place so a change to whispers touches
 * only this file. Written against services/protocol/src/events.ts as it stands: `open_conversation`
 * gives the conversation's id (the envelope scope), its key and its latest seq; a whisper is an
 * envelope under that key, numbered by a per-conversation seq like a room's, and delivered to both
 * participants.
 */
import type { RoomKey } from "@sala/protocol";
import { sealPayload } from "../../src/chat-payload.js";
import type { SioClient } from "../../src/sio-client.js";
import { messageId, type ReceiverTally } from "./delivery.js";

export interface Conversation {
  id: string;
  key: RoomKey;
}

/** Feeds the partner's whispers to the tally (ours come back too; the partner's tally counts those). */
export function followWhispers(client: SioClient, me: string, tally: ReceiverTally): void {
  client.on("private_message", (whisper) => {
    if (whisper.from !== me) tally.delivered(whisper.conversationId, whisper.seq, whisper.msg);
  });
}

/** Opens the conversation with `partner`, retrying while the partner's VU has not registered yet. */
export async function openConversation(client: SioClient, partner: string, tally: ReceiverTally, waitMs: number): Promise<Conversation> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const opened = await client.request("open_conversation", { with: partner }, 20_000);
    if (opened.ok) {
      tally.expect(opened.conversation.id, opened.conversation.lastSeq, new Map(opened.keys.map((key) => [key.id, key.key])));
      return { id: opened.conversation.id, key: opened.key };
    }
    if (opened.error.code !== "USER_NOT_FOUND" || Date.now() > deadline) throw new Error(`open_conversation: ${opened.error.code}`);
    await new Promise((resolve) => setTimeout(() => resolve(undefined), 500));
  }
}

export function sendWhisper(client: SioClient, to: string, conversation: Conversation, vu: number, n: number, sentAt: number) {
  return client.request("private_message", { to, msg: sealPayload({ sentAt, n }, conversation.id, conversation.key), id: messageId(vu, n) }, 10_000);
}
