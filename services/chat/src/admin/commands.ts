/**
 * The operator's commands (`npm run admin -- COMMAND ARGS…`, `sala-admin` in the image), one entry
 * each in COMMANDS: argument parsing and what to print. What they do is AdminService's
 * (service.ts), which the admin page uses too. A command runs against the stores it is given — the
 * cluster's Redis from the CLI itself, or an embedded node's in-process stores through its admin
 * socket (control-socket.ts) — so each is written once.
 */
import { nameKey } from "@sala/protocol";
import { AppError } from "../errors.js";
import type { RepairReport } from "../stores/redis/repair.js";
import { AdminError } from "./admin-error.js";
import { AUDIT_KEEP } from "./audit.js";
import type { AccountView, AdminService } from "./service.js";
import { STORE_TOOLS } from "./store-tools.js";

export { AdminError, AUDIT_KEEP };

export interface AdminContext {
  service: AdminService;
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

/** Default and largest page of `users list|search` and `rooms list`. */
const PAGE = 50;
const PAGE_MAX = 500;

const time = (ms: number) => (ms ? new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z") : "never");

/** Positional arguments and `--flag value` options; unknown flags are a usage error. */
function parse(command: string, usageLine: string, args: string[], positional: number | [number, number], flags: string[] = []): { names: string[]; options: Map<string, string> } {
  const [least, most] = typeof positional === "number" ? [positional, positional] : positional;
  const names: string[] = [];
  const options = new Map<string, string>();
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg.startsWith("--")) {
      const flag = arg.slice(2);
      const value = args[i + 1];
      if (!flags.includes(flag) || value === undefined) throw new AdminError(`usage: ${command} ${usageLine}`, "usage");
      options.set(flag, value);
      i++;
    } else names.push(arg);
  }
  if (names.length < least || names.length > most) throw new AdminError(`usage: ${command} ${usageLine}`, "usage");
  return { names, options };
}

function pageSize(value: string | undefined, command: string): number {
  if (value === undefined) return PAGE;
  const limit = Number(value);
  if (!Number.isInteger(limit) || limit < 1 || limit > PAGE_MAX) throw new AdminError(`usage: ${command}: --limit from 1 to ${PAGE_MAX}`, "usage");
  return limit;
}

/** `--after`: a name as the previous page's last line printed it, compared as the stores compare names. */
const after = (options: Map<string, string>) => {
  const name = options.get("after");
  return name === undefined ? null : nameKey(name);
};

function userLine(user: AccountView): string {
  const flags = [user.admin && "admin", user.lockedAt && "locked", user.mustChangePassword && "must-change-password", user.online && "online"].filter(Boolean);
  return `${user.username.padEnd(25)} created ${time(user.createdAt)}  last seen ${user.online ? "now" : time(user.lastSeenAt)}${flags.length ? `  [${flags.join(", ")}]` : ""}`;
}

/** Runs a service call; its expected failures (AppError: unknown user, weak password…) are the operator's message. */
async function attempt<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof AppError) throw new AdminError(error.message);
    throw error;
  }
}

function userList(search: boolean): AdminCommand {
  const usageLine = search ? "PREFIX [--after NAME] [--limit N]" : "[--after NAME] [--limit N]";
  const command = search ? "users search" : "users list";
  return {
    args: usageLine,
    summary: search ? "accounts whose name starts with PREFIX" : "accounts by name, a page at a time (--after: the last name of the previous page)",
    async run({ service }, args) {
      const { names, options } = parse(command, usageLine, args, search ? 1 : 0, ["after", "limit"]);
      const page = await service.listUsers({ prefix: nameKey((names[0] ?? "").trim()), after: after(options), limit: pageSize(options.get("limit"), command) });
      if (page.users.length === 0) return search ? `no account starts with ${names[0]}` : "no accounts";
      const lines = page.users.map(userLine);
      if (page.next) lines.push(`… more: ${command}${search ? ` ${names[0]}` : ""} --after ${page.next}`);
      return lines.join("\n");
    },
  };
}

function oneUser(command: string, summary: string, act: (context: AdminContext, name: string) => Promise<string>): AdminCommand {
  return {
    args: "NAME",
    summary,
    async run(context, args) {
      const { names } = parse(command, "NAME", args, 1);
      return attempt(() => act(context, names[0]!));
    },
  };
}

const showUser = oneUser("users show", "an account: role, status, rooms, sessions, last seen", async ({ service }, name) => {
  const user = await service.showUser(name);
  const rooms = (list: Array<{ name: string; id: string }>) => (list.length ? list.map((room) => `${room.name} (${room.id})`).join(", ") : "none");
  return [
    userLine(user),
    `  last login    ${time(user.lastLoginAt)}`,
    `  locked        ${user.lockedAt ? `since ${time(user.lockedAt)}` : "no"}`,
    `  member of     ${rooms(user.rooms)}`,
    `  owns          ${rooms(user.owned)}`,
    `  conversations ${user.conversations}`,
    `  sessions      ${user.sessions.length ? user.sessions.map((s) => `${s.tag} (login ${time(s.loginAt)})`).join(", ") : "none"}`,
  ].join("\n");
});

function roleCommand(grant: boolean): AdminCommand {
  return oneUser(grant ? "users grant-admin" : "users revoke-admin", grant ? "give an account the admin role (/admin, /memory, /metrics)" : "take the admin role away", async ({ service, actor }, name) => {
    const { username, outcome } = await service.setAdmin(actor, name, grant);
    if (outcome === "unchanged") return grant ? `${username} already is an admin` : `${username} was not an admin`;
    return grant ? `${username} is now an admin` : `${username} is no longer an admin`;
  });
}

const resetPassword: AdminCommand = {
  args: "NAME [--password-stdin]",
  summary: "set a one-time password (printed once), or the one read from stdin; the next login must change it; ends every session",
  async run({ service, actor }, args) {
    // cli.ts reads --password-stdin and passes the password on as `--password VALUE`.
    const { names, options } = parse("users reset-password", "NAME [--password-stdin]", args, 1, ["password"]);
    const result = await attempt(() => service.resetPassword(actor, names[0]!, options.get("password")));
    return result.oneTimePassword
      ? `${result.username}'s one-time password (shown once; they must change it at their next login):\n${result.oneTimePassword}`
      : `${result.username}'s password is set; they must change it at their next login`;
  },
};

function repairCommand(action: "repair" | "index-names"): AdminCommand {
  return {
    args: "",
    summary:
      action === "repair"
        ? "rebuild what is derived from rooms and users: names and look-alike keys, room sets, quotas, idle marks, the user directory, leftovers of interrupted operations"
        : "the same as repair (its former name)",
    async run(context, args) {
      if (args.length > 0) throw new AdminError(`usage: ${action}`, "usage");
      if (!context.repair) return "nothing to repair: embedded stores keep their indexes in step";
      const report = await context.repair();
      const { userNames, roomNames, idleRooms, danglingEntries, relistedRooms, orphanedRooms, userSetFixes, lobbyEntries, directoryEntries, clashes } = report;
      await context.service.recordRepair(
        context.actor,
        action,
        `users=${userNames} rooms=${roomNames} idle=${idleRooms} dangling=${danglingEntries} relisted=${relistedRooms} orphans=${orphanedRooms} sets=${userSetFixes} lobby=${lobbyEntries} directory=${directoryEntries} clashes=${clashes.length}`,
      );
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

const ROOMS_USAGE = "[PREFIX] [--after NAME] [--limit N]";

export const COMMANDS: Record<string, AdminCommand> = {
  "users list": userList(false),
  "users search": userList(true),
  "users show": showUser,
  "users reset-password": resetPassword,
  "users lock": oneUser("users lock", "refuse the account's logins; end every session and close its sockets on every node", async ({ service, actor }, name) => {
    const { username, sessionsEnded } = await service.lock(actor, name);
    return `${username} is locked; ${sessionsEnded} session(s) ended`;
  }),
  "users unlock": oneUser("users unlock", "let a locked account log in again", async ({ service, actor }, name) => {
    const { username, outcome } = await service.unlock(actor, name);
    return outcome === "done" ? `${username} is unlocked` : `${username} was not locked`;
  }),
  "users delete": oneUser(
    "users delete",
    "delete the account, its sessions, memberships and conversations, and the rooms it owns (their members see them go)",
    async ({ service, actor }, name) => {
      const result = await service.deleteUser(actor, name);
      return `${result.username} is deleted: ${result.rooms} owned room(s) deleted, left ${result.left} room(s), ${result.conversations} conversation(s) deleted`;
    },
  ),
  "users grant-admin": roleCommand(true),
  "users revoke-admin": roleCommand(false),
  "rooms list": {
    args: ROOMS_USAGE,
    summary: "rooms by name, a page at a time; with PREFIX, those whose name starts with it",
    async run({ service }, args) {
      const { names, options } = parse("rooms list", ROOMS_USAGE, args, [0, 1], ["after", "limit"]);
      const page = await service.listRooms({ prefix: nameKey((names[0] ?? "").trim()), after: after(options), limit: pageSize(options.get("limit"), "rooms list") });
      if (page.items.length === 0) return "no rooms";
      const lines = page.items.map((room) => `${`${room.isPrivate ? "🔒 " : ""}${room.name}`.padEnd(44)} ${room.id}  owner ${room.owner}  ${room.memberCount} member(s)`);
      if (page.next) lines.push(`… more: rooms list${names[0] ? ` ${names[0]}` : ""} --after ${page.next}`);
      return lines.join("\n");
    },
  },
  "rooms show": {
    args: "ROOM",
    summary: "a room (by id or name): owner, privacy, members, barred users, current key id",
    async run({ service }, args) {
      if (args.length !== 1) throw new AdminError("usage: rooms show ROOM (its id or its name, quoted)", "usage");
      const { room, members, barred, keyId } = await attempt(() => service.showRoom(args[0]!));
      return [
        `${room.isPrivate ? "🔒 " : ""}${room.name}  (${room.id})`,
        `  owner    ${room.owner}`,
        `  created  ${time(room.createdAt)}`,
        `  private  ${room.isPrivate ? "yes" : "no"}; key ${keyId}`,
        `  members  ${members.length ? members.join(", ") : "none"}`,
        `  barred   ${barred.length ? barred.join(", ") : "none"}`,
      ].join("\n");
    },
  },
  "rooms delete": {
    args: "ROOM",
    summary: "delete a room (by id or name) with its keys and history; its members see it go",
    async run({ service, actor }, args) {
      if (args.length !== 1) throw new AdminError("usage: rooms delete ROOM (its id or its name, quoted)", "usage");
      const room = await attempt(() => service.deleteRoom(actor, args[0]!));
      return `room ${room.name} (${room.id}) is deleted`;
    },
  },
  "sessions revoke": {
    args: "NAME [SESSION]",
    summary: "end every session of the account (or the one whose tag `users show` lists) and close its sockets",
    async run({ service, actor }, args) {
      if (args.length < 1 || args.length > 2) throw new AdminError("usage: sessions revoke NAME [SESSION]", "usage");
      const ended = await attempt(() => service.revokeSessions(actor, args[0]!, args[1]));
      return `${ended} session(s) of ${args[0]} ended`;
    },
  },
  stats: {
    args: "",
    summary: "accounts, users online, rooms, and each live node's sockets, memory and load",
    async run({ service }, args) {
      if (args.length > 0) throw new AdminError("usage: stats", "usage");
      const stats = await service.stats();
      const lines = [`accounts ${stats.accounts}`, `online   ${stats.online}`, `rooms    ${stats.rooms}`, `nodes    ${stats.nodes.length} live`];
      for (const node of stats.nodes) {
        lines.push(
          `  ${node.node.padEnd(20)} ${node.sockets} socket(s), ${Math.round(node.rssBytes / 1048576)} MiB RSS, CPU ${node.cpuPercent.toFixed(0)} %, event loop p99 ${node.loopDelayP99Ms.toFixed(1)} ms, ${node.messagesInPerSec.toFixed(1)} msg/s in`,
        );
      }
      return lines.join("\n");
    },
  },
  audit: {
    args: "[COUNT]",
    summary: "the latest audit entries (default 20), newest first",
    async run({ service }, args) {
      const [count = "20", ...extra] = args;
      const limit = Number(count);
      if (extra.length > 0 || !Number.isInteger(limit) || limit < 1 || limit > AUDIT_KEEP) {
        throw new AdminError(`usage: audit [COUNT], COUNT from 1 to ${AUDIT_KEEP}`, "usage");
      }
      const entries = await service.audit(limit);
      if (entries.length === 0) return "no audit entries";
      return entries.map((e) => `${new Date(e.ts).toISOString()}  ${e.actor}  ${e.action} ${e.target}  ${e.outcome}`).join("\n");
    },
  },
  repair: repairCommand("repair"),
  // Their names up to session 12: kept so that scripts written for them go on working.
  "grant-admin": roleCommand(true),
  "revoke-admin": roleCommand(false),
  "index-names": repairCommand("index-names"),
};

/** The command `argv` names: two words (`users show`) or one (`stats`); null if none. */
export function commandOf(argv: string[]): { name: string; args: string[] } | null {
  const [first, second, ...rest] = argv;
  if (first === undefined) return null;
  if (second !== undefined && Object.hasOwn(COMMANDS, `${first} ${second}`)) return { name: `${first} ${second}`, args: rest };
  if (Object.hasOwn(COMMANDS, first)) return { name: first, args: argv.slice(1) };
  return null;
}

/** Runs one command by name (AdminError for an unknown one). */
export async function runCommand(context: AdminContext, command: string, args: string[]): Promise<string> {
  const entry = Object.hasOwn(COMMANDS, command) ? COMMANDS[command] : undefined;
  if (!entry) throw new AdminError(`unknown command: ${command} (try: npm run admin -- help)`, "usage");
  return entry.run(context, args);
}

export function usage(): string {
  const lines = Object.entries(COMMANDS).map(([name, command]) => `  ${`${name} ${command.args}`.padEnd(44)} ${command.summary}`);
  // The whole-store tools (store-tools.ts) are run by cli.ts itself: listed here all the same.
  for (const tool of Object.values(STORE_TOOLS)) lines.push(`  ${tool.usage}\n  ${"".padEnd(44)} ${tool.summary}`);
  return ["usage: npm run admin -- COMMAND [ARGS]   (sala-admin COMMAND [ARGS] in the image)", "", "commands:", ...lines].join("\n");
}
