/**
 * Room chat: USERS VUs in ROOMS rooms (VU i in room i mod ROOMS; the room's first VU creates it),
 * together sending RATE encrypted messages a second for DURATION. Measures the send→ack round
 * trip and the delivery latency (from the send time sealed inside each message), and counts lost
 * and duplicated deliveries per receiver by seq. Settings: lib/config.ts and lib/delivery.ts.
 *
 *   k6 run -e BASE_URL=http://localhost:8080 -e USERS=200 -e ROOMS=20 -e RATE=200 loadtest/dist/k6/room-chat.js
 */
import { positive, vuIndex, type RunData } from "./lib/config.js";
import { chat, chatOptions, ReceiverTally, sendPaced } from "./lib/delivery.js";
import { joinRoom, roomNamed, sendText } from "./lib/room.js";
import { checked, openSocket, signIn } from "./lib/session.js";

export { setup } from "./lib/config.js";

const ROOMS = positive("ROOMS", 10);

export const options = chatOptions("room_chat");

export default async function (data: RunData): Promise<void> {
  const vu = vuIndex();
  const user = await signIn(`${data.prefix}${vu}`);
  if (!user) return;
  const tally = new ReceiverTally();
  const client = await checked("connected", () =>
    openSocket(user, (c) => {
      c.on("text", (message) => tally.delivered(message.roomId, message.seq, message.msg));
    }),
  );
  if (!client) return;
  const room = await checked("in room", async () => {
    const roomId = await roomNamed(client, `${data.prefix}room-${vu % ROOMS}`, vu < ROOMS, chat.waitMs);
    return joinRoom(client, roomId, tally);
  });
  if (room) await tally.finish(room.id, await sendPaced((n, sentAt) => sendText(client, room, vu, n, sentAt)));
  await client.close();
}
