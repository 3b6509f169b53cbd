import type { FastifyInstance } from "fastify";
import { ErrorCode } from "@sala/protocol";

export interface HealthDeps {
  nodeId: string;
  /** Resolves when shared state answers (always, in embedded mode). */
  pingSharedState(): Promise<void>;
  isDraining(): boolean;
}

/** /healthz: the process is up. /readyz: it can serve (Redis answers and it is not draining). */
export async function healthRoutes(app: FastifyInstance, deps: HealthDeps): Promise<void> {
  app.get("/healthz", async () => ({ ok: true, node: deps.nodeId }));

  app.get("/readyz", async (_request, reply) => {
    const notReady = (message: string) =>
      reply.code(503).send({ ok: false, node: deps.nodeId, error: { code: ErrorCode.UNAVAILABLE, message } });
    if (deps.isDraining()) return notReady("draining");
    try {
      await deps.pingSharedState();
    } catch {
      return notReady("Redis unreachable");
    }
    return { ok: true, node: deps.nodeId };
  });
}
