import { createServer, type Server } from "node:http";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { ErrorCode } from "@sala/protocol";
import { sendError } from "../http/replies.js";
import { sessionAccess } from "../http/session-access.js";
import type { UserStore } from "../stores/types.js";
import type { NodeMetrics } from "./metrics.js";

export type Access = "anonymous" | "forbidden" | "admin";

/**
 * Whether the request's session belongs to an admin: the account and its role are read from the
 * user store on every request, so a grant, a revoke or a lock (`npm run admin`) applies to the next one.
 */
export async function adminAccess(request: FastifyRequest, users: UserStore, absoluteMs: number): Promise<Access> {
  const access = await sessionAccess(request.raw, users, absoluteMs);
  if (!access || access.mustChangePassword) return "anonymous";
  return access.account.admin ? "admin" : "forbidden";
}

/** GET /metrics on the main port, for admins' sessions only. */
export async function metricsRoute(app: FastifyInstance, options: { metrics: NodeMetrics; access: (request: FastifyRequest) => Promise<Access> }): Promise<void> {
  app.get("/metrics", async (request, reply) => {
    const access = await options.access(request);
    if (access === "anonymous") return sendError(reply, { code: ErrorCode.UNAUTHORIZED, message: "Log in as an admin" });
    if (access === "forbidden") return sendError(reply, { code: ErrorCode.FORBIDDEN, message: "Admins only" });
    const { contentType, body } = await options.metrics.exposition();
    return reply.type(contentType).send(body);
  });
}

/**
 * /metrics without a session on a separate port (METRICS_PORT), for a Prometheus server on the
 * private network; keep that port unreachable from outside.
 */
export async function startMetricsListener(metrics: NodeMetrics, host: string, port: number): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.method !== "GET" || req.url !== "/metrics") {
      res.writeHead(404).end();
      return;
    }
    metrics.exposition().then(
      ({ contentType, body }) => res.writeHead(200, { "content-type": contentType }).end(body),
      () => res.writeHead(500).end(),
    );
  });
  await new Promise<void>((resolve, reject) => server.once("error", reject).listen(port, host, () => resolve()));
  return server;
}
