/**
 * Sala issue 17, item 8, in real Chromium on a two-node cluster: Ana's page talks to node 1, which
 * is stopped (drained, then killed outright) while she sends two messages. They show at once as pending bubbles (the composer
 * empties, nothing is lost), and once node 1 is back they are sent after the room is rejoined,
 * each with the id it got when typed: Bruno (on node 2) and the stored history get each exactly
 * once, in order, and the pending marks go. Before the fix the text came back with "You are not
 * in that room" (it was sent before the room was rejoined). And a message the server refuses for
 * good shows as failed, with a Retry that sends it again under the same id, and a Discard.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { io } from "socket.io-client";
import type { Page } from "playwright-core";
import type { Ack, HistoryPage, JoinedRoom } from "@sala/protocol";
import { decryptText } from "@sala/protocol/envelope";
import { createRoom, joinRoom, openUser, register, screenshot, startBrowserCluster, type BrowserCluster, type UserPage } from "./support/browser-cluster.js";

const PASSWORD = "correct horse battery";
const run = Date.now().toString(36).slice(-4);
const ana = `ana_${run}`;
const bruno = `bruno_${run}`;
const ROOM = `Reinício ${run}`;

let cluster: BrowserCluster;
let A: UserPage, B: UserPage;

beforeAll(async () => {
  cluster = await startBrowserCluster(2);
  A = await openUser(cluster, cluster.nodes[0]!);
  B = await openUser(cluster, cluster.nodes[1]!);
  await register(A, ana, PASSWORD);
  await register(B, bruno, PASSWORD);
  await createRoom(A, ROOM);
  await joinRoom(B, ROOM);
  await A.page.getByTestId("members").locator(`[data-user="${bruno}"]`).waitFor();
}, 90_000);
afterAll(async () => {
  await cluster?.close();
});

const connection = (page: Page) => page.getByTestId("connection").getAttribute("data-state");
const pending = (page: Page) => page.getByTestId("pending-message");
/** Delivered (numbered) messages with this text in a page's feed. */
const delivered = (page: Page, text: string) => page.getByTestId("feed").locator(".message", { hasText: text });

describe("a message sent while the page's node restarts", () => {
  // SIGTERM: a rolling restart (the node drains); SIGKILL: a crash (the others sweep it).
  it.each(["SIGTERM", "SIGKILL"] as const)("shows pending at once, then is delivered exactly once, in order, after the room is rejoined (%s)", async (signal) => {
    const FIRST = `Escrevi durante o reinício ${signal} ${run}`;
    const SECOND = `E mais esta, em ordem ${signal} ${run}`;
    const framesBefore = A.frames.sent.length;
    await cluster.nodes[0]!.kill(signal);
    await expect.poll(() => connection(A.page), { timeout: 15_000 }).not.toBe("connected");

    for (const text of [FIRST, SECOND]) {
      await A.page.getByTestId("composer").fill(text);
      await A.page.getByTestId("composer").press("Enter");
    }
    // Pending bubbles with the text; the composer is empty and ready for more.
    await expect.poll(() => pending(A.page).allInnerTexts()).toEqual([expect.stringContaining(FIRST), expect.stringContaining(SECOND)]);
    expect(await A.page.getByTestId("composer").inputValue()).toBe("");
    expect(await A.page.getByTestId("composer").isEditable()).toBe(true);
    expect(await pending(A.page).first().getAttribute("data-state")).toBe("queued");
    expect(await pending(A.page).first().getByTestId("pending-status").innerText()).toContain("Waiting for the connection");
    expect(await A.page.getByTestId("composer-offline").isVisible()).toBe(true);
    expect(await delivered(A.page, FIRST).count()).toBe(0);
    await screenshot(A.page, `pending-message-${signal}`);

    cluster.nodes[0] = await cluster.restartNode(cluster.nodes[0]!);
    await expect.poll(() => connection(A.page), { timeout: 20_000 }).toBe("connected");
    await expect.poll(() => pending(A.page).count(), { timeout: 20_000 }).toBe(0);

    // Each once, in order, on both pages.
    for (const page of [A.page, B.page]) {
      await expect.poll(() => delivered(page, SECOND).count(), { timeout: 10_000 }).toBe(1);
      expect(await delivered(page, FIRST).count()).toBe(1);
      const feed = await page.getByTestId("feed").innerText();
      expect(feed.indexOf(FIRST)).toBeLessThan(feed.indexOf(SECOND));
    }
    expect(await A.page.getByTestId("composer-offline").count()).toBe(0);
    expect(await A.page.getByTestId("room-error").count()).toBe(0);
    await screenshot(A.page, `pending-delivered-${signal}`);

    // On the wire: no `text` refused for want of the room, and every attempt at a message used its one id.
    const texts = A.frames.sent.slice(framesBefore).flatMap(textFrame);
    expect(new Set(texts.map((frame) => frame.id)).size).toBe(2);
    expect(A.frames.received.join("\n")).not.toContain("NOT_MEMBER");

    // The stored history holds each exactly once.
    const stored = await storedTexts(cluster.nodes[1]!.url, bruno);
    expect(stored.filter((text) => text === FIRST)).toHaveLength(1);
    expect(stored.filter((text) => text === SECOND)).toHaveLength(1);
    expect(stored.indexOf(FIRST)).toBeLessThan(stored.indexOf(SECOND));

    expect([...A.problems, ...B.problems].filter((problem) => problem.startsWith("page error"))).toEqual([]);
  }, 90_000);

  it("shows a message the server refuses for good as failed, with a Retry (same id) and a Discard", async () => {
    // A second tab of Ana's whose `text` requests the network answers with INTERNAL while `refuse`
    // is set (everything else goes through to the node).
    let refuse = true;
    const sentIds: string[] = [];
    const context = await cluster.browser.newContext({ viewport: { width: 1280, height: 820 }, locale: "en-US" });
    const page = await context.newPage();
    await page.routeWebSocket(/\/socket\.io\//, (ws) => {
      const server = ws.connectToServer();
      ws.onMessage((frame) => {
        const request = /^42(\d+)(\[.*)$/s.exec(String(frame));
        const [event, payload] = request ? (JSON.parse(request[2]!) as [string, { id?: string }]) : [];
        if (event === "text") sentIds.push(payload!.id!);
        if (event === "text" && refuse) ws.send(`43${request![1]}[{"ok":false,"error":{"code":"INTERNAL","message":"Internal error"}}]`);
        else server.send(frame);
      });
      server.onMessage((frame) => ws.send(frame));
    });
    try {
      await page.goto(`${cluster.nodes[0]!.url}/login`);
      await page.getByTestId("username").fill(ana);
      await page.getByTestId("password").fill(PASSWORD);
      await page.getByTestId("submit").click();
      await page.locator(`[data-room="${ROOM}"]`).click();
      await page.getByTestId("room").waitFor();

      const REFUSED = `Recusada uma vez ${run}`;
      await page.getByTestId("composer").fill(REFUSED);
      await page.getByTestId("composer").press("Enter");
      const bubble = pending(page).filter({ hasText: REFUSED });
      await expect.poll(() => bubble.getAttribute("data-state")).toBe("failed");
      expect(await bubble.getByTestId("pending-status").innerText()).toContain("Not sent: Something went wrong on our side.");
      await screenshot(page, "pending-failed");

      refuse = false;
      await bubble.getByRole("button", { name: "Retry" }).click();
      await expect.poll(() => pending(page).count()).toBe(0);
      await expect.poll(() => delivered(B.page, REFUSED).count(), { timeout: 10_000 }).toBe(1);
      expect(await delivered(page, REFUSED).count()).toBe(1);
      expect(sentIds).toHaveLength(2);
      expect(sentIds[1]).toBe(sentIds[0]);

      refuse = true;
      const DROPPED = `Descartada ${run}`;
      await page.getByTestId("composer").fill(DROPPED);
      await page.getByTestId("composer").press("Enter");
      await expect.poll(() => pending(page).filter({ hasText: DROPPED }).getAttribute("data-state")).toBe("failed");
      await pending(page).filter({ hasText: DROPPED }).getByRole("button", { name: "Discard" }).click();
      await expect.poll(() => pending(page).count()).toBe(0);
      expect(await page.getByTestId("feed").innerText()).not.toContain(DROPPED);
      expect(await B.page.getByTestId("feed").innerText()).not.toContain(DROPPED);
    } finally {
      await context.close();
    }
  }, 60_000);
});

/** The payload of a `text` request frame (`42<ack id>["text",{…}]`), if it is one. */
function textFrame(frame: string): { id: string; msg: string }[] {
  const match = /^42\d*(\[.*)$/s.exec(frame);
  if (!match) return [];
  const [event, payload] = JSON.parse(match[1]!) as [string, { id: string; msg: string }];
  return event === "text" ? [payload] : [];
}

/** The room's stored messages, decrypted, as a member reads them with a plain socket.io-client. */
async function storedTexts(url: string, username: string): Promise<string[]> {
  const login = await fetch(`${url}/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username, password: PASSWORD }),
  });
  const cookie = login.headers.get("set-cookie")!.split(";")[0]!;
  const socket = io(url, { transports: ["websocket"], extraHeaders: { cookie } });
  try {
    const roomId = await A.page.getByTestId("room").getAttribute("data-room-id");
    const joined: Ack<JoinedRoom> = await socket.timeout(5000).emitWithAck("join_room", { roomId: roomId! });
    if (!joined.ok) throw new Error(`join_room: ${joined.error.code}`);
    const page: Ack<HistoryPage> = await socket.timeout(5000).emitWithAck("history", { roomId: roomId!, afterSeq: 0, limit: 200 });
    if (!page.ok) throw new Error(`history: ${page.error.code}`);
    const keys = new Map([...joined.keys, ...page.keys].map((key) => [key.id, key.key]));
    return page.messages.map((message) => {
      const result = decryptText(message.msg, roomId!, (id) => keys.get(id));
      return result.ok ? result.text : "(undecryptable)";
    });
  } finally {
    socket.close();
  }
}
