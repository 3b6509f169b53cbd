/**
 * Issue 21, item 5 ("on a phone one scroll area and the composer pinned to the bottom"), in real
 * Chromium with two users on two nodes: Bea on a 390 × 844 phone, Ana at a desk. The page itself
 * never scrolls: the lobby scrolls as a whole, a room's feed is its one scroll area with the
 * composer pinned under it, and the sidebar, the members and a conversation unfold over it. What a
 * panel covers is out of reach meanwhile (inert: Tab stays in the panel), the focus goes into the
 * panel when it unfolds and back to its button when Escape or the button folds it.
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

/** What has the focus: its test id, else its id, else its user name or tag. */
const focused = (page: Page) =>
  page.evaluate(() => {
    const el = document.activeElement;
    return el?.getAttribute("data-testid") || el?.id || el?.getAttribute("data-user") || el?.tagName || "";
  });

/**
 * Presses Tab `presses` times as a keyboard user does, noting where the focus lands each time and
 * whether it is inside `covered` (what a panel lies over).
 */
async function tabThrough(page: Page, presses: number, covered: string): Promise<{ stops: string[]; intoCovered: string[] }> {
  const stops: string[] = [];
  const intoCovered: string[] = [];
  for (let i = 0; i < presses; i++) {
    await page.keyboard.press("Tab");
    const stop = await focused(page);
    stops.push(stop);
    if (await page.evaluate((selector) => (document.activeElement?.closest(selector) ?? null) !== null, covered)) intoCovered.push(stop);
  }
  return { stops, intoCovered };
}

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

  it("the header's button is the first thing Tab reaches in the header, where it is shown first", async () => {
    await B.page.locator(".skip-link").focus();
    await B.page.keyboard.press("Tab");
    expect(await focused(B.page)).toBe("nav-toggle");
    await B.page.keyboard.press("Shift+Tab");
    expect(await B.page.evaluate(() => document.activeElement?.className)).toBe("skip-link");
    // Seen first too: the leftmost of the header's parts.
    const lefts = await B.page.locator(".app-header > *").evaluateAll((parts) =>
      parts.filter((part) => part.getClientRects().length > 0).map((part) => ({ testid: part.getAttribute("data-testid"), left: part.getBoundingClientRect().left })),
    );
    expect(lefts[0]!.testid).toBe("nav-toggle");
    expect(Math.min(...lefts.map((part) => part.left))).toBe(lefts[0]!.left);
    // At a desk it is not there at all: Tab goes on to the header's other controls.
    await A.page.locator(".skip-link").focus();
    await A.page.keyboard.press("Tab");
    expect(await A.page.getByTestId("nav-toggle").isVisible()).toBe(false);
    expect(await focused(A.page)).not.toBe("nav-toggle");
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

  it("the members unfold over the feed from the room's button, the feed and composer out of Tab's reach; Escape folds them", async () => {
    const members = B.page.getByTestId("members");
    expect(await members.isVisible()).toBe(false);
    const toggle = B.page.getByTestId("members-toggle");
    expect(await toggle.innerText()).toMatch(/Members\s*2/);
    await toggle.focus();
    await B.page.keyboard.press("Enter");
    expect(await toggle.getAttribute("aria-expanded")).toBe("true");
    expect(await members.innerText()).toContain(ana);
    // The focus is in the list (its heading), and Tab goes round the page without the feed or the
    // composer under it (they come earlier in the page than the list).
    await expect.poll(() => focused(B.page)).toBe("members-title");
    const walk = await tabThrough(B.page, 20, ".conversation");
    expect(walk.intoCovered).toEqual([]);
    expect(walk.stops).toContain(ana);
    expect(walk.stops).toContain("members-toggle");
    expect(walk.stops.indexOf("members-title")).toBe(-1); // a heading: focused on opening, not a Tab stop
    await expectAccessible(B.page, "room members (390 px)");

    // Turned to a desk's width, the list sits beside the feed and covers nothing; back, it does again.
    const conversationInert = () => B.page.locator(".room .conversation").evaluate((el) => (el as HTMLElement).inert);
    expect(await conversationInert()).toBe(true);
    await B.page.setViewportSize({ width: 1280, height: 820 });
    await expect.poll(conversationInert).toBe(false);
    await B.page.setViewportSize(PHONE);
    await expect.poll(conversationInert).toBe(true);

    // Escape folds the list, the focus back on its button, and the feed and composer in reach again.
    await members.locator(`[data-user="${ana}"]`).focus();
    await B.page.keyboard.press("Escape");
    expect(await members.isVisible()).toBe(false);
    expect(await toggle.getAttribute("aria-expanded")).toBe("false");
    expect(await focused(B.page)).toBe("members-toggle");
    expect(await conversationInert()).toBe(false);
    expect((await tabThrough(B.page, 15, ".room-header")).stops).toContain("composer");

    // The button folds it too (the focus stays on it).
    await toggle.click();
    await expect.poll(() => focused(B.page)).toBe("members-title");
    await toggle.click();
    expect(await members.isVisible()).toBe(false);
    expect(await focused(B.page)).toBe("members-toggle");
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
    // The focus on the sidebar's first link; Tab goes round the header and the sidebar, never into
    // the room or the conversations under it.
    await expect.poll(() => focused(B.page)).toBe("sidebar-lobby");
    const walk = await tabThrough(B.page, 20, "main, .conversations");
    expect(walk.intoCovered).toEqual([]);
    expect(walk.stops).toContain("nav-toggle");
    expect(walk.stops).toContain("sidebar-lobby");
    const cover = (await sidebar.boundingBox())!;
    expect(cover.width).toBe(PHONE.width);
    expect(await B.page.locator(`[data-sidebar-room="${PORCH}"]`).getByTestId("room-unread").innerText()).toMatch(/^1/);
    await screenshot(B.page, "phone-sidebar");
    await expectAccessible(B.page, "sidebar unfolded (390 px)");

    await B.page.keyboard.press("Escape");
    expect(await sidebar.isVisible()).toBe(false);
    expect(await B.page.evaluate(() => document.activeElement?.getAttribute("data-testid"))).toBe("nav-toggle");
    expect(await B.page.locator("main").evaluate((el) => (el as HTMLElement).inert)).toBe(false);

    await toggle.click();
    await B.page.locator(`[data-sidebar-room="${PORCH}"]`).click();
    await B.page.getByTestId("feed").getByText("the porch is sunny").waitFor();
    expect(await sidebar.isVisible()).toBe(false);
    await expect.poll(() => toggle.innerText()).toBe("Rooms");
  });

  it("a conversation opened from a name covers the room, its composer at the bottom, and closes back", async () => {
    await B.page.getByTestId("members-toggle").click();
    const name = B.page.getByTestId("members").locator(`[data-user="${ana}"]`);
    await name.focus();
    await B.page.keyboard.press("Enter");
    const thread = B.page.getByTestId("thread");
    await thread.waitFor();
    expect(await B.page.getByTestId("room").isVisible()).toBe(true); // under the conversation
    // The focus in its composer; Tab goes round the header and the conversation, not the room.
    await expect.poll(() => focused(B.page)).toBe("whisper-composer");
    const walk = await tabThrough(B.page, 20, "main");
    expect(walk.intoCovered).toEqual([]);
    expect(walk.stops).toContain("nav-toggle");
    expect(walk.stops).toContain("whisper-composer");
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
    // The focus back on the name that opened it, in the members still unfolded; Escape folds those.
    await expect.poll(() => focused(B.page)).toBe(ana);
    await B.page.keyboard.press("Escape");
    expect(await B.page.getByTestId("members").isVisible()).toBe(false);
    expect(await focused(B.page)).toBe("members-toggle");

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
