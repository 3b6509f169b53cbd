/**
 * Issue 21, item 5 ("polish found by the walk") in real Chromium on a two-node cluster, two users
 * on two nodes: Ana (an admin, node 1) and Bruno (not an admin, node 2). Unknown addresses and a
 * non-admin's /memory get pages that say so in both languages; the API's 404 stays JSON; a
 * favicon; /memory, rooms and conversations come back after logging in (never to another
 * origin); /memory fits a phone; Escape closes dialogs and gives the focus back; arrow keys move
 * between the login tabs; the Portuguese labels for logging out and leaving a room differ; times
 * have no leading zero; placeholders fit their inputs.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Page } from "playwright-core";
import { createRoom, openUser, register, screenshot, startBrowserCluster, type BrowserCluster, type UserPage } from "./support/browser-cluster.js";
import { connected, overflow, submitLogin } from "./support/admin-accounts.js";

const PASSWORD = "correct horse battery";
const run = Date.now().toString(36).slice(-4);
const ana = `ana_${run}`;
const bruno = `bruno_${run}`;
const ROOM = `Polimento ${run}`;

let cluster: BrowserCluster;
/** Ana, an admin, on node 1. */
let A: UserPage;
/** Bruno, not an admin, on node 2. */
let B: UserPage;
let roomPath = "";

const url = (node: 0 | 1, path: string) => `${cluster.nodes[node]!.url}${path}`;
const pathOf = (page: Page) => {
  const { pathname, search } = new URL(page.url());
  return pathname + search;
};
const focusedTestId = (page: Page) => page.evaluate(() => document.activeElement?.getAttribute("data-testid") ?? null);

/** A fresh anonymous browser at `node`'s `path`; closed by the caller. */
async function anonymous(node: 0 | 1, path: string, viewport = { width: 1280, height: 820 }) {
  const context = await cluster.browser.newContext({ viewport, locale: "en-US" });
  const page = await context.newPage();
  const response = await page.goto(url(node, path));
  return { context, page, response };
}

beforeAll(async () => {
  cluster = await startBrowserCluster(2);
  A = await openUser(cluster, cluster.nodes[0]!);
  await register(A, ana, PASSWORD);
  await cluster.grantAdmin(ana);
  B = await openUser(cluster, cluster.nodes[1]!);
  await register(B, bruno, PASSWORD);
  await createRoom(B, ROOM);
  roomPath = `/r/${await B.page.getByTestId("room").getAttribute("data-room-id")}`;
}, 90_000);
afterAll(async () => {
  await cluster?.close();
});

describe("pages, not raw JSON", () => {
  it("an unknown address gets status 404 and a 'page not found' page with the way home, logged out", async () => {
    // Under /r/ but no room's address (one segment): not found either.
    const { context, page, response } = await anonymous(0, "/r/no/such/room");
    expect(response?.status()).toBe(404);
    await page.getByRole("heading", { level: 1, name: "Page not found" }).waitFor();
    expect(await page.getByTestId("not-found").innerText()).toContain("There is no page at /r/no/such/room in Sala.");
    await page.getByTestId("language").selectOption("pt-BR");
    await page.getByRole("heading", { level: 1, name: "Página não encontrada" }).waitFor();
    await page.getByRole("link", { name: "Ir para o saguão" }).click();
    await page.waitForURL("**/login");
    await page.getByTestId("login-form").waitFor();
    await context.close();
  });

  it("… and logged in, on the other node; the link goes back to the chat", async () => {
    const response = await B.page.goto(url(1, "/n%C3%A3o-existe"));
    expect(response?.status()).toBe(404);
    await B.page.getByRole("heading", { level: 1, name: "Page not found" }).waitFor();
    expect(await B.page.getByTestId("not-found").innerText()).toContain("/não-existe");
    await B.page.getByTestId("not-found-home").click();
    await connected(B.page);
    expect(pathOf(B.page)).toBe("/");
  });

  it("a room's and a conversation's address are the chat's, not 'page not found'", async () => {
    for (const path of [roomPath, `/dm/${ana}`]) {
      const response = await B.page.goto(url(1, path));
      expect(response?.status(), path).toBe(200);
      await connected(B.page);
      expect(await B.page.getByTestId("not-found").count(), path).toBe(0);
    }
  });

  it("the API's 404 stays JSON (an API client, a POST, the API's own paths)", async () => {
    const json = { ok: false, error: { code: "NOT_FOUND", message: "Not found" } };
    for (const [path, init] of [
      ["/no/such/page", { headers: { accept: "application/json" } }],
      ["/no/such/page", { method: "POST", headers: { accept: "text/html", origin: cluster.nodes[0]!.url } }],
      ["/admin/api/nothing", { headers: { accept: "text/html" } }],
    ] as const) {
      const response = await fetch(url(0, path), init);
      expect(response.status).toBe(404);
      expect(response.headers.get("content-type")).toMatch(/^application\/json/);
      expect(await response.json()).toEqual(json);
    }
  });

  it("a non-admin's /memory says it is for admins, in both languages, with the way back", async () => {
    const response = await B.page.goto(url(1, "/memory"));
    expect(response?.status()).toBe(403);
    const forbidden = B.page.getByTestId("memory-forbidden");
    await forbidden.getByRole("heading", { level: 1, name: "Admins only" }).waitFor();
    expect(await forbidden.innerText()).toContain("The cluster's health is for the operators of this Sala.");
    expect(await B.page.getByTestId("chart-canvas").count()).toBe(0);
    await B.page.getByTestId("language").selectOption("pt-BR");
    await forbidden.getByRole("heading", { level: 1, name: "Somente administradores" }).waitFor();
    await forbidden.getByRole("link", { name: "Voltar ao chat" }).click();
    await connected(B.page);
    expect(pathOf(B.page)).toBe("/");
    await B.page.getByTestId("language").selectOption("en");
  });

  it("… and so does /admin", async () => {
    const response = await B.page.goto(url(0, "/admin"));
    expect(response?.status()).toBe(403);
    await B.page.getByTestId("admin-forbidden").getByRole("heading", { level: 1, name: "Admins only" }).waitFor();
    await B.page.getByTestId("admin-forbidden").getByRole("link", { name: "Back to the chat" }).click();
    await connected(B.page);
  });

  it("has a favicon", async () => {
    const href = await B.page.locator('link[rel="icon"]').getAttribute("href");
    expect(href).toBe("/favicon.svg");
    const icon = await B.page.request.get(url(1, href!));
    expect(icon.status()).toBe(200);
    expect(icon.headers()["content-type"]).toMatch(/^image\/svg\+xml/);
    expect(await icon.text()).toContain("<svg");
  });
});

describe("back to where you were after logging in", () => {
  it("/memory: anonymous → the login page → /memory", async () => {
    const { context, page } = await anonymous(0, "/memory");
    expect(pathOf(page)).toBe("/login?next=/memory");
    await submitLogin(page, ana, PASSWORD);
    await page.getByRole("heading", { level: 1, name: "Cluster health" }).waitFor();
    expect(pathOf(page)).toBe("/memory");
    await context.close();
  });

  it("a room's and a conversation's address (Bruno's, on his node)", async () => {
    for (const path of [roomPath, `/dm/${ana}`]) {
      const { context, page } = await anonymous(1, path);
      await page.getByTestId("login-form").waitFor();
      expect(pathOf(page)).toBe(`/login?next=${path}`);
      await submitLogin(page, bruno, PASSWORD);
      await connected(page);
      expect(pathOf(page)).toBe(path);
      await context.close();
    }
  });

  it("never to another origin, nor to an address that is not ours", async () => {
    for (const next of ["//evil.example", "https://evil.example", "/\\evil.example", "javascript:alert(1)", "/nowhere"]) {
      const { context, page } = await anonymous(0, `/login?next=${encodeURIComponent(next)}`);
      await submitLogin(page, ana, PASSWORD);
      await connected(page);
      expect(new URL(page.url()).origin, next).toBe(cluster.nodes[0]!.url);
      expect(pathOf(page), next).toBe("/");
      await context.close();
    }
  });

  it("not after 'Log out': plain /login, then the lobby; a tab signed out by it keeps its room", async () => {
    const context = await cluster.browser.newContext({ viewport: { width: 1280, height: 820 }, locale: "en-US" });
    const page = await context.newPage();
    await page.goto(url(1, roomPath));
    await submitLogin(page, bruno, PASSWORD);
    await page.getByTestId("room").waitFor();
    // A second tab of the same browser, in the same room, on the other node.
    const other = await context.newPage();
    await other.goto(url(0, roomPath));
    await other.getByTestId("room").waitFor();

    await page.getByTestId("logout").click();
    await page.getByTestId("login-form").waitFor();
    await expect.poll(() => pathOf(page)).toBe("/login");
    // Signed out by that logout, not by its own: it comes back to the room.
    await other.getByTestId("login-notice").waitFor();
    expect(pathOf(other)).toBe(`/login?next=${roomPath}`);

    await submitLogin(page, bruno, PASSWORD);
    await connected(page);
    expect(pathOf(page)).toBe("/");
    await page.getByTestId("user-search").waitFor();
    expect(await page.getByTestId("room").count()).toBe(0);
    await context.close();
  });
});

describe("/memory on a phone", () => {
  it("fits 390 px without sideways scrolling, and its charts follow the width", async () => {
    await A.page.setViewportSize({ width: 390, height: 844 });
    await A.page.goto(url(0, "/memory"));
    await A.page.getByRole("heading", { level: 1, name: "Cluster health" }).waitFor();
    const canvases = A.page.getByTestId("chart-canvas");
    await expect.poll(() => canvases.count()).toBe(4);
    const widest = async () => Math.max(...(await canvases.evaluateAll((all) => all.map((canvas) => canvas.getBoundingClientRect().width))));
    await expect.poll(widest).toBeGreaterThan(200);
    expect(await widest()).toBeLessThanOrEqual(390);
    expect(await A.page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth)).toBeLessThanOrEqual(0);
    await screenshot(A.page, "phone-memory");
    await A.page.setViewportSize({ width: 1280, height: 820 });
    await expect.poll(widest).toBeGreaterThan(450); // two charts a row, each wider than the phone
    await A.page.setViewportSize({ width: 390, height: 844 });
    await expect.poll(widest).toBeLessThanOrEqual(390);
    expect(await overflow(A.page)).toBeLessThanOrEqual(0);
    await A.page.setViewportSize({ width: 1280, height: 820 });
  });
});

describe("the keyboard", () => {
  it("Escape closes the confirmation, then the account dialog, each giving the focus back to what opened it", async () => {
    await B.page.goto(url(1, "/"));
    await connected(B.page);
    await B.page.getByTestId("account").focus();
    await B.page.keyboard.press("Enter");
    const account = B.page.getByTestId("account-dialog");
    await account.waitFor();
    await account.getByTestId("delete-account").focus();
    await B.page.keyboard.press("Enter");
    const confirm = B.page.getByTestId("delete-account-dialog");
    await confirm.waitFor();
    expect(await focusedTestId(B.page)).toBe("confirm-input");
    await B.page.keyboard.press("Escape");
    await expect.poll(() => confirm.count()).toBe(0);
    expect(await account.isVisible()).toBe(true);
    expect(await focusedTestId(B.page)).toBe("delete-account");
    await B.page.keyboard.press("Escape");
    await expect.poll(() => account.count()).toBe(0);
    expect(await focusedTestId(B.page)).toBe("account");
  });

  it("arrow keys, Home and End move between the login tabs (roving tabindex, aria-selected)", async () => {
    const { context, page } = await anonymous(1, "/login");
    await page.getByTestId("login-form").waitFor();
    const tabs = page.getByRole("tablist").getByRole("tab");
    expect(await tabs.count()).toBe(2);
    const state = () =>
      tabs.evaluateAll((all) => all.map((tab) => `${tab.getAttribute("data-testid")}:${tab.getAttribute("aria-selected")}:${tab.getAttribute("tabindex")}`));
    expect(await state()).toEqual(["tab-login:true:0", "tab-register:false:-1"]);
    await page.getByTestId("tab-login").focus();
    const steps: [string, string][] = [
      ["ArrowRight", "tab-register"],
      ["ArrowRight", "tab-login"], // wraps
      ["ArrowLeft", "tab-register"], // wraps
      ["Home", "tab-login"],
      ["End", "tab-register"],
    ];
    for (const [key, selected] of steps) {
      await page.keyboard.press(key);
      expect(await focusedTestId(page), key).toBe(selected);
      expect(await page.getByTestId(selected).getAttribute("aria-selected"), key).toBe("true");
      expect(await page.getByTestId(selected).getAttribute("tabindex"), key).toBe("0");
    }
    // The register tab's panel is shown: its hints, its submit label.
    expect(await page.getByTestId("submit").innerText()).toBe("Create account");
    const panel = page.getByRole("tabpanel");
    expect(await panel.getAttribute("aria-labelledby")).toBe(await page.getByTestId("tab-register").getAttribute("id"));
    // Tab leaves the tab list for the form (one tab stop for the tabs).
    await page.keyboard.press("Tab");
    expect(await focusedTestId(page)).toBe("username");
    await context.close();
  });
});

describe("words and numbers", () => {
  it("in Portuguese, logging out and leaving the room are told apart", async () => {
    await B.page.goto(url(1, roomPath));
    await B.page.getByTestId("room").waitFor();
    await B.page.getByTestId("language").selectOption("pt-BR");
    const logout = (await B.page.getByTestId("logout").innerText()).trim();
    const leave = (await B.page.getByTestId("leave-room").innerText()).trim();
    expect(logout).toBe("Encerrar sessão");
    expect(leave.split(/\s+/)[0]).not.toBe(logout.split(/\s+/)[0]);
    expect(logout).not.toMatch(/sair/i);
    await B.page.getByTestId("language").selectOption("en");
  });

  it("a message's time has no leading zero, in the locale's own form", async () => {
    await B.page.getByTestId("composer").fill("que horas são?");
    await B.page.getByTestId("composer").press("Enter");
    const time = B.page.getByTestId("feed").locator("time").last();
    await expect.poll(() => time.count()).toBe(1);
    // Chromium writes "9:05 AM" with a narrow no-break space; any space will do here.
    await expect.poll(() => time.innerText()).toMatch(/^([1-9]|1[0-2]):[0-5]\d\s[AP]M$/);
    await B.page.getByTestId("language").selectOption("pt-BR");
    await expect.poll(() => time.innerText()).toMatch(/^([0-9]|1\d|2[0-3]):[0-5]\d$/);
    await B.page.getByTestId("language").selectOption("en");
  });

  it("every placeholder fits its input, on a phone and a desktop, in both languages", async () => {
    const { context, page } = await anonymous(0, "/login");
    await submitLogin(page, bruno, PASSWORD);
    await connected(page);
    const misfits: string[] = [];
    for (const width of [390, 1280]) {
      await page.setViewportSize({ width, height: 844 });
      for (const language of ["en", "pt-BR"]) {
        await page.getByTestId("language").selectOption(language);
        for (const path of ["/", roomPath, `/dm/${ana}`]) {
          await page.goto(url(0, path));
          await connected(page);
          // The page's fields are in (on a phone a room or a conversation shows only its composer).
          await page.locator("input[placeholder]:visible, textarea[placeholder]:visible").first().waitFor();
          for (const misfit of await placeholderMisfits(page)) misfits.push(`${width}px ${language} ${path}: ${misfit}`);
        }
      }
    }
    expect(misfits).toEqual([]);
    await context.close();
  });

  it("no page logged an error", () => {
    expect([...A.problems, ...B.problems].filter((problem) => !/status of 40[34]/.test(problem))).toEqual([]);
  });
});

/** Visible inputs whose placeholder is wider than their text box, as "placeholder (needs N px, has M)". */
function placeholderMisfits(page: Page): Promise<string[]> {
  return page.locator("input[placeholder]").evaluateAll((inputs) => {
    const ruler = document.createElement("canvas").getContext("2d")!;
    return (inputs as HTMLInputElement[])
      .filter((input) => input.offsetParent !== null && input.placeholder !== "")
      .flatMap((input) => {
        const style = getComputedStyle(input);
        ruler.font = `${style.fontStyle} ${style.fontWeight} ${style.fontSize} ${style.fontFamily}`;
        const needs = Math.ceil(ruler.measureText(input.placeholder).width);
        const has = Math.floor(input.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight));
        return needs > has ? [`"${input.placeholder}" (needs ${needs} px, has ${has})`] : [];
      });
  });
}

describe("nothing typed is cut at a limit", () => {
  it("the login form says by how much a name or a password is too long, keeps it whole, and does not send it", async () => {
    const { context, page } = await anonymous(1, "/login");
    await page.getByTestId("tab-register").click();
    await page.getByTestId("username").fill("u".repeat(30));
    await page.getByTestId("password").fill("p".repeat(130));
    expect(await page.getByTestId("username-length").innerText()).toBe("6 characters too many (at most 24)");
    expect(await page.getByTestId("password-length").innerText()).toBe("2 characters too many (at most 128)");
    expect(await page.getByTestId("username").inputValue()).toHaveLength(30);
    expect(await page.getByTestId("password").inputValue()).toHaveLength(130);
    expect(await page.getByTestId("submit").isDisabled()).toBe(true);
    await page.getByTestId("username").fill("u".repeat(24));
    expect(await page.getByTestId("username-length").count()).toBe(0);
    await context.close();
  });

  it("the lobby's searches say by how much a text is too long, keep it whole, and do not search it", async () => {
    await B.page.goto(url(1, "/"));
    await connected(B.page);
    const sentSearches = (event: string) => B.frames.sent.filter((frame) => frame.includes(`"${event}"`));
    const users = B.page.getByTestId("user-search");
    await users.fill(bruno.slice(0, 3));
    await expect.poll(() => sentSearches("lobby_users").some((frame) => frame.includes(`"prefix":"${bruno.slice(0, 3)}"`))).toBe(true);
    await expect.poll(() => B.page.getByTestId("online-users").innerText()).toContain(bruno);
    const asked = sentSearches("lobby_users").length;

    await users.fill(`${bruno.slice(0, 3)}${"x".repeat(42)}`);
    expect(await B.page.getByTestId("user-search-length").innerText()).toBe("5 characters too many (at most 40)");
    expect(await users.inputValue()).toHaveLength(45);
    expect(await users.getAttribute("aria-invalid")).toBe("true");
    await B.page.waitForTimeout(1000); // well past the pause after which a search is asked
    expect(sentSearches("lobby_users")).toHaveLength(asked);
    expect(await B.page.getByTestId("online-users").innerText()).toContain(bruno); // the list stays

    // Characters, not UTF-16 units; the spaces around are not sent, so they do not count.
    const rooms = B.page.getByTestId("room-search");
    await rooms.fill("Poli");
    await B.page.locator(`[data-room="${ROOM}"]`).waitFor();
    await rooms.fill(`  ${"ç".repeat(38)}😀😀😀😀  `);
    expect(await B.page.getByTestId("room-search-length").innerText()).toBe("2 characters too many (at most 40)");
    await B.page.waitForTimeout(1000);
    expect(sentSearches("lobby_rooms").filter((frame) => frame.includes("ç"))).toEqual([]);
    expect(await B.page.locator(`[data-room="${ROOM}"]`).count()).toBe(1);

    await rooms.fill("ç".repeat(40));
    expect(await B.page.getByTestId("room-search-length").count()).toBe(0);
    await expect.poll(() => sentSearches("lobby_rooms").some((frame) => frame.includes("ç".repeat(40)))).toBe(true);
    await users.fill("");
    await rooms.fill("");
    expect(await B.page.getByTestId("user-search-length").count()).toBe(0);
  });
});
