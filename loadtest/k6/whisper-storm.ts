/**
 * Whisper storm: USERS VUs in pairs (VU 2k whispers with VU 2k+1), together sending RATE
 * encrypted whispers a second for DURATION; measured and counted like room chat (each whisper by
 * its recipient). The whisper-specific steps are all in lib/whisper.ts.
 *
 *   k6 run -e BASE_URL=http://localhost:8080 -e USERS=200 -e RATE=200 loadtest/dist/k6/whisper-storm.js
 */
import { vuIndex, type RunData } from "./lib/config.js";
import { chat, chatOptions, ReceiverTally, sendPaced } from "./lib/delivery.js";
import { checked, openSocket, signIn } from "./lib/session.js";
import { followWhispers, openConversation, sendWhisper } from "./lib/whisper.js";

export { setup } from "./lib/config.js";

export const options = chatOptions("whisper_storm");

export default async function (data: RunData): Promise<void> {
  const vu = vuIndex();
  if ((vu ^ 1) >= chat.users) return; // an odd USERS leaves the last VU without a partner
  const [me, partner] = [`${data.prefix}${vu}`, `${data.prefix}${vu ^ 1}`];
  const user = await signIn(me);
  if (!user) return;
  const tally = new ReceiverTally();
  const client = await checked("connected", () => openSocket(user, (c) => followWhispers(c, me, tally)));
  if (!client) return;
  const conversation = await checked("conversation open", () => openConversation(client, partner, tally, chat.waitMs));
  if (conversation) {
    const acked = await sendPaced((n, sentAt) => sendWhisper(client, partner, conversation, vu, n, sentAt));
    await tally.finish(conversation.id, acked, false);
  }
  await client.close();
}
