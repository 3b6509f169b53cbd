import type { FastifyInstance } from "fastify";

const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sala</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 3rem auto; line-height: 1.5">
<h1>Sala</h1>
<p>This Sala node is running, but its web client has not been built: run <code>npm run build</code>
(or <code>npm start</code>, which builds it). The API is:
<code>POST /register</code>, <code>POST /login</code>, <code>POST /logout</code>, <code>GET /session</code>,
and Socket.IO at <code>/socket.io/</code> (see docs/PROTOCOL.md).</p>
</body></html>`;

/** A plain page at / until the web client is served here. */
export async function placeholderPage(app: FastifyInstance): Promise<void> {
  app.get("/", async (_request, reply) =>
    reply.type("text/html; charset=utf-8").header("content-security-policy", "default-src 'none'; style-src 'unsafe-inline'").send(PAGE),
  );
}
