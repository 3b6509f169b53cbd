import type { FastifyInstance } from "fastify";
import { ErrorCode } from "@sala/protocol";

/**
 * How long /readyz waits for shared state. Load balancers and kubelets want an answer within
 * 500 ms; a frozen Redis never answers, and the command timeout (2 s) is far longer than that.
 * A healthy Redis answers a PING in well under a millisecond.
 */
export const READY_CHECK_TIMEOUT_MS = 250;

export interface HealthDeps {
  nodeId: string;
  /** Resolves when shared state answers (embedded: unless the SQLite store thread is gone). */
  pingSharedState(): Promise<void>;
  isDraining(): boolean;
  /** Default READY_CHECK_TIMEOUT_MS. */
  readyTimeoutMs?: number;
}

/** /healthz: the process is up. /readyz: it can serve (Redis answers and it is not draining). */
export async function healthRoutes(app: FastifyInstance, deps: HealthDeps): Promise<void> {
  const timeoutMs = deps.readyTimeoutMs ?? READY_CHECK_TIMEOUT_MS;
  app.get("/healthz", async () => ({ ok: true, node: deps.nodeId }));

  app.get("/readyz", async (_request, reply) => {
    const notReady = (message: string) =>
      reply.code(503).send({ ok: false, node: deps.nodeId, error: { code: ErrorCode.UNAVAILABLE, message } });
    if (deps.isDraining()) return notReady("draining");
    if (!(await answersWithin(deps.pingSharedState(), timeoutMs))) return notReady("the store does not answer (Redis, or the embedded node's SQLite thread)");
    return { ok: true, node: deps.nodeId };
  });
}

/** True when `check` resolves within `ms`; false when it rejects or takes longer (its late outcome is ignored). */
function answersWithin(check: Promise<void>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  const answered = check.then(
    () => true,
    () => false,
  );
  return Promise.race([answered, late]).finally(() => clearTimeout(timer));
}
