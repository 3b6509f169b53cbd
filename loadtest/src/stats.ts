/** Latency samples and their percentiles; environment-free (Node driver and k6 alike). */
export class Samples {
  private values: number[] = [];
  private sorted = true;

  add(value: number): void {
    this.values.push(value);
    this.sorted = false;
  }

  /** Adds every sample of `other` (pooling measurements of the same thing). */
  addAll(other: Samples): void {
    for (const value of other.values) this.values.push(value);
    this.sorted = false;
  }

  get count(): number {
    return this.values.length;
  }

  /** Nearest-rank percentile (p in 0..100); NaN when empty. */
  percentile(p: number): number {
    if (this.values.length === 0) return Number.NaN;
    if (!this.sorted) {
      this.values.sort((a, b) => a - b);
      this.sorted = true;
    }
    const rank = Math.min(this.values.length, Math.max(1, Math.ceil((p / 100) * this.values.length)));
    return this.values[rank - 1]!;
  }

  max(): number {
    return this.percentile(100);
  }

  clear(): void {
    this.values = [];
    this.sorted = true;
  }
}

/** `n` with at most `digits` decimals, for reports. */
export function round(n: number, digits = 1): number {
  const scale = 10 ** digits;
  return Math.round(n * scale) / scale;
}
