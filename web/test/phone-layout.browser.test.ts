/**
 * Issue 21, item 5 ("on a phone one scroll area and the composer pinned to the bottom"), in real
 * Chromium with two users on two nodes: Bea on a 390 × 844 phone, Ana at a desk. The page itself
 * never scrolls: the lobby scrolls as a whole, a room's feed is its one scroll area with the
 * composer pinned under it, and the sidebar, the members and a conversation unfold over it.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Page } from "playwright-core";
import { createRoom, joinRoom, openUser, register, screenshot, startBrowserCluster, type BrowserCluster, type UserPage } from "./support/browser-cluster.js";
import { expectAccessible } from "./support/accessibility.js";

const PASSWORD = "correct horse battery";
const run = Date.now().toString(36).slice(-4);
const ana = `ana_${run}`;
const bea = `bea_${run}`;
const KITCHEN = `Cozinha ${run}`;
const PORCH = `Varanda ${run}`;
const PHONE = { width: 390, height: 844 };

let cluster: BrowserCluster;
let A: UserPage, B: UserPage;

/** How far the page itself scrolls (0: only its parts do). */
const pageOverflow = (page: Page) =>
  page.evaluate(() => ({
    down: document.documentElement.scrollHeight - window.innerHeight,
    sideways: document.documentElement.scrollWidth - window.innerWidth,
  }));
const box = async (page: Page, testId: string) => (await page.getByTestId(testId).boundingBox())!;

async function say(user: UserPage, text: string): Promise<void> {
  await user.page.getByTestId("composer").fill(text);
  await user.page.getByTestId("composer").press("Enter");
  await user.page.getByTestId("feed").getByText(text, { exact: true }).waitFor();
}

beforeAll(async () => {
  cluster = await startBrowserCluster(2);
  A = await openUser(cluster, cluster.nodes[0]!);
  B = await openUser(cluster, cluster.nodes[1]!, PHONE);
  await register(A, ana, PASSWORD);
  await register(B, bea, PASSWORD);
  await createRoom(A, PORCH);
  await A.page.getByTestId("sidebar-lobby").click();
  await createRoom(A, KITCHEN);
}, 120_000);
afterAll(async () => {
  await cluster?.close();
});

describe("on a phone", () => {
  it("the lobby is the one scroll area, the sidebar folded behind a button", async () => {
    await B.page.getByTestId("online-users").waitFor();
    expect(await pageOverflow(B.page)).toEqual({ down: 0, sideways: 0 });
    expect(await B.page.getByTestId("sidebar").isVisible()).toBe(false);
    const toggle = B.page.getByTestId("nav-toggle");
    expect(await toggle.getAttribute("aria-expanded")).toBe("false");
    const main = await B.page.locator("main").evaluate((el) => ({ overflowY: getComputedStyle(el).overflowY, bottom: el.getBoundingClientRect().bottom }));
    expect(main).toEqual({ overflowY: "auto", bottom: PHONE.height });
  });

  it("in a room, the feed scrolls and the composer stays pinned to the bottom", async () => {
    await joinRoom(B, KITCHEN);
    for (let i = 1; i <= 30; i++) await say(A, `line ${i} of the recipe`);
    await B.page.getByTestId("feed").getByText("line 30 of the recipe", { exact: true }).waitFor();

    expect(await pageOverflow(B.page)).toEqual({ down: 0, sideways: 0 });
    const feed = B.page.getByTestId("feed");
    expect(await feed.evaluate((el) => el.scrollHeight > el.clientHeight)).toBe(true);
    const composer = await box(B.page, "composer");
    expect(composer.y + composer.height).toBeLessThanOrEqual(PHONE.height);
    expect(composer.y + composer.height).toBeGreaterThan(PHONE.height - 90);
    // The latest line is in view, right above the composer.
    const latest = (await feed.getByText("line 30 of the recipe", { exact: true }).boundingBox())!;
    expect(latest.y + latest.height).toBeLessThanOrEqual(composer.y);
    expect(latest.y).toBeGreaterThan(0);
    await screenshot(B.page, "phone-shell");

    // Reading back moves the feed alone: the composer stays where it was, and a new line is
    // announced by "jump to the latest" rather than scrolled to.
    await feed.evaluate((el) => (el.scrollTop = 0));
    await say(A, "line 31 of the recipe");
    await B.page.getByTestId("jump-latest").waitFor();
    expect(await box(B.page, "composer")).toEqual(composer);
    expect(await pageOverflow(B.page)).toEqual({ down: 0, sideways: 0 });
    await B.page.getByTestId("jump-latest").click();
    const last = (await feed.getByText("line 31 of the recipe", { exact: true }).boundingBox())!;
    expect(last.y + last.height).toBeLessThanOrEqual(composer.y);
  });

  it("the members unfold over the feed from the room's button", async () => {
    const members = B.page.getByTestId("members");
    expect(await members.isVisible()).toBe(false);
    const toggle = B.page.getByTestId("members-toggle");
    expect(await toggle.innerText()).toMatch(/Members\s*2/);
    await toggle.click();
    expect(await toggle.getAttribute("aria-expanded")).toBe("true");
    expect(await members.innerText()).toContain(ana);
    await expectAccessible(B.page, "room members (390 px)");
    await toggle.click();
    expect(await members.isVisible()).toBe(false);
  });

  it("the header's button unfolds the sidebar with the unread count; a room picked folds it; Escape too", async () => {
    // From a room, the lobby is in the sidebar.
    await B.page.getByTestId("nav-toggle").click();
    await B.page.getByTestId("sidebar-lobby").click();
    await joinRoom(B, PORCH);
    await B.page.getByTestId("nav-toggle").click();
    await B.page.locator(`[data-sidebar-room="${KITCHEN}"]`).click();
    await expect.poll(() => B.page.getByTestId("room").getAttribute("data-room-id")).toBeTruthy();
    expect(await B.page.getByTestId("sidebar").isVisible()).toBe(false);
    expect(await B.page.getByTestId("room").innerText()).toContain(KITCHEN);

    // Ana writes in the porch, which Bea is not looking at: the header's button counts it.
    await A.page.locator(`[data-sidebar-room="${PORCH}"]`).click();
    await say(A, "the porch is sunny");
    const toggle = B.page.getByTestId("nav-toggle");
    await expect.poll(() => toggle.innerText()).toMatch(/Rooms\s*1/);
    await toggle.click();
    expect(await toggle.getAttribute("aria-expanded")).toBe("true");
    const sidebar = B.page.getByTestId("sidebar");
    expect(await sidebar.isVisible()).toBe(true);
    const cover = (await sidebar.boundingBox())!;
    expect(cover.width).toBe(PHONE.width);
    expect(await B.page.locator(`[data-sidebar-room="${PORCH}"]`).getByTestId("room-unread").innerText()).toMatch(/^1/);
    await screenshot(B.page, "phone-sidebar");
    await expectAccessible(B.page, "sidebar unfolded (390 px)");

    await B.page.keyboard.press("Escape");
    expect(await sidebar.isVisible()).toBe(false);
    expect(await B.page.evaluate(() => document.activeElement?.getAttribute("data-testid"))).toBe("nav-toggle");

    await toggle.click();
    await B.page.locator(`[data-sidebar-room="${PORCH}"]`).click();
    await B.page.getByTestId("feed").getByText("the porch is sunny").waitFor();
    expect(await sidebar.isVisible()).toBe(false);
    await expect.poll(() => toggle.innerText()).toBe("Rooms");
  });

  it("a conversation opened from a name covers the room, its composer at the bottom, and closes back", async () => {
    await B.page.getByTestId("members-toggle").click();
    await B.page.getByTestId("members").locator(`[data-user="${ana}"]`).click();
    const thread = B.page.getByTestId("thread");
    await thread.waitFor();
    expect(await B.page.getByTestId("room").isVisible()).toBe(true); // under the conversation
    const composer = await box(B.page, "whisper-composer");
    expect(composer.y + composer.height).toBeLessThanOrEqual(PHONE.height);
    expect(composer.y + composer.height).toBeGreaterThan(PHONE.height - 90);
    await B.page.getByTestId("whisper-composer").fill("see you there");
    await B.page.getByTestId("whisper-composer").press("Enter");
    await thread.getByText("see you there").waitFor();
    expect(await pageOverflow(B.page)).toEqual({ down: 0, sideways: 0 });
    await expectAccessible(B.page, "conversation (390 px)");

    await thread.getByRole("button", { name: "Close conversation" }).click();
    expect(await thread.count()).toBe(0);
    expect(await B.page.getByTestId("conversations").isVisible()).toBe(false);
    expect(await B.page.getByTestId("composer").isVisible()).toBe(true);

    // Open again, then a room picked in the sidebar: the room, not the conversation over it.
    await B.page.getByTestId("nav-toggle").click();
    await B.page.locator(`[data-sidebar-dm="${ana}"]`).click();
    await thread.waitFor();
    await B.page.getByTestId("nav-toggle").click();
    await B.page.locator(`[data-sidebar-room="${KITCHEN}"]`).click();
    await expect.poll(() => thread.count()).toBe(0);
    expect(await B.page.getByTestId("room").innerText()).toContain(KITCHEN);
    expect(await B.page.getByTestId("composer").isVisible()).toBe(true);
  });
});
