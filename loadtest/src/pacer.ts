/**
 * Open-loop pacing: calls `send(i)` for i = 0..total-1 at `perSec` on average, from a 2 ms timer
 * that catches up after a stall (so a slow server cannot slow the offered load down, which would
 * hide its latency), and `report(elapsedSec)` about once a second. Resolves when all were sent.
 */
export function pace(perSec: number, total: number, send: (i: number) => void, report?: (elapsedSec: number) => void): Promise<void> {
  const start = Date.now();
  let sent = 0;
  let lastReport = start;
  return new Promise((resolve) => {
    const timer = setInterval(() => {
      const now = Date.now();
      const due = Math.min(total, Math.floor(((now - start) / 1000) * perSec));
      while (sent < due) send(sent++);
      if (report && now - lastReport >= 1000) {
        lastReport = now;
        report((now - start) / 1000);
      }
      if (sent >= total) {
        clearInterval(timer);
        resolve();
      }
    }, 2);
  });
}

/** Polls until `done()` or `timeoutMs` has passed. */
export async function settle(done: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
}
