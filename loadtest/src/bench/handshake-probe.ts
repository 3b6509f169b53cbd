/**
 * Fresh handshakes, timed one at a time while the bench's users are online: a user who was not
 * online opens a socket (the real handshake with cookie and Origin), and the clock stops at the
 * first `lobby` event, the snapshot, whose size is noted; then the socket closes. One at a time,
 * so the figure is a handshake's own latency, not a queue's.
 */
import { Samples } from "../stats.js";
import type { LoadUser } from "../target.js";
import { LeanSocket } from "./lean-socket.js";

export interface ProbeResult {
  /** Upgrade request → first `lobby` event (ms). */
  toLobby: Samples;
  /** The snapshot's payload size (bytes). */
  snapshotBytes: Samples;
  errors: number;
  errorSamples: string[];
}

export async function probeHandshakes(users: LoadUser[], urls: string[], origin: string, timeoutMs = 30_000): Promise<ProbeResult> {
  const result: ProbeResult = { toLobby: new Samples(), snapshotBytes: new Samples(), errors: 0, errorSamples: [] };
  for (const [i, user] of users.entries()) {
    const socket = new LeanSocket({ url: urls[i % urls.length]!, cookie: user.cookie, origin, connectTimeoutMs: timeoutMs });
    try {
      await socket.connected;
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error("no lobby event")), timeoutMs)));
      await Promise.race([socket.lobby, late]).finally(() => clearTimeout(timer));
      result.toLobby.add(socket.lobbyAt - socket.startedAt);
      result.snapshotBytes.add(socket.lobbyBytes);
    } catch (error) {
      result.errors++;
      if (result.errorSamples.length < 3) result.errorSamples.push((error as Error).message);
    } finally {
      await socket.close();
    }
  }
  return result;
}
