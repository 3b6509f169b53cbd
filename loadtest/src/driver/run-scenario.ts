/**
 * One scenario run from start to verdict: sign the users in, run, print a summary, and say
 * whether the thresholds held (exit code 0) or not (1). Shared by the CLI and the smoke test.
 */
import { lobbyChurn } from "../scenarios/lobby-churn.js";
import { loginStorm, registerStorm } from "../scenarios/login-storm.js";
import { chatSummary, ms } from "../scenarios/report.js";
import { RoomChat } from "../scenarios/room-chat.js";
import { WhisperStorm, whisperSummary } from "../scenarios/whisper-storm.js";
import { round } from "../stats.js";
import type { LoadUser, Target } from "../target.js";
import type { ProgressLine } from "./progress.js";

export const SCENARIOS = ["login-storm", "lobby-churn", "room-chat", "whisper-storm"] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

export interface ScenarioOptions {
  users: number;
  rooms: number;
  rate: number;
  seconds: number;
  concurrency: number;
  /** Usernames are `<prefix><i>`. */
  prefix: string;
  progress: ProgressLine;
  print(line: string): void;
}

async function signIn(target: Target, o: ScenarioOptions): Promise<{ users: LoadUser[]; loginLine: string; ok: boolean }> {
  const names = Array.from({ length: o.users }, (_, i) => `${o.prefix}${i}`);
  if (target.kind === "baseline") return { users: names.map((username) => ({ username, cookie: null })), loginLine: "baseline: no accounts", ok: true };
  o.progress.phase(`registering ${names.length} users…`);
  const registered = await registerStorm(target, names, o.concurrency);
  o.progress.phase(`logging ${names.length} users in…`);
  const { result, users } = await loginStorm(target, names, o.concurrency);
  o.progress.done();
  const line =
    `registered ${names.length - registered.errors}/${names.length} (${round(registered.perSec)}/s), ` +
    `logged in ${users.length}/${names.length} (${round(result.perSec)}/s, p50 ${ms(result.latency, 50)} ms, p99 ${ms(result.latency, 99)} ms)`;
  return { users, loginLine: line, ok: registered.errors === 0 && result.errors === 0 };
}

export async function runScenario(name: ScenarioName, target: Target, o: ScenarioOptions): Promise<number> {
  const { users, loginLine, ok: signedIn } = await signIn(target, o);
  o.print(`[${name}] ${loginLine}`);
  if (!signedIn) return 1;
  switch (name) {
    case "login-storm":
      return 0;
    case "lobby-churn": {
      o.progress.phase(`lobby churn for ${o.seconds} s…`);
      const r = await lobbyChurn(target, users, o.seconds, Math.min(o.concurrency, users.length));
      o.progress.done();
      o.print(`[lobby-churn] ${r.cycles} connect→lobby→disconnect cycles (${round(r.perSec)}/s), errors ${r.errors}, snapshot ms p50 ${ms(r.snapshotLatency, 50)} p99 ${ms(r.snapshotLatency, 99)}`);
      return r.errors === 0 && r.cycles > 0 ? 0 : 1;
    }
    case "room-chat": {
      o.progress.phase(`connecting ${users.length} users to ${o.rooms} rooms…`);
      const chat = await RoomChat.open(target, users, o.rooms, o.prefix);
      const r = await chat.step(o.rate, o.seconds, (p) =>
        o.progress.update(`[room-chat] ${round(p.elapsedSec)} s · ${chat.sockets} sockets · sent ${p.sent} · acked ${p.acked} · deliveries ${p.deliveries} · ack p99 ${round(p.ackP99)} ms`),
      );
      o.progress.done();
      await chat.close();
      o.print(`[room-chat] ${chatSummary(r)}`);
      return r.lost === 0 && r.duplicates === 0 && r.failed === 0 && r.acked > 0 ? 0 : 1;
    }
    case "whisper-storm": {
      o.progress.phase(`connecting ${users.length} users…`);
      const storm = await WhisperStorm.open(target, users);
      const r = await storm.run(o.rate, o.seconds, (p) =>
        o.progress.update(`[whisper-storm] ${round(p.elapsedSec)} s · sent ${p.sent} · acked ${p.acked} · received ${p.received}`),
      );
      o.progress.done();
      await storm.close();
      o.print(`[whisper-storm] ${whisperSummary(r)}`);
      return r.lost === 0 && r.duplicates === 0 && r.failed === 0 && r.acked > 0 ? 0 : 1;
    }
  }
}
