import type { FastifyInstance } from "fastify";
import helmet from "@fastify/helmet";
import fp from "fastify-plugin";

/**
 * Security headers on every response (helmet), with a strict Content-Security-Policy: scripts,
 * styles and connections only from this origin (the socket included), no inline code, no framing.
 * HSTS only when the node is configured for TLS.
 */
async function securityHeadersPlugin(app: FastifyInstance, options: { tls: boolean }): Promise<void> {
  await app.register(helmet, {
    contentSecurityPolicy: {
      useDefaults: false,
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
    hsts: options.tls ? { maxAge: 31_536_000, includeSubDomains: true } : false,
    crossOriginEmbedderPolicy: false,
  });
}

/** Not encapsulated: the headers apply to every route of the node. */
export const securityHeaders = fp(securityHeadersPlugin, { name: "sala-security-headers" });
