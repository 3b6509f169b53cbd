import { readFile } from "node:fs/promises";
import type { FastifyError, FastifyInstance, FastifyRequest } from "fastify";
import { ErrorCode, type ErrorBody } from "@sala/protocol";
import { toErrorBody } from "../errors.js";
import { sendError } from "./replies.js";

/**
 * The page a browser gets for an unknown path: the web client's index.html (it shows "page not
 * found"), once web-client.ts has found a build to serve. Shared through the root instance, since
 * only the root may answer 404s for every path (a plugin without a prefix cannot set its own).
 */
export interface NotFoundPage {
  file: string | null;
}

declare module "fastify" {
  interface FastifyInstance {
    notFoundPage: NotFoundPage;
  }
}

/** Paths of the API and of machinery: a miss there stays a JSON 404 whoever asks. */
const NOT_PAGES = ["/socket.io", "/admin/api", "/account", "/assets", "/metrics", "/healthz", "/readyz", "/session", "/register", "/logout"];

/** A browser navigating (GET, asking for HTML) to a path that is not the API's. */
function wantsPage(request: FastifyRequest): boolean {
  if (request.method !== "GET" || !(request.headers.accept ?? "").includes("text/html")) return false;
  const path = request.url.split("?", 1)[0]!;
  return !NOT_PAGES.some((prefix) => path === prefix || path.startsWith(`${prefix}/`));
}

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
  const notFoundPage: NotFoundPage = { file: null };
  app.decorate("notFoundPage", notFoundPage);
  app.setErrorHandler((error: FastifyError, request, reply) => {
    const body = clientError(error) ?? toErrorBody(error);
    if (body.code === ErrorCode.INTERNAL || body.code === ErrorCode.UNAVAILABLE) {
      request.log.error({ event: "request_failed", err: error }, "request failed");
    }
    const status = error.statusCode === 413 ? 413 : error.statusCode === 415 ? 415 : undefined;
    if (status) return reply.code(status).send({ ok: false, error: body });
    return sendError(reply, body);
  });
  app.setNotFoundHandler(async (request, reply) => {
    if (notFoundPage.file && wantsPage(request)) {
      try {
        const page = await readFile(notFoundPage.file);
        return reply.code(404).type("text/html; charset=utf-8").header("cache-control", "no-cache").send(page);
      } catch (error) {
        // The build went away under a running node: the JSON answer still says "not found".
        request.log.warn({ event: "not_found_page_failed", err: (error as Error).message }, "could not read the not-found page");
      }
    }
    return sendError(reply, { code: ErrorCode.NOT_FOUND, message: "Not found" });
  });
}
