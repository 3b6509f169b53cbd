import { ErrorCode } from "@sala/protocol";
import { isUnavailable } from "../errors.js";
import type { Logger } from "../logger.js";
import type { SalaServer } from "../realtime/types.js";
import { sessionValid, type UserStore } from "../stores/types.js";

type Middleware = Parameters<SalaServer["use"]>[0];

/**
 * Reads the user's account from the user store at every handshake (after the session check): a
 * session of an account deleted or locked since, or that logged in before its sessions were ended
 * (a reset, a password change, a revocation: UserAccount.sessionsNotBefore), is refused with
 * UNAUTHORIZED — whether or not the session index lists it. The admin role comes from the same
 * read: granting or revoking (`npm run admin`) applies to the next handshake on any node; a revoke
 * also reaches the sockets already watching /memory within seconds (role-watch.ts).
 */
export function readAccount(users: UserStore, logger: Logger): Middleware {
  return (socket, next) => {
    users.account(socket.data.username).then(
      (account) => {
        if (!sessionValid(account, socket.data.session.loginAt)) {
          next(new Error(ErrorCode.UNAUTHORIZED));
          return;
        }
        socket.data.isAdmin = account.admin;
        next();
      },
      (error: unknown) => {
        logger.warn({ event: "account_unreadable", err: (error as Error).message }, "could not read the account at a handshake");
        next(new Error(isUnavailable(error) ? ErrorCode.UNAVAILABLE : ErrorCode.INTERNAL));
      },
    );
  };
}
