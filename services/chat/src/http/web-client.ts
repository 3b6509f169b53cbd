import { existsSync } from "node:fs";
import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import fastifyStatic from "@fastify/static";
import { placeholderPage } from "./placeholder.js";

/** The client-side routes of the single-page app; each serves index.html. */
export const APP_ROUTES = ["/", "/login"];

/**
 * Serves the built web client (web/dist) from every node, so the page, the account API and the
 * socket share one origin and the session cookie just works. Hashed assets are cached for good;
 * the HTML is always revalidated. Without a build, a placeholder page says how to make one.
 */
export async function webClient(app: FastifyInstance, options: { webDir: string }): Promise<void> {
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
  for (const route of APP_ROUTES) {
    app.get(route, (_request, reply) => reply.sendFile("index.html"));
  }
}
