/**
 * What the browser tests run against: a real redis-server, two Sala nodes as separate processes
 * (the built server, serving the built web client), and Debian's Chromium driven by
 * playwright-core. Each browser context talks to the node it was pointed at, so users sit on
 * different nodes.
 */
import { spawn } from "node:child_process";
import { mkdirSync } from "node:fs";
import { chromium, type Browser, type BrowserContext, type Page, type WebSocket } from "playwright-core";
import { startChildNode, type ChildNode } from "../../../services/chat/test/support/child-node.js";
import { freePort, startRedisServer, type RedisServer } from "../../../services/chat/test/support/redis-server.js";
import { uniquePrefix } from "../../../services/chat/test/support/redis-client.js";

export const ARTIFACTS = new URL("../../../test-results/browser/", import.meta.url).pathname;
const ROOT = new URL("../../../", import.meta.url).pathname;
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

export interface BrowserCluster {
  nodes: ChildNode[];
  browser: Browser;
  /** Starts one more node in the cluster (same Redis, same env); `close` stops it too. */
  addNode(): Promise<ChildNode>;
  /** Gives an existing account the admin role, as an operator does: `npm run admin -- grant-admin NAME`. */
  grantAdmin(username: string): Promise<void>;
  /** Starts a stopped node again, same id and port (pages pointed at it reconnect there); replaces it in `nodes`. */
  restartNode(node: ChildNode): Promise<ChildNode>;
  close(): Promise<void>;
}

/** `env` is added to every node's environment (e.g. METRICS_WINDOW_SEC). */
export async function startBrowserCluster(nodeCount = 2, env: Record<string, string> = {}): Promise<BrowserCluster> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const redis: RedisServer = await startRedisServer();
  const ports = await Promise.all(Array.from({ length: nodeCount }, () => freePort()));
  const origins = ports.flatMap((port) => [`http://127.0.0.1:${port}`, `http://localhost:${port}`]).join(",");
  const prefix = uniquePrefix("browser");
  const nodes: ChildNode[] = [];
  const start = (port: number, id = `${prefix}-n${nodes.length + 1}`) =>
    startChildNode(id, redis.url, prefix, { ...env, PORT: String(port), ALLOWED_ORIGINS: origins });
  let browser: Browser;
  try {
    for (const port of ports) nodes.push(await start(port));
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
  } catch (error) {
    // A node that cannot start (or a browser that cannot launch) must not leave the others and Redis behind.
    await Promise.all(nodes.map((node) => node.kill("SIGTERM")));
    await redis.stop();
    throw error;
  }
  return {
    nodes,
    browser,
    async grantAdmin(username: string) {
      const { code, stderr } = await runAdminCli(["grant-admin", username], { REDIS_URL: redis.url, REDIS_PREFIX: prefix });
      if (code !== 0) throw new Error(`npm run admin -- grant-admin ${username}: exit ${code}: ${stderr}`);
    },
    async addNode() {
      const node = await start(await freePort());
      nodes.push(node);
      return node;
    },
    async restartNode(node) {
      const again = await start(Number(new URL(node.url).port), node.id);
      nodes[nodes.indexOf(node)] = again;
      return again;
    },
    async close() {
      await browser.close();
      await Promise.all(nodes.map((node) => node.kill("SIGTERM")));
      await redis.stop();
    },
  };
}

/** Runs the admin CLI (`npm run admin -- ARGS`) from the repository root with `env`. */
function runAdminCli(args: string[], env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn("npm", ["run", "--silent", "admin", "--", ...args], { cwd: ROOT, env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env } });
    let stderr = "";
    child.stderr.on("data", (chunk) => (stderr += chunk));
    const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
    child.once("error", reject);
    child.once("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
}

/** Every websocket frame a page sent or received, as text. */
export interface FrameLog {
  sent: string[];
  received: string[];
}

export interface UserPage {
  context: BrowserContext;
  page: Page;
  frames: FrameLog;
  /** Console errors and page errors (CSP violations land here). */
  problems: string[];
}

export async function openUser(cluster: BrowserCluster, node: ChildNode, viewport = { width: 1280, height: 820 }): Promise<UserPage> {
  const context = await cluster.browser.newContext({ viewport, locale: "en-US" });
  const page = await context.newPage();
  const frames: FrameLog = { sent: [], received: [] };
  const problems: string[] = [];
  page.on("websocket", (socket: WebSocket) => {
    socket.on("framesent", ({ payload }) => frames.sent.push(String(payload)));
    socket.on("framereceived", ({ payload }) => frames.received.push(String(payload)));
  });
  page.on("console", (message) => {
    // The app asks GET /session once to learn it is logged out: that 401 is expected.
    if (message.type() === "error" && !/status of 401/.test(message.text())) problems.push(message.text());
  });
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  await page.goto(`${node.url}/`);
  return { context, page, frames, problems };
}

export async function register(user: UserPage, username: string, password: string): Promise<void> {
  const { page } = user;
  await page.waitForURL("**/login");
  await page.getByTestId("tab-register").click();
  await page.getByTestId("username").fill(username);
  await page.getByTestId("password").fill(password);
  await page.getByTestId("submit").click();
  await page.locator('[data-testid="connection"][data-state="connected"]').waitFor();
}

/** Creates a public room from the lobby; the page lands in it. */
export async function createRoom(user: UserPage, name: string): Promise<void> {
  await user.page.getByTestId("room-name").fill(name);
  await user.page.locator('[data-testid="create-room"] button[type="submit"]').click();
  await user.page.getByTestId("room").waitFor();
}

/** Joins a public room by clicking it in the lobby; the page lands in it. */
export async function joinRoom(user: UserPage, name: string): Promise<void> {
  await user.page.locator(`[data-room="${name}"]`).click();
  await user.page.getByTestId("room").waitFor();
}

export async function screenshot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: `${ARTIFACTS}${name}.png` });
}
