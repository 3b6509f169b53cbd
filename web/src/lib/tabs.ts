/**
 * The WAI-ARIA tabs pattern's keys: which tab Left/Right (wrapping), Home and End move to from tab
 * `at` of `count`; -1 for any other key.
 */
export function tabKeyTarget(key: string, at: number, count: number): number {
  switch (key) {
    case "ArrowRight":
      return (at + 1) % count;
    case "ArrowLeft":
      return (at - 1 + count) % count;
    case "Home":
      return 0;
    case "End":
      return count - 1;
    default:
      return -1;
  }
}
