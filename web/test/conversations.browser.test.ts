/**
 * Encrypted, persisted conversations in real Chromium on a two-node cluster: Ana (node 1) whispers
 * to Bruno (node 2) while he is offline; he finds it with its unread count after logging in,
 * on both of his tabs; reading it on one clears the other; after a reload, on both sides, the
 * conversation's history is still there (the latest whispers, and older ones by paging back);
 * and the websocket frames only ever carry ciphertext.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Page } from "playwright-core";
import { openUser, register, screenshot, startBrowserCluster, type BrowserCluster, type UserPage } from "./support/browser-cluster.js";

const PASSWORD = "correct horse battery";
const run = Date.now().toString(36).slice(-4);
const ana = `ana_${run}`;
const bruno = `bruno_${run}`;
const FIRST = "Guardei um segredo para você 🤫";
const SECOND = "Responde quando puder";
const REPLY = "Li tudo, obrigado!";

let cluster: BrowserCluster;
let A: UserPage, B: UserPage;

beforeAll(async () => {
  cluster = await startBrowserCluster(2, { JOIN_HISTORY: "2" }); // opening shows the latest two; older ones by paging
  A = await openUser(cluster, cluster.nodes[0]!);
  B = await openUser(cluster, cluster.nodes[1]!);
}, 60_000);
afterAll(async () => {
  await cluster?.close();
});

const thread = (page: Page) => page.getByTestId("thread-lines");
const badge = (page: Page, user: string) => page.locator(`[data-thread="${user}"] [data-testid="unread"]`);

async function send(page: Page, text: string): Promise<void> {
  await page.getByTestId("whisper-composer").fill(text);
  await page.getByTestId("whisper-composer").press("Enter");
  await thread(page).locator(".whisper", { hasText: text }).waitFor();
}

describe("conversations in the browser", () => {
  it("whispers to a user who is not online: kept for later", async () => {
    await register(B, bruno, PASSWORD); // an account exists…
    await B.page.getByTestId("logout").click(); // …but nobody is connected as Bruno
    await B.page.getByTestId("login-form").waitFor();
    await register(A, ana, PASSWORD);
    // Bruno is not in the online list: Ana opens the conversation by his name.
    expect(await A.page.getByTestId("online-users").innerText()).not.toContain(bruno);
    await A.page.getByTestId("dm-open-name").fill("nobody_here");
    await A.page.getByTestId("dm-open-name").press("Enter");
    await expect.poll(() => A.page.getByTestId("dm-open-error").innerText()).toBe("There is no such user.");
    await A.page.getByTestId("dm-open-name").fill(bruno.toUpperCase());
    await A.page.getByTestId("dm-open-name").press("Enter");
    await expect.poll(() => A.page.evaluate(() => document.activeElement?.getAttribute("data-testid"))).toBe("whisper-composer");
    await send(A.page, FIRST);
    await send(A.page, SECOND);
  });

  it("shows the unread count on every tab after login, and reading on one clears the other", async () => {
    await B.page.getByTestId("username").fill(bruno);
    await B.page.getByTestId("password").fill(PASSWORD);
    await B.page.getByTestId("submit").click();
    await B.page.locator('[data-testid="connection"][data-state="connected"]').waitFor();
    const tab2 = await B.context.newPage();
    await tab2.goto(`${cluster.nodes[0]!.url}/`); // another node, same session (cookies ignore the port)
    await tab2.locator('[data-testid="connection"][data-state="connected"]').waitFor();
    for (const page of [B.page, tab2]) {
      await badge(page, ana).waitFor();
      expect(await badge(page, ana).innerText()).toBe("2");
    }

    await B.page.locator(`[data-thread="${ana}"]`).click();
    await expect.poll(() => thread(B.page).innerText()).toContain(SECOND);
    expect(await thread(B.page).innerText()).toContain(FIRST);
    await expect.poll(() => badge(tab2, ana).count()).toBe(0);
    expect(await badge(B.page, ana).count()).toBe(0);
    await send(B.page, REPLY);
    await thread(A.page).locator(".whisper.incoming", { hasText: REPLY }).waitFor(); // Ana has it open: read at once
    expect(await badge(A.page, bruno).count()).toBe(0);
    await tab2.close();
  });

  it("keeps the conversation's history after a reload, on both sides", async () => {
    for (const [user, peer] of [[A, bruno], [B, ana]] as const) {
      await user.page.reload();
      await user.page.locator('[data-testid="connection"][data-state="connected"]').waitFor();
      await user.page.locator(`[data-thread="${peer}"]`).click();
      await expect.poll(() => thread(user.page).innerText()).toContain(REPLY);
      expect(await thread(user.page).innerText()).not.toContain(FIRST);
      await user.page.getByTestId("earlier-whispers").click();
      await expect.poll(() => thread(user.page).innerText()).toContain(FIRST);
      expect(await user.page.getByTestId("earlier-whispers").count()).toBe(0); // nothing older
      const text = await thread(user.page).innerText();
      expect(text).toContain(FIRST);
      expect(text).toContain(SECOND);
      expect(text).not.toContain("Could not decrypt");
    }
    await screenshot(A.page, "conversation-after-reload");
  });

  it("sends and receives only ciphertext on the wire", async () => {
    const frames = [A, B].flatMap((user) => [...user.frames.sent, ...user.frames.received]);
    const whispers = frames.filter((frame) => frame.includes('"private_message"'));
    expect(whispers.length).toBeGreaterThanOrEqual(3);
    for (const frame of whispers) expect(frame).toMatch(/"v1\.\d+\.[A-Za-z0-9+/=]+\.[A-Za-z0-9+/=]+\.[A-Za-z0-9+/=]+"/);
    const everything = frames.join("\n");
    for (const plaintext of [FIRST, SECOND, REPLY, "segredo", "obrigado"]) {
      expect(everything).not.toContain(plaintext);
      expect(everything).not.toContain(JSON.stringify(plaintext).slice(1, -1));
    }
  });

  it("no page logged an error", () => {
    expect([...A.problems, ...B.problems]).toEqual([]);
  });
});
