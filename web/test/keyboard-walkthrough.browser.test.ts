/**
 * Issue 21, item 6: the seed's manual test walked with the keyboard alone, in real Chromium on two
 * nodes — no click, no fill: Tab and Shift+Tab to move, Enter and Space to act, keys to type. Ana
 * (node 1) and Bruno (node 2) register, Ana creates a private room, Bruno joins it with its
 * password, they talk, Bruno whispers to Ana, Bruno leaves; each step is reached from where the
 * focus is, so every control it uses is reachable and operable without a mouse.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Page } from "playwright-core";
import { openUser, startBrowserCluster, type BrowserCluster, type UserPage } from "./support/browser-cluster.js";

const PASSWORD = "correct horse battery";
const run = Date.now().toString(36).slice(-4);
const ana = `kana_${run}`;
const bruno = `kbruno_${run}`;
const ROOM = `Teclado ${run}`;
const ROOM_PASSWORD = "so-teclas";

let cluster: BrowserCluster;
let A: UserPage, B: UserPage;

beforeAll(async () => {
  cluster = await startBrowserCluster(2);
  A = await openUser(cluster, cluster.nodes[0]!);
  B = await openUser(cluster, cluster.nodes[1]!);
}, 60_000);
afterAll(async () => {
  await cluster?.close();
});

/**
 * Presses Tab (or Shift+Tab) until the focused element matches `selector`, as a keyboard user
 * moves through the page; fails when it is not reached within `limit` presses.
 */
async function tabTo(page: Page, selector: string, { back = false, limit = 80 } = {}): Promise<void> {
  for (let i = 0; i < limit; i++) {
    if (await page.evaluate((s) => document.activeElement?.matches(s) ?? false, selector)) return;
    await page.keyboard.press(back ? "Shift+Tab" : "Tab");
  }
  throw new Error(`${selector} not reached with ${back ? "Shift+Tab" : "Tab"} in ${limit} presses`);
}

async function typeInto(page: Page, selector: string, text: string): Promise<void> {
  await tabTo(page, selector);
  await page.keyboard.type(text);
}

async function registerByKeyboard(user: UserPage, name: string): Promise<void> {
  const { page } = user;
  await page.waitForURL("**/login");
  await tabTo(page, '[data-testid="tab-login"]', { back: true });
  await page.keyboard.press("ArrowRight"); // the register tab (the tabs pattern)
  await typeInto(page, '[data-testid="username"]', name);
  await typeInto(page, '[data-testid="password"]', PASSWORD);
  await page.keyboard.press("Enter");
  await page.locator('[data-testid="connection"][data-state="connected"]').waitFor();
}

describe("the seed's manual test, with the keyboard alone", () => {
  it("1–2. registers both, each seeing the other online", async () => {
    await registerByKeyboard(A, ana);
    await registerByKeyboard(B, bruno);
    await expect.poll(() => A.page.getByTestId("online-users").innerText()).toContain(bruno);
  });

  it("3. Ana creates a private room", async () => {
    await typeInto(A.page, '[data-testid="room-name"]', ROOM);
    await typeInto(A.page, '[data-testid="room-create-password"]', ROOM_PASSWORD);
    await A.page.keyboard.press("Enter");
    await A.page.getByTestId("room").waitFor();
    // The focus is in the composer, ready to write.
    expect(await A.page.evaluate(() => document.activeElement?.getAttribute("data-testid"))).toBe("composer");
  });

  it("4. Bruno joins it with its password", async () => {
    await B.page.locator(`[data-room="${ROOM}"]`).waitFor();
    await tabTo(B.page, `[data-room="${ROOM}"]`);
    await B.page.keyboard.press("Enter");
    // The password prompt takes the focus.
    await expect.poll(() => B.page.evaluate(() => document.activeElement?.getAttribute("data-testid"))).toBe("room-password");
    await B.page.keyboard.type(ROOM_PASSWORD);
    await B.page.keyboard.press("Enter");
    await B.page.getByTestId("room").waitFor();
  });

  it("5. they talk, each message on both sides", async () => {
    await tabTo(A.page, '[data-testid="composer"]');
    await A.page.keyboard.type("Oi, Bruno, só com o teclado");
    await A.page.keyboard.press("Enter");
    await expect.poll(() => B.page.getByTestId("feed").innerText()).toContain("Oi, Bruno, só com o teclado");
    await tabTo(B.page, '[data-testid="composer"]');
    await B.page.keyboard.type("Oi, Ana");
    await B.page.keyboard.press("Shift+Enter");
    await B.page.keyboard.type("em duas linhas");
    await B.page.keyboard.press("Enter");
    await expect.poll(() => A.page.getByTestId("feed").innerText()).toContain("Oi, Ana\nem duas linhas");
  });

  it("6. Bruno whispers to Ana by reaching her name", async () => {
    await tabTo(B.page, `[data-testid="members"] [data-user="${ana}"]`);
    await B.page.keyboard.press("Enter");
    await expect.poll(() => B.page.evaluate(() => document.activeElement?.getAttribute("data-testid"))).toBe("whisper-composer");
    await B.page.keyboard.type("um segredo");
    await B.page.keyboard.press("Enter");
    await expect.poll(() => A.page.getByTestId("feed").innerText()).toContain("um segredo");
  });

  it("7. Bruno leaves: back in the lobby, the focus on the room's entry; Ana sees him go", async () => {
    await tabTo(B.page, '[data-testid="leave-room"]', { back: true });
    await B.page.keyboard.press("Enter");
    await B.page.getByTestId("online-users").waitFor();
    await expect.poll(() => B.page.evaluate(() => document.activeElement?.getAttribute("data-room"))).toBe(ROOM);
    await expect.poll(() => A.page.getByTestId("members").innerText()).not.toContain(bruno);
    // And Ana logs out, from the keyboard too.
    await tabTo(A.page, '[data-testid="logout"]', { back: true });
    await A.page.keyboard.press("Enter");
    await A.page.getByTestId("login-form").waitFor(); // (its address keeps the room, to come back to after a login)
    expect([...A.problems, ...B.problems]).toEqual([]);
  });
});
