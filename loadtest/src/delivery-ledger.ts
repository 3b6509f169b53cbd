/**
 * Counts lost and duplicated deliveries by sequence number. Senders record the seq of every
 * acknowledged message of a room; each receiver records the seqs it got. Lost: acknowledged seqs
 * a member never received (from its `since` on). Duplicated: a seq a receiver got twice. Seqs need
 * not be contiguous (the bare baseline numbers per node), only unique within a room.
 */
export class DeliveryLedger {
  private readonly acked = new Map<string, Set<number>>();
  private readonly received = new Map<string, Map<string, Set<number>>>();
  private readonly since = new Map<string, number>();
  duplicates = 0;
  deliveries = 0;

  /** `receiver` is a member of `roomId` and must get every message acknowledged from now on. */
  expect(receiver: string, roomId: string, fromSeq = 0): void {
    this.since.set(`${receiver}\n${roomId}`, fromSeq);
    this.roomReceipts(roomId).set(receiver, new Set());
  }

  acknowledged(roomId: string, seq: number): void {
    let seqs = this.acked.get(roomId);
    if (!seqs) this.acked.set(roomId, (seqs = new Set()));
    seqs.add(seq);
  }

  /** Returns false for a duplicate. */
  delivered(receiver: string, roomId: string, seq: number): boolean {
    const seqs = this.roomReceipts(roomId).get(receiver);
    if (!seqs) return true; // not a tracked member (e.g. joined after the count started)
    if (seqs.has(seq)) {
      this.duplicates++;
      return false;
    }
    seqs.add(seq);
    this.deliveries++;
    return true;
  }

  /** Acknowledged deliveries not (yet) received, over every tracked member. */
  missing(): number {
    return this.tally(true);
  }

  /** Acknowledged deliveries expected in all (each member × the acked messages from its start on). */
  expected(): number {
    return this.tally(false);
  }

  /** Forgets receipts (between load steps), keeping membership. */
  reset(): void {
    this.acked.clear();
    for (const receipts of this.received.values()) for (const got of receipts.values()) got.clear();
    this.duplicates = 0;
    this.deliveries = 0;
  }

  private roomReceipts(roomId: string): Map<string, Set<number>> {
    let receipts = this.received.get(roomId);
    if (!receipts) this.received.set(roomId, (receipts = new Map()));
    return receipts;
  }

  /** Counts, per tracked member, the acked seqs after its start (only those it lacks, if `onlyMissing`). */
  private tally(onlyMissing: boolean): number {
    let count = 0;
    for (const [roomId, receipts] of this.received) {
      const acked = this.acked.get(roomId);
      if (!acked) continue;
      for (const [receiver, got] of receipts) {
        const from = this.since.get(`${receiver}\n${roomId}`) ?? 0;
        if (from === 0 && !onlyMissing) count += acked.size; // the common case, polled while draining: O(1)
        else for (const seq of acked) if (seq > from && !(onlyMissing && got.has(seq))) count++;
      }
    }
    return count;
  }
}
