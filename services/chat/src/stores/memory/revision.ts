/**
 * The lobby revision counter shared by the room and presence stores. Kept in shared memory so the
 * embedded SQLite node's store thread (stores/sqlite/thread) and its event loop count on one
 * counter: rooms change there, presence here.
 */
export class Revision {
  private readonly counter: BigInt64Array;

  constructor(readonly buffer: SharedArrayBuffer = new SharedArrayBuffer(8)) {
    this.counter = new BigInt64Array(buffer);
  }

  next(): number {
    return Number(Atomics.add(this.counter, 0, 1n) + 1n);
  }

  current(): number {
    return Number(Atomics.load(this.counter, 0));
  }
}
