import type { FastifyReply } from "fastify";
import type { ErrorBody } from "@sala/protocol";
import { httpStatusOf } from "../errors.js";

/** Every HTTP error leaves as `{ ok: false, error: { code, message } }` with a matching status. */
export function sendError(reply: FastifyReply, error: ErrorBody): FastifyReply {
  if (error.retryAfterMs !== undefined) reply.header("retry-after", Math.ceil(error.retryAfterMs / 1000));
  return reply.code(httpStatusOf(error.code)).send({ ok: false, error });
}
