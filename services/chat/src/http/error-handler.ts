import type { FastifyError, FastifyInstance } from "fastify";
import { ErrorCode, type ErrorBody } from "@sala/protocol";
import { toErrorBody } from "../errors.js";
import { sendError } from "./replies.js";

/** Client mistakes Fastify itself detects, mapped to Sala's error shape. */
function clientError(error: FastifyError): ErrorBody | null {
  if (error.validation) return { code: ErrorCode.BAD_REQUEST, message: `Invalid request: ${error.message}` };
  switch (error.code) {
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
      return { code: ErrorCode.BAD_REQUEST, message: "Send a JSON body (Content-Type: application/json)" };
    case "FST_ERR_CTP_BODY_TOO_LARGE":
      return { code: ErrorCode.BAD_REQUEST, message: "Request body too large" };
    case "FST_ERR_CTP_EMPTY_JSON_BODY":
    case "FST_ERR_CTP_INVALID_JSON_BODY":
      return { code: ErrorCode.BAD_REQUEST, message: "The body is not valid JSON" };
  }
  if (error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500) {
    return { code: ErrorCode.BAD_REQUEST, message: "Bad request" };
  }
  return null;
}

/** One place turns every failure into `{ ok: false, error }`; 5xx details stay in the log. */
export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    const body = clientError(error) ?? toErrorBody(error);
    if (body.code === ErrorCode.INTERNAL || body.code === ErrorCode.UNAVAILABLE) {
      request.log.error({ event: "request_failed", err: error }, "request failed");
    }
    const status = error.statusCode === 413 ? 413 : error.statusCode === 415 ? 415 : undefined;
    if (status) return reply.code(status).send({ ok: false, error: body });
    return sendError(reply, body);
  });
  app.setNotFoundHandler((_request, reply) => sendError(reply, { code: ErrorCode.NOT_FOUND, message: "Not found" }));
}
