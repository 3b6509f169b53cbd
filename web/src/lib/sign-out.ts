/**
 * Why the login page is shown again. The server tells a socket why its session ended elsewhere
 * (`signed_out`); a session that simply vanished (expired, logged out in another tab) has no reason.
 */
import type { SignOutReason } from "@sala/protocol";
import type { MessageKey } from "../i18n/i18n.svelte.js";

/** What the login page says, as a message key; null when the user logged out here. */
export type LoginNotice = MessageKey | null;

const NOTICES: Record<SignOutReason, MessageKey> = {
  locked: "signedOut.locked",
  deleted: "signedOut.deleted",
  sessions_revoked: "signedOut.sessionsRevoked",
  password_reset: "signedOut.passwordReset",
  password_changed: "signedOut.passwordChanged",
  logged_out: "signedOut.loggedOut",
  logged_in_again: "signedOut.loggedInAgain",
  expired: "signedOut.expired",
};

/** The login page's message for a session ended from elsewhere (`reason` from `signed_out`, or none). */
export function signOutNotice(reason?: SignOutReason): MessageKey {
  return (reason && NOTICES[reason]) ?? "signedOut.sessionEnded";
}
