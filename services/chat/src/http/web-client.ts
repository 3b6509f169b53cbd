import { existsSync } from "node:fs";
import { join } from "node:path";
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { Access } from "../observability/routes.js";
import fastifyStatic from "@fastify/static";
import { placeholderPage } from "./placeholder.js";

/**
 * The client-side routes of the single-page app; each serves index.html: the lobby, the login
 * page, a room and a conversation. Any other path a browser navigates to gets index.html with
 * status 404, and the app says "page not found" (error-handler.ts).
 */
export const APP_ROUTES = ["/", "/login", "/r/:roomId", "/dm/:user"];

/**
 * Serves the built web client (web/dist) from every node, so the page, the account API and the
 * socket share one origin and the session cookie just works. Hashed assets are cached for good;
 * the HTML is always revalidated. Without a build, a placeholder page says how to make one.
 */
export interface WebClientOptions {
  webDir: string;
  /**
   * SPA routes only some users may open: anonymous → the login page, which comes back here once
   * logged in (`?next=`); others get the page with status 403, and the page itself says it is for
   * admins (its API refuses them every call).
   */
  guarded: Record<string, (request: FastifyRequest) => Promise<Access>>;
}

export async function webClient(app: FastifyInstance, options: WebClientOptions): Promise<void> {
  const indexFile = join(options.webDir, "index.html");
  if (!existsSync(indexFile)) {
    app.log.warn({ event: "web_client_missing", webDir: options.webDir }, "web client not built; serving a placeholder at /");
    await app.register(placeholderPage);
    return;
  }
  await app.register(fastifyStatic, {
    root: options.webDir,
    index: false,
    wildcard: true,
    cacheControl: false,
    setHeaders: (res, path) => {
      res.setHeader("cache-control", path.includes("/assets/") ? "public, max-age=31536000, immutable" : "no-cache");
    },
  });
  app.notFoundPage.file = indexFile;
  for (const route of APP_ROUTES) {
    app.get(route, (_request, reply) => reply.sendFile("index.html"));
  }
  for (const [route, access] of Object.entries(options.guarded)) {
    app.get(route, async (request, reply) => {
      const allowed = await access(request);
      // `route` is one of ours, a fixed path: the login page checks `next` all the same.
      if (allowed === "anonymous") return reply.redirect(`/login?next=${route}`);
      // The status says it to scripts and tests; @fastify/static keeps a status set before sendFile.
      if (allowed === "forbidden") return reply.code(403).sendFile("index.html");
      return reply.sendFile("index.html");
    });
  }
}
