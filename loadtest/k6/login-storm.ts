/**
 * Login storm: RATE password logins a second for DURATION, spread over USERS accounts (each VU
 * registers its account before its first login). Every login is one argon2id verification.
 *
 *   k6 run -e BASE_URL=http://localhost:8080 -e RATE=70 -e DURATION=1m loadtest/dist/k6/login-storm.js
 */
import { Trend } from "k6/metrics";
import type { Options } from "k6/options";
import { ALL_CHECKS, latencyThresholds, positive, text, vuIndex, type RunData } from "./lib/config.js";
import { checked, loginUser, registerUser } from "./lib/session.js";

export { setup } from "./lib/config.js";

const loginTime = new Trend("sala_login", true);
const USERS = positive("USERS", 100);

export const options: Options = {
  scenarios: {
    login_storm: { executor: "constant-arrival-rate", rate: positive("RATE", 50), timeUnit: "1s", duration: text("DURATION", "30s"), preAllocatedVUs: USERS, maxVUs: USERS },
  },
  thresholds: { ...latencyThresholds("sala_login", "LOGIN", 500, 1000), ...ALL_CHECKS },
};

let registered = false;

export default async function (data: RunData): Promise<void> {
  const username = `${data.prefix}${vuIndex()}`;
  registered ||= (await checked("registered", () => registerUser(username))) !== null;
  if (!registered) return;
  const started = Date.now();
  if (await checked("logged in", () => loginUser(username))) loginTime.add(Date.now() - started);
}
