import { pino, type Logger } from "pino";

/**
 * Structured logs, one JSON line per event, tagged with the node id. Secrets never reach them:
 * cookies, any field named like a password, key or message body, and the arguments of a failed
 * Redis command are redacted as a last line of defence (the code does not log them in the first
 * place).
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
        // ioredis attaches the failed command to its errors: a script's arguments can carry a
        // room or conversation key, or a message envelope.
        "err.command.args",
        "*.err.command.args",
        // …and a failed transaction (EXECABORT) carries the errors of its commands.
        "err.previousErrors[*].command.args",
      ],
      censor: "[redacted]",
    },
  });
}

export type { Logger };
