/**
 * Shares one read among the callers that ask for it at about the same time. A burst of handshakes
 * each wanting the lobby snapshot then costs one read of the online users and rooms (decoding a
 * thousand names is the dearest part of a handshake at 1,000 online users), not one per socket
 * (docs/BENCHMARKS.md).
 *
 * A caller never gets an answer read before it asked: a read already under way when it asks may
 * have started before the caller's own change (a socket joins the lobby room, then asks), and an
 * older answer could miss an update the caller will not be sent either. Such a caller waits for
 * the next read, which serves everyone who queued for it. So at most one read is in flight and
 * one more is waited for.
 *
 * `spacingMs` keeps reads at least that far apart (monotonic clock): under a burst, each read
 * then serves every caller of its interval; a lone caller after a quiet spell is served at once.
 */
export function sharedRead<T>(read: () => Promise<T>, spacingMs = 0): () => Promise<T> {
  let current: Promise<T> | null = null;
  let next: Promise<T> | null = null;
  let lastStart = Number.NEGATIVE_INFINITY;

  const start = (): Promise<T> => {
    lastStart = performance.now();
    const running = read().finally(() => {
      if (current === running) current = null;
    });
    current = running;
    return running;
  };
  const settled = (promise: Promise<unknown> | null) => (promise ?? Promise.resolve()).then(
    () => undefined,
    () => undefined,
  );
  const spacing = () => {
    const wait = lastStart + spacingMs - performance.now();
    return wait > 0 ? new Promise((resolve) => setTimeout(resolve, wait)) : undefined;
  };

  return () => {
    if (next) return next;
    if (!current && performance.now() - lastStart >= spacingMs) return start();
    next = settled(current)
      .then(spacing)
      .then(() => {
        next = null;
        return start();
      });
    return next;
  };
}
