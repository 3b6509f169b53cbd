/**
 * Issue 21, item 1 (the app shell) and part of 2 (attention), in real Chromium with two users on
 * two nodes: the sidebar lists the rooms the user is in and their conversations with unread counts
 * and a mention marker; messages of a room not shown keep arriving and count unread; the tab's
 * title carries the total; the address names what is shown (`/`, `/r/<room>`, `/dm/<user>`), so
 * back and forward, a reload and a shared link come back to it.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRoom, joinRoom, openUser, register, screenshot, startBrowserCluster, type BrowserCluster, type UserPage } from "./support/browser-cluster.js";

const PASSWORD = "correct horse battery";
const run = Date.now().toString(36).slice(-4);
const ana = `ana_${run}`;
const bea = `bea_${run}`;
const FIRST = `Cozinha ${run}`;
const SECOND = `Varanda ${run}`;

let cluster: BrowserCluster;
let A: UserPage, B: UserPage;
const ids: Record<string, string> = {};

const sidebarRoom = (user: UserPage, name: string) => user.page.locator(`[data-sidebar-room="${name}"]`);
const unreadOf = (user: UserPage, name: string) => sidebarRoom(user, name).getByTestId("room-unread");
const shownRoom = (user: UserPage) => user.page.getByTestId("room").getAttribute("data-room-id");
const path = (user: UserPage) => new URL(user.page.url()).pathname;

async function say(user: UserPage, text: string): Promise<void> {
  await user.page.getByTestId("composer").fill(text);
  await user.page.getByTestId("composer").press("Enter");
  await user.page.getByTestId("feed").getByText(text).waitFor();
}

beforeAll(async () => {
  cluster = await startBrowserCluster(2);
  A = await openUser(cluster, cluster.nodes[0]!);
  B = await openUser(cluster, cluster.nodes[1]!);
  await register(A, ana, PASSWORD);
  await register(B, bea, PASSWORD);
  for (const name of [FIRST, SECOND]) {
    await createRoom(A, name);
    ids[name] = (await shownRoom(A))!;
    await joinRoom(B, name);
    await B.page.getByTestId("sidebar-lobby").click();
    await A.page.getByTestId("sidebar-lobby").click();
  }
}, 120_000);
afterAll(async () => {
  await cluster?.close();
});

describe("the app shell", () => {
  it("lists the rooms the user is in, and shows one while the others keep counting unread", async () => {
    await expect.poll(() => B.page.getByTestId("sidebar-rooms").innerText()).toContain(FIRST);
    expect(await B.page.getByTestId("sidebar-rooms").innerText()).toContain(SECOND);
    await sidebarRoom(B, FIRST).click();
    await expect.poll(() => shownRoom(B)).toBe(ids[FIRST]);
    expect(path(B)).toBe(`/r/${ids[FIRST]}`);

    await sidebarRoom(A, SECOND).click();
    await say(A, "the terrace is free");
    await say(A, `@${bea} come up`);
    await expect.poll(() => unreadOf(B, SECOND).innerText()).toMatch(/^2/);
    await sidebarRoom(B, SECOND).getByTestId("room-mention").waitFor();
    await expect.poll(() => B.page.title()).toBe("(2) Sala");
    expect(await unreadOf(B, FIRST).count()).toBe(0); // the room shown reads as it comes
    await screenshot(B.page, "app-shell-unread");

    await sidebarRoom(B, SECOND).click();
    await expect.poll(() => shownRoom(B)).toBe(ids[SECOND]);
    expect(await B.page.getByTestId("feed").innerText()).toContain("the terrace is free");
    // The "new messages" divider sits right before the first of them.
    expect(await B.page.locator('[data-testid="new-divider"] + li.message').innerText()).toContain("the terrace is free");
    // Grouped: Ana's second message, right after her first, carries no name; the day is said once.
    expect(await B.page.getByTestId("day-separator").allInnerTexts()).toEqual(["Today"]);
    const mention = B.page.getByTestId("feed").locator("li.message", { hasText: "come up" });
    expect(await mention.getAttribute("class")).toContain("grouped");
    expect(await mention.locator(`[data-user="${ana}"]`).count()).toBe(0);
    await expect.poll(() => unreadOf(B, SECOND).count()).toBe(0);
    expect(await sidebarRoom(B, SECOND).getByTestId("room-mention").count()).toBe(0);
    await expect.poll(() => B.page.title()).toBe("Sala");
    // The mention stands out; a link is a link, safely, and `javascript:` is only text.
    expect(await B.page.getByTestId("feed").getByTestId("mention").innerText()).toBe(`@${bea}`);
    await say(A, "menu at https://example.com/menu or javascript:alert(1)");
    const links = B.page.getByTestId("feed").locator("a");
    await expect.poll(() => links.count()).toBe(1);
    expect(await links.getAttribute("href")).toBe("https://example.com/menu");
    expect(await links.getAttribute("rel")).toBe("noopener noreferrer");
    expect(await links.getAttribute("target")).toBe("_blank");
  });

  it("names what is shown in the address: back and forward, the lobby, a reload and a shared link come back to it", async () => {
    await B.page.goBack();
    await expect.poll(() => shownRoom(B)).toBe(ids[FIRST]);
    await B.page.goForward();
    await expect.poll(() => shownRoom(B)).toBe(ids[SECOND]);

    await B.page.getByTestId("sidebar-lobby").click();
    await B.page.getByTestId("online-users").waitFor();
    expect(path(B)).toBe("/");
    await say(A, "still arriving while you are in the lobby");
    await expect.poll(() => unreadOf(B, SECOND).innerText()).toMatch(/^1/);
    await B.page.goBack();
    await expect.poll(() => shownRoom(B)).toBe(ids[SECOND]);

    await B.page.reload();
    await expect.poll(() => shownRoom(B)).toBe(ids[SECOND]);
    await expect.poll(() => B.page.getByTestId("sidebar-rooms").innerText()).toContain(FIRST);

    const shared = await B.context.newPage();
    await shared.goto(`${cluster.nodes[0]!.url}/r/${ids[FIRST]}`);
    await expect.poll(() => shared.getByTestId("room").getAttribute("data-room-id")).toBe(ids[FIRST]);
    await shared.close();
  });

  it("writes several lines with Shift+Enter, counts down to the limit and never cuts a text", async () => {
    const composer = A.page.getByTestId("composer");
    await composer.click();
    await composer.pressSequentially("line one");
    await composer.press("Shift+Enter");
    await composer.pressSequentially("line two");
    await composer.press("Enter");
    await expect.poll(() => B.page.getByTestId("feed").innerText()).toContain("line one\nline two");

    await composer.fill("x".repeat(1900));
    expect(await A.page.getByTestId("composer-counter").innerText()).toBe("100 characters left");
    await composer.fill("y".repeat(2003));
    expect(await A.page.getByTestId("composer-counter").innerText()).toBe("3 characters too many: shorten it to send");
    expect(await composer.inputValue()).toHaveLength(2003); // nothing cut
    await composer.press("Enter");
    expect(await composer.inputValue()).toHaveLength(2003); // not sent either
    expect(await A.page.getByTestId("room").locator('.composer button[type="submit"]').isDisabled()).toBe(true);
    await composer.fill("");

    // A room name is not cut either: it says by how much it is over, and cannot be created.
    await A.page.getByTestId("sidebar-lobby").click();
    await A.page.getByTestId("room-name").fill("n".repeat(45));
    expect(await A.page.getByTestId("room-name-length").innerText()).toBe("5 characters too many (at most 40)");
    expect(await A.page.getByTestId("room-name").inputValue()).toHaveLength(45);
    expect(await A.page.locator('[data-testid="create-room"] button[type="submit"]').isDisabled()).toBe(true);
    await A.page.getByTestId("room-name").fill("");
    await sidebarRoom(A, SECOND).click();
    await expect.poll(() => shownRoom(A)).toBe(ids[SECOND]);
  });

  it("lets the author edit and delete their own message, for everyone and in the history", async () => {
    await sidebarRoom(B, SECOND).click();
    await say(A, "lunch at noon");
    const mine = A.page.getByTestId("feed").locator("li.message", { hasText: "lunch at noon" });
    const theirs = B.page.getByTestId("feed").locator("li.message", { hasText: "lunch" });
    await theirs.waitFor();
    expect(await theirs.getByTestId("edit-message").count()).toBe(0); // not Bea's to change

    await mine.getByTestId("edit-message").click();
    const editor = A.page.getByTestId("edit-composer");
    expect(await editor.inputValue()).toBe("lunch at noon");
    await editor.fill("lunch at one");
    await editor.press("Enter");
    await expect.poll(() => theirs.innerText()).toContain("lunch at one");
    expect(await theirs.getByTestId("edited").innerText()).toBe("(edited)");

    await B.page.reload(); // the history has the edit too
    await expect.poll(() => B.page.getByTestId("feed").innerText()).toContain("lunch at one");
    expect(await B.page.getByTestId("feed").innerText()).not.toContain("lunch at noon");

    const edited = A.page.getByTestId("feed").locator("li.message", { hasText: "lunch at one" });
    const seq = await edited.getAttribute("data-seq");
    await edited.getByTestId("delete-message").click();
    await A.page.getByTestId("delete-message-confirm").click();
    const gone = B.page.locator(`[data-testid="feed"] li.message[data-seq="${seq}"]`);
    await expect.poll(() => gone.innerText()).toContain("This message was deleted.");
    expect(await B.page.getByTestId("feed").innerText()).not.toContain("lunch at one");
    await B.page.reload();
    await expect.poll(() => gone.innerText()).toContain("This message was deleted.");
  });

  it("keeps the reader's place when they read back, and offers a jump to the latest", async () => {
    for (let i = 1; i <= 14; i++) await say(A, `filler ${i}`);
    const feed = B.page.getByTestId("feed");
    await feed.getByText("filler 14").waitFor();
    await feed.evaluate((list) => list.scrollTo({ top: 0 }));
    await say(A, "something new below");
    await B.page.getByTestId("jump-latest").waitFor();
    expect(await feed.evaluate((list) => list.scrollTop)).toBeLessThan(50); // not moved
    await B.page.getByTestId("jump-latest").click();
    await expect.poll(() => feed.evaluate((list) => list.scrollHeight - list.scrollTop - list.clientHeight)).toBeLessThan(50);
    expect(await B.page.getByTestId("jump-latest").count()).toBe(0);
  });

  it("lists conversations with their unread counts, and /dm/<user> opens one", async () => {
    await A.page.locator(`[data-testid="members"] [data-user="${bea}"]`).click({ timeout: 10_000 }).catch(async (error: unknown) => {
      await screenshot(A.page, "app-shell-no-thread");
      throw error;
    });
    await A.page.getByTestId("whisper-composer").fill("a word in private");
    await A.page.getByTestId("whisper-composer").press("Enter");
    await expect.poll(() => B.page.locator(`[data-sidebar-dm="${ana}"]`).innerText()).toMatch(/1/);
    await B.page.locator(`[data-sidebar-dm="${ana}"]`).click();
    await expect.poll(() => path(B)).toBe(`/dm/${ana}`);
    await expect.poll(() => B.page.getByTestId("conversations").innerText()).toContain("a word in private");
    await B.page.reload();
    await expect.poll(() => B.page.getByTestId("conversations").innerText()).toContain("a word in private");
  });

  it("notifies on the desktop, once turned on, of mentions and whispers the user is not looking at", async () => {
    // The browser's Notification, recorded: what the page would show, and the permission prompt.
    await B.context.addInitScript(() => {
      const shown: Array<{ title: string; body: string }> = [];
      (window as unknown as { shownNotes: typeof shown }).shownNotes = shown;
      class Recorded {
        static permission = "default";
        static async requestPermission() {
          Recorded.permission = "granted";
          return "granted";
        }
        onclick: (() => void) | null = null;
        constructor(title: string, options: { body: string }) {
          shown.push({ title, body: options.body });
        }
        close() {}
      }
      (window as unknown as { Notification: unknown }).Notification = Recorded;
    });
    await B.page.reload();
    await B.page.getByTestId("sidebar-lobby").click();
    const notes = () => B.page.evaluate(() => (window as unknown as { shownNotes: unknown[] }).shownNotes);
    await say(A, `@${bea} before they are on`);
    await expect.poll(() => unreadOf(B, SECOND).count()).toBe(1);
    expect(await notes()).toEqual([]); // off until the user turns them on

    await B.page.getByTestId("notify-toggle").click(); // a click: the permission prompt comes from a gesture
    expect(await B.page.getByTestId("notify-toggle").getAttribute("aria-pressed")).toBe("true");
    await say(A, `@${bea} now you hear it`);
    await expect.poll(notes).toEqual([{ title: `${ana} mentioned you in ${SECOND}`, body: `@${bea} now you hear it` }]);
    await say(A, "no mention, no notification");
    await A.page.locator(`[data-testid="members"] [data-user="${bea}"]`).click();
    await A.page.getByTestId("whisper-composer").fill("psst");
    await A.page.getByTestId("whisper-composer").press("Enter");
    await expect.poll(notes).toHaveLength(2);
    expect((await notes())[1]).toEqual({ title: `${ana} whispered to you`, body: "psst" });
  });

  it("leaves a room only when asked: the sidebar drops it, the lobby shows, the focus lands on the room's entry", async () => {
    const nativeDialogs: string[] = [];
    B.page.on("dialog", (dialog) => void nativeDialogs.push(dialog.message()));
    await sidebarRoom(B, FIRST).click();
    await expect.poll(() => shownRoom(B)).toBe(ids[FIRST]);
    await B.page.getByTestId("leave-room").click();
    await B.page.getByTestId("online-users").waitFor();
    expect(path(B)).not.toMatch(/^\/r\//); // the lobby (with a conversation beside it, if one is open)
    await expect.poll(() => sidebarRoom(B, FIRST).count()).toBe(0);
    expect(await sidebarRoom(B, SECOND).count()).toBe(1);
    await expect.poll(() => B.page.evaluate(() => document.activeElement?.getAttribute("data-room"))).toBe(FIRST);
    expect(nativeDialogs).toEqual([]);
    expect([...A.problems, ...B.problems]).toEqual([]);
  });
});
