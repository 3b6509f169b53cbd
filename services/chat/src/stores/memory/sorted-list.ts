/**
 * Items kept in order by `compare`, for the embedded lobby's indexes (the memory counterpart of a
 * Redis sorted set): insertion, removal and seeking by binary search, so that a page costs
 * O(log n + page) and no request sorts every user or room.
 */
export class SortedList<T> {
  private readonly items: T[] = [];

  constructor(private readonly compare: (a: T, b: T) => number) {}

  get size(): number {
    return this.items.length;
  }

  /** Adds `item`; one that compares equal is replaced. */
  add(item: T): void {
    const at = this.firstNotBefore(item);
    if (at < this.items.length && this.compare(this.items[at]!, item) === 0) this.items[at] = item;
    else this.items.splice(at, 0, item);
  }

  /** Removes the item that compares equal to `item`; false when there is none. */
  delete(item: T): boolean {
    const at = this.firstNotBefore(item);
    if (at >= this.items.length || this.compare(this.items[at]!, item) !== 0) return false;
    this.items.splice(at, 1);
    return true;
  }

  at(index: number): T | undefined {
    return this.items[index];
  }

  /** Up to `count` items from `index` on. */
  slice(index: number, count: number): T[] {
    return this.items.slice(index, index + count);
  }

  /** The position of the first item that does not come before `probe` (items.length if none). */
  firstNotBefore(probe: T): number {
    let low = 0;
    let high = this.items.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.compare(this.items[middle]!, probe) < 0) low = middle + 1;
      else high = middle;
    }
    return low;
  }
}
