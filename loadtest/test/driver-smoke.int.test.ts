/**
 * The CI smoke run of the load driver: small numbers, real parts (two Sala nodes on a real
 * redis-server, the bare baseline as a process), and a verdict of zero lost and zero duplicated
 * deliveries. Timings are printed by the benchmark, never asserted here.
 */
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it, inject } from "vitest";
import { startCluster, TEST_ORIGIN, type TestCluster } from "../../services/chat/test/support/cluster.js";
import { lobbyChurn } from "../src/scenarios/lobby-churn.js";
import { loginStorm, registerStorm } from "../src/scenarios/login-storm.js";
import { RoomChat } from "../src/scenarios/room-chat.js";
import { WhisperStorm } from "../src/scenarios/whisper-storm.js";
import type { LoadUser, Target } from "../src/target.js";
import { startBaseline, type BaselineProcess } from "../src/bench/baseline-process.js";

const CLI = fileURLToPath(new URL("../dist/driver/cli.js", import.meta.url));

let cluster: TestCluster;
let sala: Target;
let users: LoadUser[];

function runCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk));
    child.on("exit", (code) => resolve({ code, stdout, stderr }));
  });
}

beforeAll(async () => {
  cluster = await startCluster(2, inject("redisUrl"), { SOCKET_EVENTS_PER_SEC: "200" });
  sala = { kind: "sala", urls: cluster.nodes.map((n) => n.url), origin: TEST_ORIGIN };
  const names = Array.from({ length: 24 }, (_, i) => `smoke${cluster.prefix.slice(-6)}${i}`);
  const registered = await registerStorm(sala, names, 8);
  expect(registered.errors).toBe(0);
  const login = await loginStorm(sala, names, 8);
  expect(login.result.errors).toBe(0);
  users = login.users;
  expect(users).toHaveLength(24);
}, 60_000);
afterAll(async () => {
  await cluster?.close();
});

describe("load driver smoke run against two Sala nodes", () => {
  it("room chat: every acknowledged message reaches every member of its room once, across nodes", async () => {
    const chat = await RoomChat.open(sala, users, 3, `smoke${Date.now() % 1000}-`);
    try {
      expect(chat.sockets).toBe(24);
      const result = await chat.step(60, 2);
      expect(result).toMatchObject({ sent: 120, acked: 120, failed: 0, lost: 0, duplicates: 0 });
      expect(result.expected).toBe(120 * 8); // 8 members per room, the sender included
      expect(result.deliveries).toBe(result.expected);
      expect(result.ackRtt.count).toBe(120);
      expect(result.deliveryLatency.count).toBe(result.deliveries); // every delivery decrypted to its send time
    } finally {
      await chat.close();
    }
  });

  it("whisper storm: every acknowledged whisper reaches both participants once, sealed under their conversation key", async () => {
    const storm = await WhisperStorm.open(sala, users.slice(0, 10));
    try {
      const result = await storm.run(50, 2);
      expect(result).toMatchObject({ sent: 100, acked: 100, failed: 0, received: 200, lost: 0, duplicates: 0 });
      expect(result.deliveryLatency.count).toBe(200); // each one decrypted to its send time
    } finally {
      await storm.close();
    }
  });

  it("lobby churn: sockets come and go, each gets its lobby snapshot", async () => {
    const result = await lobbyChurn(sala, users.slice(0, 8), 1.5, 8);
    expect(result.errors).toBe(0);
    expect(result.cycles).toBeGreaterThan(8);
    expect(result.snapshotLatency.count).toBe(result.cycles);
  });

  it("the CLI prints progress and a verdict, and exits 0 when nothing was lost", async () => {
    const run = await runCli(["room-chat", "--url", sala.urls.join(","), "--origin", TEST_ORIGIN, "--users", "12", "--rooms", "2", "--rate", "40", "--seconds", "2"]);
    expect(run.stderr).toContain("connecting 12 users to 2 rooms");
    expect(run.stdout).toMatch(/sent 80, acked 80, failed 0/);
    expect(run.stdout).toMatch(/lost 0, duplicated 0/);
    expect(run.code).toBe(0);
  });

  it("the CLI exits 1 when the thresholds fail (here: nobody can log in through a wrong origin)", async () => {
    const run = await runCli(["login-storm", "--url", sala.urls[0]!, "--origin", "http://evil.example", "--users", "2"]);
    expect(run.stdout).toMatch(/logged in 0\/2/);
    expect(run.code).toBe(1);
  });
});

describe("load driver smoke run against the bare baseline", () => {
  let baseline: BaselineProcess;
  beforeAll(async () => {
    baseline = await startBaseline({});
  });
  afterAll(async () => {
    await baseline?.stop();
  });

  it("relays the same room chat with no loss", async () => {
    const target: Target = { kind: "baseline", urls: [baseline.url], origin: TEST_ORIGIN };
    const chat = await RoomChat.open(target, users.map((u) => ({ username: u.username, cookie: null })), 3, "base-");
    try {
      const result = await chat.step(60, 1);
      expect(result).toMatchObject({ sent: 60, acked: 60, failed: 0, lost: 0, duplicates: 0, deliveries: 60 * 8 });
    } finally {
      await chat.close();
    }
  });
});
