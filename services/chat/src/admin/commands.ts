/**
 * The operator's commands (`npm run admin -- COMMAND ARGS…`), one entry each in COMMANDS. A command
 * acts on the stores it is given — the cluster's Redis from the CLI itself, or an embedded node's
 * in-process stores through its admin socket (control-socket.ts) — so each is written once. Every
 * command that changes something writes an audit entry: a pino line and a record in the store.
 */
import { isUsername } from "../domain/names.js";
import type { Logger } from "../logger.js";
import type { AuditEntry, AuditStore, UserStore } from "../stores/types.js";
import type { RepairReport } from "../stores/redis/repair.js";
import { AdminError } from "./admin-error.js";
import { STORE_TOOLS } from "./store-tools.js";

export { AdminError };

/** Audit entries kept in the store (the oldest are dropped). */
export const AUDIT_KEEP = 1000;

export interface AdminContext {
  users: UserStore;
  audit: AuditStore;
  logger: Logger;
  /** Who runs the command: the OS user of the CLI process. */
  actor: string;
  /** Rebuilds the indexes derived from rooms and users (Redis only; see stores/redis/repair.ts). */
  repair?: () => Promise<RepairReport>;
}

export interface AdminCommand {
  /** Arguments, for the usage line. */
  args: string;
  summary: string;
  /** Does the work; returns what to tell the operator, or throws AdminError. */
  run(context: AdminContext, args: string[]): Promise<string>;
}

function oneName(args: string[], command: string): string {
  const [name, ...extra] = args;
  if (!name || extra.length > 0) throw new AdminError(`usage: ${command} NAME`, "usage");
  return name;
}

/** Writes the audit entry: the pino line first, so the action is on record even if the store fails. */
async function record(context: AdminContext, entry: Omit<AuditEntry, "ts" | "actor">): Promise<void> {
  const full: AuditEntry = { ts: Date.now(), actor: context.actor, ...entry };
  context.logger.info({ event: "admin_audit", ...full }, `admin: ${entry.action} ${entry.target}: ${entry.outcome}`);
  await context.audit.append(full, AUDIT_KEEP);
}

function roleCommand(action: "grant-admin" | "revoke-admin"): AdminCommand {
  const grant = action === "grant-admin";
  return {
    args: "NAME",
    summary: grant ? "give an existing account the admin role (/memory, /metrics)" : "take the admin role away from an account",
    async run(context, args) {
      const name = oneName(args, action);
      const user = isUsername(name) ? await context.users.get(name) : null;
      const was = user ? await context.users.isAdmin(user.username) : false;
      if (!user || !(await context.users.setAdmin(user.username, grant))) {
        await record(context, { action, target: name, outcome: "unknown_user" });
        throw new AdminError(`no such user: ${name}`);
      }
      await record(context, { action, target: user.username, outcome: was === grant ? "unchanged" : "done" });
      if (was === grant) return grant ? `${user.username} already is an admin` : `${user.username} was not an admin`;
      return grant ? `${user.username} is now an admin` : `${user.username} is no longer an admin`;
    },
  };
}

function repairCommand(action: "repair" | "index-names"): AdminCommand {
  return {
    args: "",
    summary:
      action === "repair"
        ? "rebuild what is derived from rooms and users: names and look-alike keys, room sets, quotas, idle marks, leftovers of interrupted operations"
        : "the same as repair (its former name)",
    async run(context, args) {
      if (args.length > 0) throw new AdminError(`usage: ${action}`, "usage");
      if (!context.repair) return "nothing to repair: embedded stores keep their indexes in step";
      const report = await context.repair();
      const { userNames, roomNames, idleRooms, danglingEntries, relistedRooms, orphanedRooms, userSetFixes, lobbyEntries, directoryEntries, clashes } = report;
      await record(context, {
        action,
        target: "*",
        outcome: `users=${userNames} rooms=${roomNames} idle=${idleRooms} dangling=${danglingEntries} relisted=${relistedRooms} orphans=${orphanedRooms} sets=${userSetFixes} lobby=${lobbyEntries} directory=${directoryEntries} clashes=${clashes.length}`,
      });
      const lines = [
        `indexed ${userNames} user name(s) and ${roomNames} room name(s); ${idleRooms} empty room(s) now count as idle`,
        `removed ${danglingEntries} dangling index entr(y/ies); listed ${relistedRooms} unlisted room(s) again and deleted ${orphanedRooms}; fixed ${userSetFixes} user room-set entr(y/ies)`,
        `fixed ${lobbyEntries} entr(y/ies) of the lobby's indexes (users online by name, rooms by name and by member count)`,
        `fixed ${directoryEntries} entr(y/ies) of the user directory (accounts by name)`,
      ];
      if (clashes.length > 0) lines.push(`${clashes.length} old name(s) look like another old one (both keep working):`, ...clashes.map((clash) => `  ${clash}`));
      return lines.join("\n");
    },
  };
}

export const COMMANDS: Record<string, AdminCommand> = {
  "grant-admin": roleCommand("grant-admin"),
  "revoke-admin": roleCommand("revoke-admin"),
  repair: repairCommand("repair"),
  // Its name up to session 9; the repair does what it did (names, quotas, idle marks) and more.
  "index-names": repairCommand("index-names"),
  audit: {
    args: "[COUNT]",
    summary: "show the latest audit entries (default 20), newest first",
    async run(context, args) {
      const [count = "20", ...extra] = args;
      const limit = Number(count);
      if (extra.length > 0 || !Number.isInteger(limit) || limit < 1 || limit > AUDIT_KEEP) {
        throw new AdminError(`usage: audit [COUNT], COUNT from 1 to ${AUDIT_KEEP}`, "usage");
      }
      const entries = await context.audit.recent(limit);
      if (entries.length === 0) return "no audit entries";
      return entries.map((e) => `${new Date(e.ts).toISOString()}  ${e.actor}  ${e.action} ${e.target}  ${e.outcome}`).join("\n");
    },
  },
};

/** Runs one command by name (AdminError for an unknown one). */
export async function runCommand(context: AdminContext, command: string, args: string[]): Promise<string> {
  const entry = Object.hasOwn(COMMANDS, command) ? COMMANDS[command] : undefined;
  if (!entry) throw new AdminError(`unknown command: ${command} (try: npm run admin -- help)`, "usage");
  return entry.run(context, args);
}

export function usage(): string {
  const lines = Object.entries(COMMANDS).map(([name, command]) => `  ${`${name} ${command.args}`.padEnd(24)} ${command.summary}`);
  // The whole-store tools (store-tools.ts) are run by cli.ts itself: listed here all the same.
  for (const tool of Object.values(STORE_TOOLS)) lines.push(`  ${tool.usage}\n  ${"".padEnd(24)} ${tool.summary}`);
  return ["usage: npm run admin -- COMMAND [ARGS]", "", "commands:", ...lines].join("\n");
}
