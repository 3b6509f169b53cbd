import { describe, expect, it } from "vitest";
import { MessageType } from "socket.io-adapter";
import { ANNOUNCER_UID, roomAnnouncer } from "../src/realtime/room-announcer.js";

const message = { roomId: "abcdefghijklmnop", keyId: 3, from: "Ana", ts: 1_764_000_000_000, msg: "v1.3.ciphertext", clientId: "m1" };

describe("roomAnnouncer", () => {
  it("frames a broadcast of `text` to the room, in the sharded adapter's format, on the room's channel", () => {
    const { channel, head, tail } = roomAnnouncer("sala")(message);
    expect(channel).toBe("sala:sio#/#{room:abcdefghijklmnop}#");
    expect(JSON.parse(`${head}42${tail}`)).toEqual({
      uid: ANNOUNCER_UID,
      nsp: "/",
      type: MessageType.BROADCAST,
      data: {
        opts: { rooms: ["{room:abcdefghijklmnop}"], except: [], flags: {} },
        packet: { type: 2, nsp: "/", data: ["text", { roomId: message.roomId, seq: 42, from: "Ana", ts: message.ts, msg: message.msg }] },
      },
    });
  });

  it("splits at the seq field itself, whatever the sender's text holds", () => {
    const tricky = { ...message, from: 'x"seq":-1', msg: '"seq":-1,\\"seq\\":-1' };
    const { head, tail } = roomAnnouncer("p")(tricky);
    const payload = JSON.parse(`${head}7${tail}`).data.packet.data[1];
    expect(payload).toEqual({ roomId: message.roomId, seq: 7, from: tricky.from, ts: message.ts, msg: tricky.msg });
  });

  it("never lets a node's adapter take the announcement for its own broadcast", () => {
    // ClusterAdapter ignores messages carrying its own uid; node uids are random hex.
    expect(ANNOUNCER_UID).not.toMatch(/^[0-9a-f]+$/);
  });
});
