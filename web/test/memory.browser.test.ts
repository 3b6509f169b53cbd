/**
 * The /memory page in real Chromium on a two-node cluster: an admin watches every node's health
 * live (charts drawn, a table row per node, nodes coming and going without a reload), Chart.js is
 * downloaded only there, non-admins get 403, anonymous visitors go to /login, and the strict CSP
 * holds.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRoom, openUser, register, screenshot, startBrowserCluster, type BrowserCluster, type UserPage } from "./support/browser-cluster.js";
import { openMemoryPage, tableNodes } from "./support/memory-page.js";

const PASSWORD = "correct horse battery";
const run = Date.now().toString(36).slice(-4);
const admin = `root_${run}`;
const member = `maria_${run}`;

let cluster: BrowserCluster;
let A: UserPage;
/** A member (not an admin) chatting on node 2, for the rates chart. */
let M: UserPage;
/** Every URL the admin's page requested. */
const requested: string[] = [];

beforeAll(async () => {
  // A one-minute window (the default is five): the charts fill up within the test.
  cluster = await startBrowserCluster(2, { METRICS_WINDOW_SEC: "60" });
  A = await openUser(cluster, cluster.nodes[0]!);
  A.page.on("request", (request) => requested.push(request.url()));
  await register(A, admin, PASSWORD);
  await cluster.grantAdmin(admin); // the operator's command (issue 17, item 9c)
}, 60_000);
afterAll(async () => {
  await cluster?.close();
});

const isChartsChunk = (url: string) => /\/assets\/charts-[^/]*\.js$/.test(url);

describe("the /memory page", () => {
  it("the chat does not download Chart.js", async () => {
    await A.page.reload();
    await A.page.locator('[data-testid="connection"][data-state="connected"]').waitFor();
    expect(requested.some((url) => url.endsWith(".js"))).toBe(true);
    expect(requested.filter(isChartsChunk)).toEqual([]);
  });

  it("an admin sees every node of the cluster in the table, within a few seconds", async () => {
    const response = await openMemoryPage(A.page, cluster.nodes[0]!);
    expect(response?.status()).toBe(200);
    await A.page.getByRole("heading", { level: 2, name: "Over the last 1 min" }).waitFor(); // the server's window
    const ids = cluster.nodes.map((node) => node.id).sort();
    await expect.poll(() => tableNodes(A.page), { timeout: 8000 }).toEqual(ids);
    const row = A.page.locator(`tr[data-node="${ids[0]}"]`);
    expect(await row.locator("td").count()).toBe(9);
    expect(await row.innerText()).toMatch(/\d+(\.\d)?\s+\d+(\.\d)?/); // RSS and heap in MB
    expect(requested.filter(isChartsChunk)).toHaveLength(1);
  });

  it("draws the four charts, each with a text alternative naming every node", async () => {
    const canvases = A.page.getByTestId("chart-canvas");
    await expect.poll(() => canvases.count()).toBe(4);
    for (const canvas of await canvases.all()) {
      const box = await canvas.boundingBox();
      expect(box?.width).toBeGreaterThan(100);
      expect(box?.height).toBeGreaterThan(100);
    }
    // Chart.js has drawn on every canvas (axes, legend, lines): some pixels are not transparent.
    await expect
      .poll(() =>
        canvases.evaluateAll((elements) =>
          (elements as HTMLCanvasElement[]).map((canvas) => {
            const { data } = canvas.getContext("2d")!.getImageData(0, 0, canvas.width, canvas.height);
            let ink = 0;
            for (let i = 3; i < data.length; i += 4) if (data[i]! > 0) ink++;
            return ink > 1000;
          }),
        ),
      )
      .toEqual([true, true, true, true]);
    for (const id of ["memory", "cpu", "sockets", "rates"]) {
      const figure = A.page.locator(`figure[data-chart="${id}"]`);
      expect(await figure.getByRole("heading", { level: 3 }).count()).toBe(1);
      const caption = await figure.locator("figcaption").innerText();
      for (const node of cluster.nodes) expect(caption).toContain(node.id);
      const picture = figure.getByRole("img");
      expect(await picture.getAttribute("aria-describedby")).toBe(await figure.locator("figcaption").getAttribute("id"));
    }
  });

  it("a node that joins appears without a reload, and leaves once it has been silent for its TTL", async () => {
    const extra = await cluster.addNode();
    await expect.poll(() => tableNodes(A.page), { timeout: 8000 }).toContain(extra.id);
    await expect.poll(() => A.page.locator('figure[data-chart="memory"] figcaption').innerText(), { timeout: 5000 }).toContain(extra.id);
    await extra.kill("SIGKILL");
    await expect.poll(() => tableNodes(A.page), { timeout: 10_000 }).not.toContain(extra.id);
    expect(await A.page.locator('figure[data-chart="memory"] figcaption').innerText()).not.toContain(extra.id);
    expect(await tableNodes(A.page)).toEqual(cluster.nodes.slice(0, 2).map((node) => node.id).sort());
  });

  it("a logged-in user who is not an admin gets 403", async () => {
    M = await openUser(cluster, cluster.nodes[1]!);
    await register(M, member, PASSWORD);
    // Some traffic for the rates chart while we are here.
    await createRoom(M, `Métricas ${run}`);
    for (let i = 1; i <= 5; i++) {
      await M.page.getByTestId("composer").fill(`mensagem ${i}`);
      await M.page.getByTestId("composer").press("Enter");
    }
    // Delivered, not only shown as pending: nothing left in the outbox.
    await expect.poll(() => M.page.getByTestId("feed").innerText()).toContain("mensagem 5");
    await expect.poll(() => M.page.getByTestId("pending-message").count()).toBe(0);
    for (const node of cluster.nodes.slice(0, 2)) {
      const response = await M.page.goto(`${node.url}/memory`);
      expect(response?.status()).toBe(403);
    }
    await M.page.goto(`${cluster.nodes[1]!.url}/`);
    await M.page.locator('[data-testid="connection"][data-state="connected"]').waitFor();
  });

  it("an anonymous visitor is sent to /login", async () => {
    const context = await cluster.browser.newContext({ locale: "en-US" });
    const page = await context.newPage();
    const response = await page.goto(`${cluster.nodes[0]!.url}/memory`);
    expect(new URL(page.url()).pathname).toBe("/login");
    expect(response?.request().redirectedFrom()?.url()).toBe(`${cluster.nodes[0]!.url}/memory`);
    await page.getByTestId("tab-register").waitFor();
    await context.close();
    const raw = await fetch(`${cluster.nodes[1]!.url}/memory`, { redirect: "manual" });
    expect(raw.status).toBe(302);
    expect(raw.headers.get("location")).toBe("/login?next=/memory"); // back to /memory after the login
  });

  it("speaks Portuguese too", async () => {
    await A.page.getByTestId("language").selectOption("pt-BR");
    await A.page.getByRole("heading", { level: 1, name: "Saúde do cluster" }).waitFor();
    expect(await A.page.locator('figure[data-chart="memory"] figcaption').innerText()).toContain("nos últimos 1 min");
    await A.page.getByTestId("language").selectOption("en");
    await A.page.getByRole("heading", { level: 1, name: "Cluster health" }).waitFor();
  });

  it("shows the live charts (screenshot)", async () => {
    // A few more seconds of samples and some chat traffic, then a picture for the docs.
    await createRoom(M, `Gráficos ${run}`);
    for (let i = 1; i <= 12; i++) {
      await M.page.getByTestId("composer").fill(`mais uma ${i}`);
      await M.page.getByTestId("composer").press("Enter");
      await M.page.waitForTimeout(250 * (i % 4));
    }
    await A.page.waitForTimeout(2000);
    await A.page.setViewportSize({ width: 1280, height: 1300 });
    await screenshot(A.page, "memory");
  });

  it("no page logged an error or a Content-Security-Policy violation", () => {
    expect(A.problems).toEqual([]);
  });
});
