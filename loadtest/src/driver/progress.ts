/**
 * The driver's progress line: rewritten in place on a terminal, one line every few seconds
 * otherwise (CI logs), always on stderr so stdout keeps only the results.
 */
export class ProgressLine {
  private lastPrinted = 0;
  private pending = false;

  constructor(
    private readonly stream: NodeJS.WriteStream = process.stderr,
    private readonly plainEveryMs = 5000,
  ) {}

  update(text: string): void {
    if (this.stream.isTTY) {
      this.stream.write(`\r\x1b[K${text}`);
      this.pending = true;
    } else if (Date.now() - this.lastPrinted >= this.plainEveryMs) {
      this.lastPrinted = Date.now();
      this.stream.write(`${text}\n`);
    }
  }

  /** A new phase ("connecting 200 users…"): always shown, on a line of its own. */
  phase(text: string): void {
    this.done();
    this.stream.write(`${text}\n`);
    this.lastPrinted = Date.now();
  }

  /** Ends the in-place line (if any) so the next output starts on a fresh line. */
  done(): void {
    if (this.pending) this.stream.write("\n");
    this.pending = false;
  }
}
