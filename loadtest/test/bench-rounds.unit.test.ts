/** How the benchmark combines interleaved rounds into the rows and verdicts it reports. */
import { describe, expect, it } from "vitest";
import type { ChatRow } from "../src/bench/phases.js";
import { cpuPerInRound, verdicts, type BenchResults } from "../src/bench/results.js";
import { combineRounds, median } from "../src/bench/rounds.js";
import type { ChatStepResult } from "../src/scenarios/room-chat.js";
import { Samples } from "../src/stats.js";

function samples(values: number[]): Samples {
  const s = new Samples();
  for (const v of values) s.add(v);
  return s;
}

/** One round's row of a step: `acked` messages, 4 deliveries each, `cpu` µs per message, a fifth of it Redis' (none on bare, 1 node). */
function row(system: string, rate: number, cpu: number, acks: number[], extra: Partial<ChatStepResult> = {}): ChatRow {
  const acked = acks.length;
  const redisUsPerMessage = system === "bare, 1 node" ? null : cpu / 5;
  const result: ChatStepResult = {
    messagesPerSec: rate,
    seconds: 4,
    sent: acked,
    acked,
    failed: 0,
    errors: {},
    deliveries: acked * 4,
    expected: acked * 4,
    lost: 0,
    duplicates: 0,
    ackRtt: samples(acks),
    deliveryLatency: samples(acks.map((a) => a + 1)),
    ...extra,
  };
  return {
    system,
    messagesPerSec: rate,
    deliveriesPerSec: result.deliveries / result.seconds,
    cpuUsPerDelivery: cpu / 4,
    cpuUsPerMessage: cpu,
    redisUsPerMessage,
    switchesPerMessage: cpu / 500,
    serverCpuPercent: cpu / 10,
    generatorCpuPercent: 50,
    result,
    rounds: [
      { cpuUsPerDelivery: cpu / 4, cpuUsPerMessage: cpu, redisUsPerMessage, switchesPerMessage: cpu / 500, acked, deliveries: acked * 4, ackP99: result.ackRtt.percentile(99), deliveryP99: result.deliveryLatency.percentile(99), driverStallMs: 5, serverStallMs: null },
    ],
  };
}

/** A run that measured only the small-room steps given. */
function resultsOfSmallRooms(rows: ChatRow[]): BenchResults {
  return {
    date: "",
    machine: "",
    pinning: "load generator pinned to core 1, servers and Redis to core 0",
    quick: false,
    users: 4,
    login: { logins: 0, perSec: 0, errors: 0, latencyP50: 0, latencyP99: 0, loopP99Max: 0, loopP99Median: 0 },
    argon2: { perSec: 0, cores: 2 },
    registrationsPerSec: 0,
    bigRoom: { members: 4, rows: [] },
    smallRooms: { rooms: 1, members: 4, rows },
    idle: [],
    churn: [],
    whisper: [],
  };
}

describe("bench rounds", () => {
  it("takes the middle value, or the mean of the two middle ones", () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeNaN();
  });

  it("combines each system's step over the rounds: median CPU, pooled latencies, summed counts", () => {
    const rounds = [
      [row("Sala, 2 nodes", 500, 500, [1, 2]), row("bare, 1 node", 500, 200, [1])],
      // the second round runs the systems in the other order, and one of its Sala steps was disturbed
      [row("bare, 1 node", 500, 210, [3]), row("Sala, 2 nodes", 500, 900, [50, 60], { lost: 1, errors: { timeout: 2 } })],
      [row("Sala, 2 nodes", 500, 520, [4]), row("bare, 1 node", 500, 190, [2])],
    ];
    const combined = combineRounds(rounds);
    expect(combined.map((r) => r.system)).toEqual(["Sala, 2 nodes", "bare, 1 node"]);
    const sala = combined[0]!;
    expect(sala.cpuUsPerMessage).toBe(520);
    expect(sala.cpuUsPerDelivery).toBe(130);
    // Redis' share is the median of its own rounds (100, 180, 104), and stays absent where there is no Redis
    expect(sala.redisUsPerMessage).toBe(104);
    expect(combined[1]!.redisUsPerMessage).toBeNull();
    expect(sala.switchesPerMessage).toBeCloseTo(520 / 500);
    expect(sala.result.acked).toBe(5);
    expect(sala.result.deliveries).toBe(20);
    expect(sala.result.seconds).toBe(12);
    expect(sala.deliveriesPerSec).toBeCloseTo(20 / 12);
    expect(sala.result.lost).toBe(1);
    expect(sala.result.errors).toEqual({ timeout: 2 });
    expect(sala.result.ackRtt.count).toBe(5);
    expect(sala.result.ackRtt.max()).toBe(60);
    expect(sala.rounds.map((r) => r.cpuUsPerMessage)).toEqual([500, 900, 520]);
    expect(cpuPerInRound(combined, "Sala, 2 nodes", "message", 1)).toBe(900);
    expect(cpuPerInRound(combined, "bare, 1 node", "message", 1)).toBe(210);
  });

  it("judges the CPU ratio on the medians and shows every round's ratio beside it", () => {
    const bare2 = (cpu: number) => row("bare, 2 nodes + adapter", 500, cpu, [1]);
    const rounds = [
      [row("Sala, 2 nodes", 500, 500, [1]), row("bare, 1 node", 500, 200, [1]), bare2(450)],
      [bare2(440), row("bare, 1 node", 500, 100, [1]), row("Sala, 2 nodes", 500, 600, [1])],
      [row("Sala, 2 nodes", 500, 480, [1]), row("bare, 1 node", 500, 210, [1]), bare2(460)],
    ];
    const small = verdicts(resultsOfSmallRooms(combineRounds(rounds))).find((v) => v.target.startsWith("CPU per broadcast"))!;
    // medians 500 vs 200: 2.50×, met; the disturbed bare round (6.00×) shows but does not decide
    expect(small.met).toBe(true);
    // and what the adapter alone costs in the same run is shown beside it
    expect(small.figure).toBe(
      "500 µs vs 200 µs = 2.50× (medians of 3 interleaved rounds; per round 2.50 / 6.00 / 2.29×); bare on 2 nodes with the adapter: 2.25× bare single node, Sala 1.11× that",
    );
  });

  it("shows each round's ack p99 beside the longest event-loop stalls of Sala's nodes and of the driver", () => {
    const sala = (ackMs: number, serverStallMs: number, driverStallMs: number) => {
      const step = row("Sala, 2 nodes", 2000, 400, [1, ackMs]);
      step.rounds = [{ ...step.rounds[0]!, serverStallMs, driverStallMs }];
      return step;
    };
    const bare1 = row("bare, 1 node", 2000, 200, [1, 10]);
    const bare2 = row("bare, 2 nodes + adapter", 2000, 300, [1, 20]);
    const ack = verdicts(resultsOfSmallRooms(combineRounds([[sala(55, 12, 8), bare1, bare2], [bare2, bare1, sala(1741, 1650, 9)]]))).find((v) =>
      v.target.startsWith("send→ack"),
    )!;
    expect(ack.met).toBe(false);
    expect(ack.figure).toContain(
      "(all rounds' samples; per round 55 / 1741 ms; longest event-loop stall per round: Sala's nodes 12 / 1650 ms, the driver 8 / 9 ms); bare at the same step: 1 node 10 ms, 2 nodes with the adapter 20 ms",
    );
    // both baselines kept within 25 ms here: nothing says the machine could not
    expect(ack.figure).not.toContain("as well");
  });

  it("says when the bare baselines miss a latency target at the same step too", () => {
    const results = resultsOfSmallRooms([]);
    results.bigRoom = {
      members: 1000,
      rows: [
        row("Sala, 2 nodes", 50, 20, [150]),
        row("bare, 1 node", 50, 15, [90]),
        row("bare, 2 nodes + adapter", 50, 16, [140]),
        // another step's bare row must not be taken for this one
        row("bare, 1 node", 25, 15, [5]),
      ],
    };
    const p99 = verdicts(results).find((v) => v.target.startsWith("p99 delivery"))!;
    expect(p99.met).toBe(false);
    // delivery latency in these rows is the ack time + 1 ms
    expect(p99.figure).toContain("151 ms at");
    expect(p99.figure).toMatch(/; bare at the same step: 1 node 91 ms, 2 nodes with the adapter 141 ms; bare above 100 ms as well$/);
  });

  it("leaves a single run's row as it was", () => {
    const single = row("Sala, 1 node", 100, 300, [1, 2, 3]);
    expect(combineRounds([[single]])).toEqual([single]);
  });
});
