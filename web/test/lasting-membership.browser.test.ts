/**
 * Issue 21, item 1 (membership lasts), in real Chromium on a two-node cluster: a member of a private
 * room who reloads, or closes the page and comes back after the presence grace period, is still a
 * member — the room opens without asking its password again — and the others see them offline in
 * the member list meanwhile, not gone. Leaving stays explicit ("Leave room").
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openUser, register, startBrowserCluster, type BrowserCluster, type UserPage } from "./support/browser-cluster.js";
import { logIn } from "./support/admin-accounts.js";

const PASSWORD = "correct horse battery";
const ROOM_PASSWORD = "sesame-21";
const run = Date.now().toString(36).slice(-4);
const owner = `lia_${run}`;
const guest = `rui_${run}`;
const ROOM = `Cofre ${run}`;

let cluster: BrowserCluster;
let O: UserPage, G: UserPage;

beforeAll(async () => {
  // A short grace period, so that "gone for longer than it" takes a second here.
  cluster = await startBrowserCluster(2, { PRESENCE_GRACE_MS: "500" });
  O = await openUser(cluster, cluster.nodes[0]!);
  G = await openUser(cluster, cluster.nodes[1]!);
  await register(O, owner, PASSWORD);
  await register(G, guest, PASSWORD);
  await O.page.getByTestId("room-name").fill(ROOM);
  await O.page.getByTestId("room-create-password").fill(ROOM_PASSWORD);
  await O.page.locator('[data-testid="create-room"] button[type="submit"]').click();
  await O.page.getByTestId("room").waitFor();
  await G.page.locator(`[data-room="${ROOM}"]`).click();
  await G.page.getByTestId("room-password").fill(ROOM_PASSWORD);
  await G.page.getByTestId("room-password-form").locator('button[type="submit"]').click();
  await G.page.getByTestId("room").waitFor();
}, 90_000);
afterAll(async () => {
  await cluster?.close();
});

const guestInMembers = () => O.page.getByTestId("members").locator("li", { has: O.page.locator(`[data-user="${guest}"]`) });
/** The private room's password prompt never shows: the room opens at once. */
async function entersWithoutPassword(user: UserPage): Promise<void> {
  await user.page.locator(`[data-room="${ROOM}"]`).click();
  await user.page.getByTestId("room").waitFor();
  expect(await user.page.getByTestId("room-password").count()).toBe(0);
}

describe("membership lasts until the member leaves", () => {
  it("lets a member back into a private room after a reload without asking the password", async () => {
    // The reload comes back to the room (its address), with no password asked…
    await G.page.reload();
    await G.page.getByTestId("room").waitFor();
    expect(await G.page.getByTestId("room-password").count()).toBe(0);
    // …and so does entering it again from the lobby.
    await G.page.getByTestId("sidebar-lobby").click();
    await entersWithoutPassword(G);
    await expect.poll(() => guestInMembers().getAttribute("data-online")).toBe("true");
  });

  it("shows a member who went away as offline, not gone, and lets them in again when they come back", async () => {
    await G.page.close();
    await expect.poll(() => guestInMembers().getAttribute("data-online"), { timeout: 15_000 }).toBe("false");
    expect(await guestInMembers().innerText()).toContain("offline");
    expect(await O.page.getByTestId("feed").innerText()).not.toContain(`${guest} left`);

    G = { ...G, page: await G.context.newPage() };
    await G.page.goto(`${cluster.nodes[1]!.url}/`);
    await G.page.waitForURL(/\/$|\/login$/);
    if (G.page.url().endsWith("/login")) await logIn(G.page, guest, PASSWORD);
    await G.page.locator('[data-testid="connection"][data-state="connected"]').waitFor();
    await expect.poll(() => guestInMembers().getAttribute("data-online"), { timeout: 15_000 }).toBe("true");
    await entersWithoutPassword(G);
  });

  it("ends membership only when the member leaves: then the password is asked again", async () => {
    await G.page.getByTestId("leave-room").click();
    await expect.poll(() => O.page.getByTestId("members").innerText()).not.toContain(guest);
    await G.page.locator(`[data-room="${ROOM}"]`).click();
    await G.page.getByTestId("room-password").waitFor();
    expect([...O.problems, ...G.problems]).toEqual([]);
  });
});
