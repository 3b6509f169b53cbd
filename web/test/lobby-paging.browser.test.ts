/**
 * The bounded lobby in real Chromium on a two-node cluster. More users are online and more rooms
 * exist than one page holds (LobbyLimits.pageMax): the page gets a first page and the counts, and
 * finds everyone and every room through search and "more". Users and rooms are made by socket
 * clients (half on each node); Ana browses from node 1, Bruno comes and goes on node 2.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { Page } from "playwright-core";
import { LobbyLimits, type LobbySnapshot, type RoomSummary } from "@sala/protocol";
import { PASSWORD as BOT_PASSWORD, connect, firstLobby, post, request, type ClientSocket } from "../../services/chat/test/support/cluster.js";
import { openUser, register, screenshot, startBrowserCluster, type BrowserCluster, type UserPage } from "./support/browser-cluster.js";

const PASSWORD = "correct horse battery";
const run = Date.now().toString(36).slice(-4);
const ana = `ana_${run}`;
/** Sorts before everyone else: on the first page of users whatever else is online. */
const bruno = `aab_${run}`;
/** Online users besides Ana and Bruno: more than a page. */
const BOTS = LobbyLimits.pageMax + 4;
/** Public rooms besides the private one: more than a page. */
const ROOMS = LobbyLimits.pageMax + 30;
/** Rooms that get members, so that the most active ones come first. */
const BUSY = 12;
const botName = (i: number) => `u${run}x${String(i).padStart(3, "0")}`;
const roomName = (i: number) => `sala ${run} ${String(i).padStart(3, "0")}`;
const PRIVATE_ROOM = `cofre ${run}`;
/** A bot on node 2 whose name is far past the first page of users. */
const FAR_USER = `zz${run}far`;

let cluster: BrowserCluster;
let A: UserPage;
const bots: ClientSocket[] = [];
let rooms: RoomSummary[] = [];
let botSnapshot: LobbySnapshot;
/** The users count the probe ends up with: its snapshot's, then each lobby_counts after it. */
let probeUsersCount = 0;

/** Registers `username` through the node at `url` and logs in there; the session cookie. */
async function registerAndLogin(url: string, username: string): Promise<string> {
  const registered = await post(`${url}/register`, { username, password: BOT_PASSWORD });
  if (registered.status !== 201) throw new Error(`register ${username}: ${JSON.stringify(registered.json)}`);
  const login = await post(`${url}/login`, { username, password: BOT_PASSWORD });
  if (login.status !== 200 || !login.cookie) throw new Error(`login ${username}: ${JSON.stringify(login.json)}`);
  return login.cookie;
}

/** Runs `task` over `items`, `width` at a time. */
async function inBatches<T>(items: T[], width: number, task: (item: T, index: number) => Promise<void>): Promise<void> {
  for (let start = 0; start < items.length; start += width) {
    await Promise.all(items.slice(start, start + width).map((item, offset) => task(item, start + offset)));
  }
}

beforeAll(async () => {
  cluster = await startBrowserCluster(2, { LOBBY_COUNTS_MS: "200", LOBBY_TICK_MS: "200", ROOM_CREATIONS_PER_USER: "20" });
  const nodes = cluster.nodes;
  const started = Date.now();
  const names = [...Array.from({ length: BOTS }, (_, i) => botName(i)), FAR_USER];
  await inBatches(names, 8, async (username, i) => {
    const node = nodes[i % 2]!;
    const cookie = await registerAndLogin(node.url, username);
    bots[i] = await connect(node, cookie, node.url);
  });
  // Bots make the rooms (a few each, within the creation limit); the first BUSY rooms get members.
  const created = await Promise.all(
    Array.from({ length: ROOMS }, async (_, i) => {
      const answer = await request(bots[i % BOTS]!, "create_room", { name: roomName(i) });
      if (!answer.ok) throw new Error(`create_room ${roomName(i)}: ${JSON.stringify(answer.error)}`);
      return answer.room as RoomSummary;
    }),
  );
  const locked = await request(bots[1]!, "create_room", { name: PRIVATE_ROOM, password: "abacaxi42" });
  if (!locked.ok) throw new Error(`create_room ${PRIVATE_ROOM}: ${JSON.stringify(locked.error)}`);
  rooms = [...created, locked.room as RoomSummary];
  await inBatches(created.slice(0, BUSY), 4, async (room, i) => {
    for (let member = 0; member <= i % 3; member++) {
      const answer = await request(bots[(i * 3 + member) % BOTS]!, "join_room", { roomId: room.id });
      if (!answer.ok) throw new Error(`join_room: ${JSON.stringify(answer.error)}`);
    }
  });
  // What a fresh socket on node 2 is sent now (the first page every lobby socket gets).
  const cookie = await registerAndLogin(nodes[1]!.url, `probe_${run}`);
  const probe = await connect(nodes[1]!, cookie, nodes[1]!.url, (socket) =>
    socket.on("lobby_counts", (counts: { users: number }) => (probeUsersCount = counts.users)),
  );
  botSnapshot = await firstLobby(probe);
  probeUsersCount = Math.max(probeUsersCount, botSnapshot.counts.users);
  // The probe's own arrival may come with the next tick when its node's tick was busy sending.
  await vi.waitFor(() => expect(probeUsersCount).toBe(USERS_ONLINE), { timeout: 5_000 });
  probe.close();
  console.info(`lobby-paging: ${names.length} users online and ${rooms.length} rooms made in ${Date.now() - started} ms`);

  A = await openUser(cluster, nodes[0]!);
  await register(A, ana, PASSWORD);
}, 90_000);

afterAll(async () => {
  for (const socket of bots) socket?.close();
  await cluster?.close();
});

const online = (page: Page) => page.getByTestId("online-users").locator("li");
const roomEntries = (page: Page) => page.getByTestId("rooms").locator("[data-room]");
const text = (page: Page, testId: string) => page.getByTestId(testId).innerText();
/** Users online: the bots, Ana. */
const USERS_ONLINE = BOTS + 1 + 1;

describe("the bounded lobby in a browser, across two nodes", () => {
  it("gets a first page of each list, never the whole lobby, and shows the totals", async () => {
    expect(botSnapshot.rooms.length).toBe(LobbyLimits.pageMax);
    expect(botSnapshot.users.length).toBe(LobbyLimits.pageMax);
    expect(botSnapshot.counts.rooms).toBe(ROOMS + 1);
    // Everyone but, at most, the probe itself (whose arrival may come with the tick after).
    expect(botSnapshot.counts.users).toBeGreaterThanOrEqual(USERS_ONLINE - 1);
    expect(botSnapshot.counts.users).toBeLessThanOrEqual(USERS_ONLINE);
    expect(probeUsersCount).toBe(USERS_ONLINE);

    await expect.poll(() => text(A.page, "users-count")).toBe(String(USERS_ONLINE));
    await expect.poll(() => text(A.page, "rooms-count")).toBe(String(ROOMS + 1));
    expect(await roomEntries(A.page).count()).toBe(LobbyLimits.pageMax);
    expect(await online(A.page).count()).toBe(LobbyLimits.pageMax);
    // The most active rooms first.
    const first = await roomEntries(A.page).first().innerText();
    expect(first).toContain("3 members");
    // The snapshot on Ana's wire: a page, not the lobby.
    const lobbyFrame = A.frames.received.find((frame) => frame.startsWith('42["lobby",'));
    expect(lobbyFrame).toBeDefined();
    const snapshot = (JSON.parse(lobbyFrame!.slice(2)) as [string, LobbySnapshot])[1];
    expect(snapshot.rooms.length).toBeLessThanOrEqual(LobbyLimits.pageMax);
    expect(snapshot.users.length).toBeLessThanOrEqual(LobbyLimits.pageMax);
    expect(await text(A.page, "rooms-shown")).toBe(`Showing ${LobbyLimits.pageMax} of ${ROOMS + 1}`);
    await screenshot(A.page, "lobby-paging-first-page");
  });

  it("'more' shows the next pages, by name, until every room and user is listed", async () => {
    const more = A.page.getByTestId("more-rooms");
    let clicks = 0;
    while ((await more.count()) > 0 && clicks < 5) {
      const before = await roomEntries(A.page).count();
      await more.click();
      await expect.poll(() => roomEntries(A.page).count()).toBeGreaterThan(before);
      clicks += 1;
    }
    expect(await roomEntries(A.page).count()).toBe(ROOMS + 1);
    expect(await A.page.getByTestId("more-rooms").count()).toBe(0);
    // Every room is there once.
    const shown = await roomEntries(A.page).evaluateAll((entries) => entries.map((entry) => entry.getAttribute("data-room")));
    expect(new Set(shown)).toEqual(new Set(rooms.map((room) => room.name)));

    const before = await online(A.page).count();
    await A.page.getByTestId("more-users").click();
    await expect.poll(() => online(A.page).count()).toBe(USERS_ONLINE);
    expect(before).toBe(LobbyLimits.pageMax);
    expect(await online(A.page).last().innerText()).toContain(FAR_USER);
    expect(await A.page.getByTestId("more-users").count()).toBe(0);
  });

  it("search finds a room of the second page; joining it works", async () => {
    await A.page.reload(); // back to the first page only
    await A.page.getByTestId("online-users").waitFor();
    const onFirstPage = new Set(botSnapshot.rooms.map((room) => room.id));
    const target = rooms.find((room, i) => i >= LobbyLimits.pageMax && !room.isPrivate && !onFirstPage.has(room.id));
    expect(target, "a room past the first page by name and by activity").toBeDefined();
    await expect.poll(() => roomEntries(A.page).count()).toBe(LobbyLimits.pageMax);
    expect(await A.page.locator(`[data-room="${target!.name}"]`).count()).toBe(0);

    await A.page.getByTestId("room-search").fill(target!.name.toUpperCase());
    const entry = A.page.locator(`[data-room="${target!.name}"]`);
    await entry.waitFor();
    expect(await roomEntries(A.page).count()).toBe(1);
    await entry.click();
    await A.page.getByTestId("room").waitFor();
    await expect.poll(() => A.page.getByTestId("members").innerText()).toContain(ana);
    await A.page.getByTestId("leave-room").click();
    await A.page.getByTestId("online-users").waitFor();
    // The search is still there; the room is now listed as one of Ana's while she is in it… and not after.
    expect(await A.page.getByTestId("room-search").inputValue()).toBe(target!.name.toUpperCase());
    expect(await A.page.locator(`[data-room="${target!.name}"][data-mine]`).count()).toBe(0);
  });

  it("a private room found by search shows its 🔒; a search that matches nothing says so", async () => {
    await A.page.getByTestId("room-search").fill("COFRE");
    const entry = A.page.locator(`[data-room="${PRIVATE_ROOM}"]`);
    await entry.waitFor();
    expect(await entry.innerText()).toContain("🔒");
    await screenshot(A.page, "lobby-paging-search");
    await A.page.getByTestId("room-search").fill(`nada ${run}`);
    await expect.poll(() => text(A.page, "no-room-match")).toContain(`nada ${run}`);
    // Cleared: the lobby's first page again.
    await A.page.getByTestId("room-search").fill("");
    await expect.poll(() => roomEntries(A.page).count()).toBe(LobbyLimits.pageMax);
  });

  it("user search reaches users on the other node past the first page", async () => {
    await A.page.getByTestId("user-search").fill(FAR_USER.slice(0, 4));
    await expect.poll(() => online(A.page).allInnerTexts()).toEqual([FAR_USER]);
    await A.page.getByTestId("user-search").fill(`zz${run}nobody`);
    await expect.poll(() => text(A.page, "no-user-match")).toContain(`zz${run}nobody`);
    await A.page.getByTestId("user-search").fill("");
    await expect.poll(() => online(A.page).count()).toBe(LobbyLimits.pageMax);
  });

  it("a user connecting on the other node appears on the first page, and goes when they leave", async () => {
    const B = await openUser(cluster, cluster.nodes[1]!);
    await register(B, bruno, PASSWORD);
    await expect.poll(() => online(A.page).first().innerText()).toContain(bruno);
    await expect.poll(() => text(A.page, "users-count")).toBe(String(USERS_ONLINE + 1));
    // Bruno sees the same first page from node 2, Ana on it.
    await expect.poll(() => B.page.getByTestId("online-users").innerText()).toContain(ana);
    await B.page.getByTestId("logout").click();
    await B.page.getByTestId("login-form").waitFor();
    await expect.poll(() => A.page.getByTestId("online-users").innerText()).not.toContain(bruno);
    await expect.poll(() => text(A.page, "users-count")).toBe(String(USERS_ONLINE));
    expect(await online(A.page).count()).toBe(LobbyLimits.pageMax);
    await B.context.close();
  });

  it("no page logged an error", () => {
    expect(A.problems).toEqual([]);
  });
});
