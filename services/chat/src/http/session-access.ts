import type { IncomingMessage } from "node:http";
import { sessionValid, type UserAccount, type UserStore } from "../stores/types.js";
import { sessionUser } from "./session.js";

export interface SessionAccess {
  account: UserAccount;
  /** The session may only choose a new password (an operator's reset). */
  mustChangePassword: boolean;
}

/**
 * What a request's session may do, decided by the store, not by the session alone: the account
 * must still exist, not be locked, and not have ended its sessions since this one logged in
 * (UserAccount.sessionsNotBefore: a lock, a reset, a password change, a revocation). So a session
 * that no index lists — logged in before the index existed, or through an older node — is ended
 * all the same. null: no usable session.
 */
export async function sessionAccess(req: IncomingMessage, users: UserStore, absoluteMs: number): Promise<SessionAccess | null> {
  const username = sessionUser(req, absoluteMs);
  if (!username) return null;
  const account = await users.account(username);
  if (!sessionValid(account, req.session!.loginAt!)) return null;
  return { account, mustChangePassword: req.session!.mustChangePassword === true };
}
