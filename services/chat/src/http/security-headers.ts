import type { IncomingMessage, ServerResponse } from "node:http";
import type { FastifyInstance } from "fastify";
import fastifyHelmet from "@fastify/helmet";
// The helmet that @fastify/helmet wraps (its dependency): Engine.IO's responses get the headers
// from the same code and the same options as Fastify's.
import helmet from "helmet";
import fp from "fastify-plugin";

/**
 * The security headers, one list for every response of the node: a strict Content-Security-Policy
 * (scripts, styles and connections only from this origin, the socket included; no inline code; no
 * framing) and helmet's other headers. HSTS only when the node is configured for TLS.
 */
function securityHeaderOptions(tls: boolean) {
  // Not annotated: helmet's ESM and CommonJS type declarations (the two packages see one each)
  // describe the same options as unrelated types; the literal fits both.
  return {
    contentSecurityPolicy: {
      useDefaults: false as const,
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'", "data:"],
        fontSrc: ["'self'"],
        connectSrc: ["'self'"],
        objectSrc: ["'none'"],
        baseUri: ["'none'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
      },
    },
    hsts: tls ? { maxAge: 31_536_000, includeSubDomains: true } : (false as const),
    crossOriginEmbedderPolicy: false as const,
  };
}

/** Headers on every response Fastify sends (helmet as a Fastify plugin). */
async function securityHeadersPlugin(app: FastifyInstance, options: { tls: boolean }): Promise<void> {
  await app.register(fastifyHelmet, securityHeaderOptions(options.tls));
}

/** Not encapsulated: the headers apply to every route of the node. */
export const securityHeaders = fp(securityHeadersPlugin, { name: "sala-security-headers" });

/**
 * The same headers for the responses Fastify never sees: Engine.IO answers /socket.io/ itself.
 * An Engine.IO middleware (io.engine.use), so they are set before anything is written: on polling
 * responses, on a refused handshake's error, and on a websocket's 101 (engine.io adds headers set
 * on its stand-in response to the upgrade's answer).
 */
export function engineSecurityHeaders(tls: boolean): (req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void) => void {
  const setHeaders = helmet(securityHeaderOptions(tls));
  return (req, res, next) => setHeaders(req, res, next);
}
