import { ErrorCode } from "@sala/protocol";
import { AppError } from "../errors.js";

/**
 * Who is waiting for a hash, in the order the queue serves them: account work (logins,
 * registrations) before room passwords, so a flood of private-room creations or joins never
 * stands between a user and their login.
 */
export const HASH_LANES = ["account", "room"] as const;
export type HashLane = (typeof HASH_LANES)[number];

/** Hashes one caller (a user) may have waiting or running in a lane, on one node. */
export const HASHES_PER_CALLER = 4;

/** The waiting room's default size: this many hashes per slot (about half a second of work). */
const WAITING_PER_SLOT = 32;

export function defaultHashQueueMax(concurrency: number): number {
  return WAITING_PER_SLOT * concurrency;
}

/** What a hash cost at first, before any has been timed (ms). */
const FIRST_ESTIMATE_MS = 20;
/** The least wait a BUSY answer suggests (ms): sooner would most likely meet a full queue again. */
const MIN_RETRY_MS = 100;

interface Job {
  run: () => Promise<unknown>;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
  caller: string | undefined;
}

/**
 * A bounded, prioritised queue for password hashing: at most `concurrency` hashes run at once,
 * and each lane keeps at most `queueMax` waiting. A hash that would wait beyond that is refused at
 * once with BUSY and a retry estimate, rather than queued behind seconds of work: nothing waits
 * unboundedly, and nobody's request hangs. A caller named with its work (a user) may have at most
 * HASHES_PER_CALLER of it waiting or running in a lane, so one user cannot fill a lane alone.
 */
export class HashQueue {
  private running = 0;
  private readonly waiting: Record<HashLane, Job[]> = { account: [], room: [] };
  /** `<lane>:<caller>` → that caller's hashes waiting or running in that lane. */
  private readonly perCaller = new Map<string, number>();
  /** A moving average of how long one hash takes (ms), for the BUSY answer's retry estimate. */
  private averageMs = FIRST_ESTIMATE_MS;

  constructor(
    readonly concurrency: number,
    readonly queueMax: number = defaultHashQueueMax(concurrency),
    private readonly onRefused: (lane: HashLane) => void = () => {},
  ) {
    if (!(concurrency >= 1) || !(queueMax >= 0)) throw new RangeError("HashQueue: concurrency ≥ 1 and queueMax ≥ 0");
  }

  /** Runs `work` in `lane` when a slot is free; rejects at once with BUSY when the lane is full. */
  run<T>(lane: HashLane, work: () => Promise<T>, caller?: string): Promise<T> {
    const callerKey = caller === undefined ? undefined : `${lane}:${caller}`;
    if (callerKey !== undefined && (this.perCaller.get(callerKey) ?? 0) >= HASHES_PER_CALLER) {
      return Promise.reject(this.busy(lane, "You have too many password checks in progress; try again shortly"));
    }
    const canStart = this.running < this.concurrency && this.nothingWaitingBefore(lane);
    if (!canStart && this.waiting[lane].length >= this.queueMax) {
      return Promise.reject(this.busy(lane, "Sala is busy checking passwords; try again shortly"));
    }
    if (callerKey !== undefined) this.perCaller.set(callerKey, (this.perCaller.get(callerKey) ?? 0) + 1);
    return new Promise<T>((resolve, reject) => {
      this.waiting[lane].push({ run: work, resolve: resolve as (value: unknown) => void, reject, caller: callerKey });
      this.startWaiting();
    });
  }

  /** Hashes waiting in every lane (for tests and metrics). */
  get waitingCount(): number {
    return HASH_LANES.reduce((sum, lane) => sum + this.waiting[lane].length, 0);
  }

  private nothingWaitingBefore(lane: HashLane): boolean {
    for (const other of HASH_LANES) {
      if (this.waiting[other].length > 0) return false;
      if (other === lane) return true;
    }
    return true;
  }

  private startWaiting(): void {
    while (this.running < this.concurrency) {
      const job = this.nextJob();
      if (!job) return;
      this.start(job);
    }
  }

  private nextJob(): Job | undefined {
    for (const lane of HASH_LANES) {
      const job = this.waiting[lane].shift();
      if (job) return job;
    }
    return undefined;
  }

  private start(job: Job): void {
    this.running += 1;
    const started = performance.now();
    let outcome: Promise<unknown>;
    try {
      outcome = job.run();
    } catch (error) {
      outcome = Promise.reject(error);
    }
    // The slot is given back before the caller hears the outcome: a caller that hashes again at
    // once (a login's rehash) then finds it free rather than a full queue.
    outcome.then(
      (value) => {
        this.finished(job, started);
        job.resolve(value);
      },
      (error: unknown) => {
        this.finished(job, started);
        job.reject(error);
      },
    );
  }

  private finished(job: Job, started: number): void {
    this.averageMs = 0.8 * this.averageMs + 0.2 * (performance.now() - started);
    this.running -= 1;
    if (job.caller !== undefined) {
      const left = (this.perCaller.get(job.caller) ?? 1) - 1;
      if (left > 0) this.perCaller.set(job.caller, left);
      else this.perCaller.delete(job.caller);
    }
    this.startWaiting();
  }

  /** BUSY, with how long the work now ahead of `lane` should take to clear. */
  private busy(lane: HashLane, message: string): AppError {
    this.onRefused(lane);
    let ahead = this.running;
    for (const other of HASH_LANES) {
      ahead += this.waiting[other].length;
      if (other === lane) break;
    }
    const retryAfterMs = Math.max(MIN_RETRY_MS, Math.ceil((ahead * this.averageMs) / this.concurrency));
    return new AppError(ErrorCode.BUSY, message, retryAfterMs);
  }
}
