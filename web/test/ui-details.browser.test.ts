/**
 * The client's finer promises, in real Chromium on a two-node cluster: user text is never HTML,
 * a message that fails its MAC shows "could not decrypt", owners kick and delete, the connection
 * state is visible and a reconnect rejoins the room, Portuguese works, and phones fit.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { io } from "socket.io-client";
import { randomBytes } from "node:crypto";
import { encryptText } from "@sala/protocol/envelope";
import { createRoom, joinRoom, openUser, register, screenshot, startBrowserCluster, type BrowserCluster, type UserPage } from "./support/browser-cluster.js";

const PASSWORD = "correct horse battery";
const run = Date.now().toString(36).slice(-4);
const owner = `olga_${run}`;
const guest = `gil_${run}`;
const ROOM = `Praça ${run}`;
const XSS = `<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>`;

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
}, 60_000);
afterAll(async () => {
  await cluster?.close();
});

describe("the web client", () => {
  it("renders user text as text, never as HTML", async () => {
    await O.page.getByTestId("composer").fill(XSS);
    await O.page.getByTestId("composer").press("Enter");
    await G.page.getByTestId("feed").locator(".message", { hasText: "window.__pwned" }).waitFor();
    await G.page.getByTestId("members").locator(`[data-user="${owner}"]`).click();
    await G.page.getByTestId("whisper-composer").fill(XSS);
    await G.page.getByTestId("whisper-composer").press("Enter");
    await O.page.locator(".whisper.incoming", { hasText: "window.__pwned" }).first().waitFor();
    for (const user of [O, G]) {
      expect(await user.page.locator(".feed img, .thread-lines img, .feed script").count()).toBe(0);
      expect(await user.page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
    }
  });

  it("shows who is typing, and clears it when their message arrives", async () => {
    await G.page.getByTestId("composer").pressSequentially("digitando", { delay: 20 });
    await expect.poll(() => O.page.getByTestId("typing").innerText()).toBe(`${guest} is typing…`);
    await G.page.getByTestId("composer").press("Enter");
    await expect.poll(() => O.page.getByTestId("typing").innerText()).toBe("");
    expect(await G.page.getByTestId("typing").innerText()).toBe(""); // never about yourself
  });

  it("shows 'could not decrypt' for a message whose MAC fails, never garbage", async () => {
    // A member with a modified client sends an envelope made with a key the room does not use.
    const login = await fetch(`${cluster.nodes[1]!.url}/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ username: guest, password: PASSWORD }),
    });
    const cookie = login.headers.get("set-cookie")!.split(";")[0]!;
    const socket = io(cluster.nodes[1]!.url, { transports: ["websocket"], extraHeaders: { cookie } });
    try {
      const joined = await socket.timeout(5000).emitWithAck("join_room", { roomId: await roomId(O) });
      const forged = encryptText("garbage under a wrong key", joined.room.id, { id: joined.key.id, key: randomBytes(32).toString("base64") });
      const ack = await socket.timeout(5000).emitWithAck("text", { roomId: joined.room.id, msg: forged });
      expect(ack.ok).toBe(true); // the server cannot tell: it never decrypts
      const shown = O.page.getByTestId("feed").locator(".message", { has: O.page.locator(".undecryptable") }).last();
      await shown.waitFor();
      expect(await shown.innerText()).toContain("Could not decrypt this message");
      expect(await O.page.getByTestId("feed").innerText()).not.toContain("garbage under a wrong key");
    } finally {
      socket.close();
    }
  });

  it("keeps the connection state visible and rejoins the room after going offline", async () => {
    await G.context.setOffline(true);
    await expect.poll(() => G.page.getByTestId("connection").getAttribute("data-state"), { timeout: 15_000 }).not.toBe("connected");
    await G.context.setOffline(false);
    await expect.poll(() => G.page.getByTestId("connection").getAttribute("data-state"), { timeout: 20_000 }).toBe("connected");
    expect(await G.page.getByTestId("room").isVisible()).toBe(true);
    await O.page.getByTestId("composer").fill("ainda aí?");
    await O.page.getByTestId("composer").press("Enter");
    await expect.poll(() => G.page.getByTestId("feed").innerText(), { timeout: 10_000 }).toContain("ainda aí?");
  }, 60_000);

  it("speaks Portuguese (the seed's words) and remembers the choice", async () => {
    await G.page.getByTestId("language").selectOption("pt-BR");
    expect(await G.page.getByTestId("leave-room").innerText()).toBe("Sair da Sala");
    await G.page.reload();
    await G.page.getByTestId("room").waitFor(); // the address kept the room
    await G.page.getByTestId("sidebar-lobby").click();
    await G.page.getByTestId("online-users").waitFor();
    const lobby = await G.page.locator("main").innerText();
    expect(lobby).toContain("Usuários Online");
    expect(lobby).toContain("Salas Disponíveis");
    expect(await G.page.evaluate(() => document.documentElement.lang)).toBe("pt-BR");
    await G.page.getByTestId("language").selectOption("en");
    await G.page.locator(`[data-room="${ROOM}"]`).click();
    await G.page.getByTestId("room").waitFor();
  });

  it("lets the owner kick a member, who lands in the lobby with a notice", async () => {
    await O.page.getByTestId("members").locator("li", { hasText: guest }).getByTestId("kick").click();
    await expect.poll(() => G.page.getByTestId("lobby-notice").innerText()).toContain(`${owner} removed you from ${ROOM}`);
    await expect.poll(() => O.page.getByTestId("members").innerText()).not.toContain(guest);
    // A kick bars the guest until the owner lifts it (the later tests need the guest back in).
    await O.page.getByRole("button", { name: `Unban ${guest}` }).click();
    await expect.poll(() => O.page.getByTestId("banned").count()).toBe(0);
  });

  it("fits a phone's width without sideways scrolling", async () => {
    const phone = await openUser(cluster, cluster.nodes[1]!, { width: 390, height: 844 });
    await phone.page.waitForURL("**/login");
    await screenshot(phone.page, "phone-login");
    await phone.page.getByTestId("username").fill(guest);
    await phone.page.getByTestId("password").fill(PASSWORD);
    await phone.page.getByTestId("submit").click();
    await phone.page.getByTestId("online-users").waitFor();
    const overflow = () => phone.page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(await overflow()).toBeLessThanOrEqual(0);
    await phone.page.locator(`[data-room="${ROOM}"]`).click();
    await phone.page.getByTestId("room").waitFor();
    expect(await overflow()).toBeLessThanOrEqual(0);
    await screenshot(phone.page, "phone-room");
    await phone.context.close();
  });

  it("lets the owner delete the room, returning members to the lobby", async () => {
    await G.page.locator(`[data-room="${ROOM}"]`).click();
    await G.page.getByTestId("room").waitFor();
    // An in-page confirmation (never window.confirm): the room's name, typed.
    await O.page.getByTestId("delete-room").click();
    await O.page.getByTestId("delete-room-dialog").getByTestId("confirm-input").fill(ROOM);
    await O.page.getByTestId("delete-room-dialog").getByTestId("confirm-input").press("Enter");
    await expect.poll(() => G.page.getByTestId("lobby-notice").innerText()).toContain(`The room ${ROOM} was deleted`);
    await expect.poll(() => O.page.locator(`[data-room="${ROOM}"]`).count()).toBe(0);
  });

  it("sends you to the login page without a session, and after logging out", async () => {
    await G.page.getByTestId("logout").click();
    await G.page.waitForURL("**/login");
    await G.page.goto(`${cluster.nodes[1]!.url}/`);
    await G.page.waitForURL("**/login");
    expect(await G.page.getByTestId("login-form").isVisible()).toBe(true);
    expect([...O.problems, ...G.problems]).toEqual([]);
  });
});

async function roomId(user: UserPage): Promise<string> {
  const id = await user.page.getByTestId("room").getAttribute("data-room-id");
  if (!id) throw new Error("the room view has no room id");
  return id;
}
