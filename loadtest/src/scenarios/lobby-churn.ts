/**
 * Lobby churn: users connect, wait for their lobby snapshot, and disconnect, over and over, which
 * is what page loads and flaky mobile networks do to a chat server: presence changes broadcast to
 * everyone, sockets come and go.
 */
import { Samples } from "../stats.js";
import { connect, type LoadUser, type Target } from "../target.js";

export interface ChurnResult {
  cycles: number;
  seconds: number;
  perSec: number;
  errors: number;
  /** Connect until the lobby snapshot arrived (ms). */
  snapshotLatency: Samples;
}

export async function lobbyChurn(target: Target, users: LoadUser[], seconds: number, concurrency = 50): Promise<ChurnResult> {
  const snapshotLatency = new Samples();
  let cycles = 0;
  let errors = 0;
  const start = Date.now();
  const deadline = start + seconds * 1000;
  const worker = async (w: number) => {
    for (let i = w; Date.now() < deadline; i += concurrency) {
      const user = users[i % users.length]!;
      const t0 = Date.now();
      try {
        // Sala sends the snapshot right after the connect; the baseline has no lobby, so its cycle ends at the connect.
        let snapshot: Promise<unknown> = Promise.resolve();
        const client = await connect(target, user, target.urls[i % target.urls.length]!, {
          prepare: (c) => {
            if (target.kind !== "sala") return;
            snapshot = c.next("lobby", () => true, 10_000);
            snapshot.catch(() => undefined); // a refused attempt's wait must not become an unhandled rejection
          },
        });
        await snapshot;
        snapshotLatency.add(Date.now() - t0);
        await client.close();
        cycles++;
      } catch {
        errors++;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, (_, w) => worker(w)));
  const elapsed = (Date.now() - start) / 1000;
  return { cycles, seconds: elapsed, perSec: cycles / elapsed, errors, snapshotLatency };
}
