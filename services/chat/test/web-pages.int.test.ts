/**
 * What a browser gets from a node besides the API (issue 21, item 5): the app's routes serve the
 * web client, an unknown path a browser navigates to gets the client's page with status 404 (the
 * app says "page not found"), while API clients and the API's own paths keep the JSON 404; the
 * admins' pages send an anonymous visitor to the login page with the way back in `next`.
 * Two nodes on the real redis-server, serving a stand-in build of the web client.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { ErrorCode } from "@sala/protocol";
import { newUsername, registerAndLogin, startCluster, type TestCluster, type TestNode } from "./support/cluster.js";

const MARKER = `<title>Sala stand-in ${process.pid}</title>`;
const HTML = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"; // what Chromium sends on navigation

let webDir: string;
let cluster: TestCluster;
let a: TestNode;
let b: TestNode;

beforeAll(async () => {
  webDir = mkdtempSync(join(tmpdir(), "sala-web-"));
  writeFileSync(join(webDir, "index.html"), `<!doctype html><html><head>${MARKER}</head><body><div id="app"></div></body></html>`);
  writeFileSync(join(webDir, "favicon.svg"), `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1 1"/>`);
  cluster = await startCluster(2, inject("redisUrl"), { WEB_DIR: webDir });
  [a, b] = cluster.nodes as [TestNode, TestNode];
});
afterAll(async () => {
  await cluster?.close();
  if (webDir) rmSync(webDir, { recursive: true, force: true });
});

async function get(url: string, headers: Record<string, string> = {}) {
  const response = await fetch(url, { headers, redirect: "manual" });
  return { status: response.status, type: response.headers.get("content-type") ?? "", headers: response.headers, text: await response.text() };
}

describe("the web client's routes", () => {
  it("serves the page at /, /login, a room's and a conversation's address, on every node", async () => {
    for (const node of [a, b]) {
      for (const path of ["/", "/login", "/r/0123456789abcdef", "/dm/maria_1", "/dm/Jos%C3%A9"]) {
        const page = await get(`${node.url}${path}`, { accept: HTML });
        expect(page.status, path).toBe(200);
        expect(page.type, path).toMatch(/^text\/html/);
        expect(page.text, path).toContain(MARKER);
      }
    }
  });

  it("serves the favicon from the build", async () => {
    const icon = await get(`${a.url}/favicon.svg`);
    expect(icon.status).toBe(200);
    expect(icon.type).toMatch(/^image\/svg\+xml/);
  });
});

describe("an unknown path", () => {
  it("a browser navigating there gets the page with status 404, under the same security headers", async () => {
    for (const path of ["/nope", "/r", "/memory/extra", "/login/", "/some/deep/path?x=1"]) {
      const page = await get(`${b.url}${path}`, { accept: HTML });
      expect(page.status, path).toBe(404);
      expect(page.type, path).toMatch(/^text\/html/);
      expect(page.text, path).toContain(MARKER);
      expect(page.headers.get("cache-control"), path).toBe("no-cache");
      expect(page.headers.get("content-security-policy"), path).toContain("default-src");
    }
  });

  it("an API client, a non-GET and the API's own paths keep the JSON 404", async () => {
    const notFound = { ok: false, error: { code: ErrorCode.NOT_FOUND, message: "Not found" } };
    const cases: [string, RequestInit][] = [
      ["/nope", { headers: { accept: "application/json" } }],
      ["/nope", {}], // fetch's default accept is */*
      ["/nope", { method: "DELETE", headers: { accept: HTML } }],
      ["/admin/api/nope", { headers: { accept: HTML } }],
      ["/account/nope", { headers: { accept: HTML } }],
      ["/session/nope", { headers: { accept: HTML } }],
      ["/assets/gone-1234.js", { headers: { accept: HTML } }],
      ["/metrics/nope", { headers: { accept: HTML } }],
    ];
    for (const [path, init] of cases) {
      const response = await fetch(`${a.url}${path}`, init);
      const label = `${init.method ?? "GET"} ${path}`;
      expect(response.status, label).toBe(404);
      expect(response.headers.get("content-type"), label).toMatch(/^application\/json/);
      expect(await response.json(), label).toEqual(notFound);
    }
  });
});

describe("the admins' pages", () => {
  it("send an anonymous visitor to the login page with the way back", async () => {
    for (const [node, path] of [
      [a, "/memory"],
      [b, "/admin"],
    ] as const) {
      const answer = await get(`${node.url}${path}`, { accept: HTML });
      expect(answer.status).toBe(302);
      expect(answer.headers.get("location")).toBe(`/login?next=${path}`);
    }
  });

  it("give a logged-in non-admin the page with status 403 (the page says why)", async () => {
    const cookie = await registerAndLogin(a, newUsername("plain"));
    for (const [node, path] of [
      [a, "/memory"],
      [b, "/admin"],
    ] as const) {
      const page = await get(`${node.url}${path}`, { accept: HTML, cookie });
      expect(page.status).toBe(403);
      expect(page.text).toContain(MARKER);
    }
  });
});
