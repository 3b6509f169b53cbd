/**
 * Sala issue 17, item 2 (the web part), in real Chromium on a two-node cluster: a kick bars the
 * user from the room until the owner lifts it. The owner (node 1) sees the kicked user under
 * "Barred", also after coming back into the room; the kicked user (node 2) is refused with the
 * BANNED message; the owner's "Unban" lets them join again.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRoom, joinRoom, openUser, register, screenshot, startBrowserCluster, type BrowserCluster, type UserPage } from "./support/browser-cluster.js";

const PASSWORD = "correct horse battery";
const run = Date.now().toString(36).slice(-4);
const owner = `olga_${run}`;
const guest = `beto_${run}`;
const ROOM = `Portaria ${run}`;

let cluster: BrowserCluster;
let O: UserPage, G: UserPage;

beforeAll(async () => {
  cluster = await startBrowserCluster(2);
  O = await openUser(cluster, cluster.nodes[0]!);
  G = await openUser(cluster, cluster.nodes[1]!);
  await register(O, owner, PASSWORD);
  await register(G, guest, PASSWORD);
  await createRoom(O, ROOM);
  await joinRoom(G, ROOM);
  await O.page.getByTestId("members").locator(`[data-user="${guest}"]`).waitFor();
}, 90_000);
afterAll(async () => {
  await cluster?.close();
});

const barred = (user: UserPage) => user.page.getByTestId("banned");
/** The guest's entry in the owner's Barred list (waits for it, briefly). */
const guestBarred = () => barred(O).locator(`[data-user="${guest}"]`).waitFor({ timeout: 10_000 });

describe("a kick bars the user until the owner lifts it", () => {
  it("shows the kicked user under Barred for the owner, live and after rejoining the room", async () => {
    expect(await barred(O).count()).toBe(0); // nobody barred: no list
    await O.page.getByRole("button", { name: `Kick ${guest}` }).click();
    await expect.poll(() => G.page.getByTestId("lobby-notice").innerText()).toContain(`${owner} removed you from ${ROOM}`);
    await expect.poll(() => O.page.getByTestId("members").innerText()).not.toContain(guest);
    await guestBarred();
    await screenshot(O.page, "barred-list");

    // The list comes with the join too (only the owner gets it).
    await O.page.getByTestId("leave-room").click();
    await O.page.locator(`[data-room="${ROOM}"]`).click();
    await O.page.getByTestId("room").waitFor();
    await guestBarred();
  });

  it("refuses the barred user's join with the BANNED message, and lets them in after Unban", async () => {
    await G.page.locator(`[data-room="${ROOM}"]`).click();
    await expect.poll(() => G.page.getByTestId("join-error").innerText()).toContain("The owner has barred you from this room.");
    expect(await G.page.getByTestId("room").count()).toBe(0);

    await O.page.getByRole("button", { name: `Unban ${guest}` }).click({ timeout: 10_000 });
    await expect.poll(() => barred(O).count()).toBe(0);

    await G.page.locator(`[data-room="${ROOM}"]`).click();
    await G.page.getByTestId("room").waitFor();
    await expect.poll(() => O.page.getByTestId("members").innerText()).toContain(guest);
    expect([...O.problems, ...G.problems]).toEqual([]);
  });
});
