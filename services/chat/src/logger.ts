import { pino, type Logger } from "pino";

/**
 * Structured logs, one JSON line per event, tagged with the node id. Secrets never reach them:
 * cookies and any field named like a password, key or message body are redacted as a last line of
 * defence (the code does not log them in the first place).
 */
export function createLogger(nodeId: string, level: string): Logger {
  return pino({
    level,
    base: { node: nodeId },
    redact: {
      paths: [
        "req.headers.cookie",
        "req.headers.authorization",
        'res.headers["set-cookie"]',
        "password",
        "*.password",
        "key",
        "*.key",
        "msg.msg",
        "sessionSecret",
      ],
      censor: "[redacted]",
    },
  });
}

export type { Logger };
