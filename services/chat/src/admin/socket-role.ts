import { ErrorCode } from "@sala/protocol";
import { isUnavailable } from "../errors.js";
import type { Logger } from "../logger.js";
import type { SalaServer } from "../realtime/types.js";
import type { UserStore } from "../stores/types.js";

type Middleware = Parameters<SalaServer["use"]>[0];

/**
 * Reads the user's admin role from the user store at every handshake (after the session check):
 * granting or revoking (`npm run admin`) applies to the next handshake on any node. A socket
 * connected before a grant gets the role when it reconnects; a revoke also reaches the sockets
 * already watching /memory within seconds (role-watch.ts).
 */
export function readAdminRole(users: UserStore, logger: Logger): Middleware {
  return (socket, next) => {
    users.isAdmin(socket.data.username).then(
      (isAdmin) => {
        socket.data.isAdmin = isAdmin;
        next();
      },
      (error: unknown) => {
        logger.warn({ event: "admin_role_unreadable", err: (error as Error).message }, "could not read the admin role at a handshake");
        next(new Error(isUnavailable(error) ? ErrorCode.UNAVAILABLE : ErrorCode.INTERNAL));
      },
    );
  };
}
