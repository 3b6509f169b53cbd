/**
 * Lobby churn: USERS VUs, each signed in once, connect, wait for the lobby snapshot and disconnect,
 * over and over for DURATION: page loads and flaky networks, with the presence broadcasts they cause.
 *
 *   k6 run -e BASE_URL=http://localhost:8080 -e USERS=200 -e DURATION=1m loadtest/dist/k6/lobby-churn.js
 */
import { sleep } from "k6";
import { Trend } from "k6/metrics";
import type { Options } from "k6/options";
import { ALL_CHECKS, latencyThresholds, positive, text, vuIndex, type RunData } from "./lib/config.js";
import { checked, openSocket, signIn, type SignedIn } from "./lib/session.js";

export { setup } from "./lib/config.js";

const snapshotTime = new Trend("sala_lobby_snapshot", true);

export const options: Options = {
  scenarios: { lobby_churn: { executor: "constant-vus", vus: positive("USERS", 50), duration: text("DURATION", "30s") } },
  thresholds: { ...latencyThresholds("sala_lobby_snapshot", "SNAPSHOT", 250, 500), ...ALL_CHECKS },
};

let user: SignedIn | null = null;

export default async function (data: RunData): Promise<void> {
  const signedIn = (user ??= await signIn(`${data.prefix}${vuIndex()}`));
  if (!signedIn) return sleep(1); // not a tight loop of failing logins
  const started = Date.now();
  let snapshot: Promise<unknown> = Promise.resolve();
  const client = await checked("connected", () =>
    openSocket(signedIn, (c) => {
      snapshot = c.next("lobby", () => true, 10_000);
      snapshot.catch(() => undefined); // a refused attempt's wait is not an unhandled rejection
    }),
  );
  if (!client) return;
  if (await checked("lobby snapshot", () => snapshot)) snapshotTime.add(Date.now() - started);
  await client.close();
}
