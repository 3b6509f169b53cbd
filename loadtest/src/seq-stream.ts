/**
 * One room's messages as a client application sees them: merged by per-room `seq`, handed on in
 * order, each exactly once, whether it came live or from a `history` backfill. Messages that skip
 * ahead wait until the gap before them is filled; anything already held is dropped (and counted).
 * Environment-free (Node driver and k6 alike).
 */
export type Arrival = "live" | "backfill";

export class SeqStream {
  /** The last `seq` of the contiguous run 1..lastSeq that has been handed on. */
  lastSeq = 0;
  /** Every `seq` handed on, in the order it was: 1, 2, 3, … when all is well. */
  readonly delivered: number[] = [];
  /** Distinct messages by how they first arrived. */
  live = 0;
  backfilled = 0;
  /** Copies dropped because the `seq` was already held (a live echo of a backfilled one, …). */
  duplicates = 0;
  private readonly ahead = new Set<number>();

  /** Takes a message; false when it is a duplicate. */
  offer(seq: number, arrival: Arrival): boolean {
    if (seq <= this.lastSeq || this.ahead.has(seq)) {
      this.duplicates++;
      return false;
    }
    if (arrival === "live") this.live++;
    else this.backfilled++;
    this.ahead.add(seq);
    while (this.ahead.delete(this.lastSeq + 1)) this.delivered.push(++this.lastSeq);
    return true;
  }

  /** Messages held beyond a gap (waiting for the ones before them). */
  get waiting(): number {
    return this.ahead.size;
  }
}
