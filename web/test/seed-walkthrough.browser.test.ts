/**
 * The seed's own manual test, walked by real people in real Chromium against a two-node cluster:
 * Ana's browser talks to node 1, Bruno's to node 2, and Eva (not a member) watches from node 1.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Page } from "playwright-core";
import { openUser, register, screenshot, startBrowserCluster, type BrowserCluster, type UserPage } from "./support/browser-cluster.js";

const PASSWORD = "correct horse battery";
const ROOM = "Café secreto";
const ROOM_PASSWORD = "abacaxi42";
const ANA_SAYS = "Bom dia, Bruno! Tudo certo?";
const BRUNO_SAYS = "Tudo ótimo, Ana 🌞";
const WHISPER = "psst, só entre nós";
const run = Date.now().toString(36).slice(-4);
const ana = `ana_${run}`;
const bruno = `bruno_${run}`;
const eva = `eva_${run}`;

let cluster: BrowserCluster;
let A: UserPage, B: UserPage, E: UserPage;

beforeAll(async () => {
  cluster = await startBrowserCluster(2);
  const [node1, node2] = cluster.nodes as [(typeof cluster.nodes)[0], (typeof cluster.nodes)[0]];
  A = await openUser(cluster, node1);
  B = await openUser(cluster, node2);
  E = await openUser(cluster, node1);
}, 60_000);
afterAll(async () => {
  await cluster?.close();
});

const onlineList = (page: Page) => page.getByTestId("online-users");
const feed = (page: Page) => page.getByTestId("feed");

describe("the seed's manual test, in a browser, across two nodes", () => {
  it("1–2. registers and logs in; both users appear online on both nodes", async () => {
    await screenshot(A.page, "login");
    await register(A, ana, PASSWORD);
    await register(B, bruno, PASSWORD);
    await register(E, eva, PASSWORD);
    await expect.poll(() => onlineList(A.page).innerText()).toContain(bruno);
    await expect.poll(() => onlineList(B.page).innerText()).toContain(ana);
  });

  it("3. Ana creates a private room; Bruno sees it with a 🔒", async () => {
    await A.page.getByTestId("room-name").fill(ROOM);
    await A.page.getByTestId("room-create-password").fill(ROOM_PASSWORD);
    await A.page.locator('[data-testid="create-room"] button[type="submit"]').click();
    await expect.poll(() => A.page.getByTestId("room").isVisible()).toBe(true);
    const entry = B.page.locator(`[data-room="${ROOM}"]`);
    await entry.waitFor();
    expect(await entry.innerText()).toContain("🔒");
    await screenshot(B.page, "lobby");
  });

  it("4. Bruno tries a wrong password, then the right one", async () => {
    await B.page.locator(`[data-room="${ROOM}"]`).click();
    await B.page.getByTestId("room-password").fill("banana");
    await B.page.getByTestId("room-password").press("Enter");
    await expect.poll(() => B.page.getByTestId("join-error").innerText()).toContain("Wrong room password");
    expect(await B.page.getByTestId("room").count()).toBe(0);
    await B.page.getByTestId("room-password").fill(ROOM_PASSWORD);
    await B.page.getByTestId("room-password").press("Enter");
    await B.page.getByTestId("room").waitFor();
    await expect.poll(() => A.page.getByTestId("members").innerText()).toContain(bruno);
  });

  it("5. they exchange messages; Ana sees the round-trip time of hers; frames carry only ciphertext", async () => {
    await A.page.getByTestId("composer").fill(ANA_SAYS);
    await A.page.getByTestId("composer").press("Enter");
    await expect.poll(() => feed(B.page).innerText()).toContain(ANA_SAYS);
    await B.page.getByTestId("composer").fill(BRUNO_SAYS);
    await B.page.getByTestId("composer").press("Enter");
    await expect.poll(() => feed(A.page).innerText()).toContain(BRUNO_SAYS);

    const mine = A.page.locator(".message.mine", { hasText: ANA_SAYS });
    expect(await mine.getByTestId("rtt").innerText()).toMatch(/^\d+ ms$/);
    expect(await A.page.locator(".message:not(.mine)", { hasText: BRUNO_SAYS }).getByTestId("rtt").count()).toBe(0);
    await screenshot(A.page, "room");

    const textFrames = [...A.frames.sent, ...A.frames.received, ...B.frames.sent, ...B.frames.received].filter((frame) => frame.includes('"text"'));
    expect(textFrames.length).toBeGreaterThanOrEqual(4); // each side sent one and received two
    for (const frame of textFrames) expect(frame).toMatch(/"v1\.\d+\.[A-Za-z0-9+/=]+\.[A-Za-z0-9+/=]+\.[A-Za-z0-9+/=]+"/);
    const everyFrame = [A, B, E].flatMap((user) => [...user.frames.sent, ...user.frames.received]).join("\n");
    for (const plaintext of [ANA_SAYS, BRUNO_SAYS, "Bom dia", "ótimo"]) {
      expect(everyFrame).not.toContain(plaintext);
      expect(everyFrame).not.toContain(JSON.stringify(plaintext).slice(1, -1));
    }
  });

  it("6. Bruno whispers to Ana by clicking her name; Ana sees it styled as a whisper", async () => {
    await B.page.getByTestId("members").locator(`[data-user="${ana}"]`).click();
    await expect.poll(() => B.page.evaluate(() => document.activeElement?.getAttribute("data-testid"))).toBe("whisper-composer");
    await B.page.getByTestId("whisper-composer").fill(WHISPER);
    await B.page.getByTestId("whisper-composer").press("Enter");
    const inFeed = A.page.getByTestId("feed").locator(".whisper.incoming", { hasText: WHISPER });
    await inFeed.waitFor();
    expect(await inFeed.innerText()).toContain(bruno);
    const style = await inFeed.evaluate((element) => getComputedStyle(element).fontStyle);
    expect(style).toBe("italic");
    expect(await A.page.locator(`[data-thread="${bruno}"] [data-testid="unread"]`).innerText()).toBe("1");
    await screenshot(A.page, "room-with-whisper");
  });

  it("7. Bruno leaves: he is back in the lobby at once, and Ana sees him go", async () => {
    await B.page.getByTestId("leave-room").click();
    await B.page.getByTestId("online-users").waitFor({ timeout: 1000 });
    expect(await B.page.getByTestId("room").count()).toBe(0);
    await expect.poll(() => feed(A.page).innerText()).toContain(`${bruno} left`);
    await expect.poll(() => A.page.getByTestId("members").innerText()).not.toContain(bruno);
    // The private room's key rotated when he left: Ana's next message uses key 2, which Bruno never got.
    await expect.poll(() => feed(A.page).innerText()).toContain("The room key changed");
    await A.page.getByTestId("composer").fill("depois que ele saiu");
    await A.page.getByTestId("composer").press("Enter");
    await expect.poll(() => A.frames.sent.some((frame) => frame.includes('"text"') && frame.includes('"v1.2.'))).toBe(true);
    expect([...B.frames.received].join("\n")).not.toMatch(/"room_key"/);
  });

  it("a user who is not a member never sees the room's messages, in the page or on the wire", async () => {
    // (Checked before Eva joins, below.)
    expect(await E.page.locator("body").innerText()).not.toContain(ANA_SAYS);
    const evaFrames = [...E.frames.received, ...E.frames.sent].join("\n");
    expect(evaFrames).not.toMatch(/42\["text"/);
    expect(evaFrames).not.toMatch(/"room_key"/);
    expect(E.frames.received.length).toBeGreaterThan(0); // she was connected all along (lobby traffic)
    expect(await E.page.locator(`[data-room="${ROOM}"]`).innerText()).toContain("🔒");
  });

  it("a late joiner reads the room's recent history, across the key rotation; the owner can clear it", async () => {
    await E.page.locator(`[data-room="${ROOM}"]`).click();
    await E.page.getByTestId("room-password").fill(ROOM_PASSWORD);
    await E.page.getByTestId("room-password").press("Enter");
    await E.page.getByTestId("room").waitFor();
    await expect.poll(() => feed(E.page).innerText()).toContain(ANA_SAYS); // written under key 1
    const history = await feed(E.page).innerText();
    expect(history).toContain(BRUNO_SAYS);
    expect(history).toContain("depois que ele saiu"); // written under key 2
    expect(history).not.toContain("Could not decrypt");

    await A.page.getByTestId("clear-history").click();
    const confirmation = A.page.getByTestId("clear-history-dialog");
    await confirmation.getByTestId("confirm-input").fill(ROOM);
    await confirmation.getByTestId("confirm-input").press("Enter");
    await expect.poll(() => feed(E.page).innerText()).toContain(`${ana} cleared the room's history.`);
    expect(await feed(E.page).innerText()).not.toContain(ANA_SAYS);
    // A reload keeps the place (the address names the room) and the membership: no password.
    expect(new URL(E.page.url()).pathname).toMatch(/^\/r\//);
    await E.page.reload();
    await E.page.getByTestId("room").waitFor();
    expect(await E.page.getByTestId("room-password").count()).toBe(0);
    expect(await feed(E.page).innerText()).not.toContain(ANA_SAYS);
  });

  it("no page logged an error or a Content-Security-Policy violation", () => {
    expect([...A.problems, ...B.problems, ...E.problems]).toEqual([]);
  });
});
