/**
 * What the admin page's and account self-service's browser tests share: many accounts made
 * quickly over HTTP, logging in through the page as a person does, and reading why the page was
 * sent back to the login page.
 */
import type { Page } from "playwright-core";
import { post } from "../../../services/chat/test/support/cluster.js";
import type { UserPage } from "./browser-cluster.js";

/** Registers every name (through the nodes in turn, `width` at a time), with `password`. */
export async function registerAccounts(urls: string[], names: string[], password: string, width = 8): Promise<void> {
  for (let start = 0; start < names.length; start += width) {
    await Promise.all(
      names.slice(start, start + width).map(async (username, offset) => {
        const url = urls[(start + offset) % urls.length]!;
        const answer = await post(`${url}/register`, { username, password });
        if (answer.status !== 201) throw new Error(`register ${username}: ${answer.status} ${JSON.stringify(answer.json)}`);
      }),
    );
  }
}

/** Fills the login form (the page shows it) and submits it; waits for nothing after. */
export async function submitLogin(page: Page, username: string, password: string): Promise<void> {
  await page.getByTestId("login-form").waitFor();
  await page.getByTestId("tab-login").click();
  await page.getByTestId("username").fill(username);
  await page.getByTestId("password").fill(password);
  await page.getByTestId("submit").click();
}

/** Logs in through the page and waits until the chat is connected. */
export async function logIn(page: Page, username: string, password: string): Promise<void> {
  await submitLogin(page, username, password);
  await connected(page);
}

export const connected = (page: Page) => page.locator('[data-testid="connection"][data-state="connected"]').waitFor();

/** The login page's error after a refused login. */
export async function refusedLogin(page: Page, username: string, password: string): Promise<string> {
  await submitLogin(page, username, password);
  const error = page.getByTestId("login-error");
  await error.waitFor();
  return error.innerText();
}

/** Waits until the page is back on the login page, and returns what it says about why. */
export async function signedOutNotice(page: Page): Promise<string> {
  await page.waitForURL("**/login");
  const notice = page.getByTestId("login-notice");
  await notice.waitFor();
  return notice.innerText();
}

/** Counts the websockets a page opens from now on (to see that a signed-out page stays quiet). */
export function countSockets(user: UserPage): { readonly opened: number } {
  const counter = { opened: 0 };
  user.page.on("websocket", () => counter.opened++);
  return counter;
}

/** GET or POST `path` from the page (its cookie, its origin): the status and the error code, if any. */
export async function fromPage(page: Page, method: "GET" | "POST", path: string): Promise<{ status: number; code: string | null }> {
  return page.evaluate(
    async ({ method, path }) => {
      const response = await fetch(path, {
        method,
        headers: method === "POST" ? { "content-type": "application/json" } : {},
        body: method === "POST" ? "{}" : undefined,
      });
      const body = (await response.json().catch(() => null)) as { error?: { code?: string } } | null;
      return { status: response.status, code: body?.error?.code ?? null };
    },
    { method, path },
  );
}

/** How far the page is wider than the window (0 or less: no sideways scrolling). */
export const overflow = (page: Page) => page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);

/** Console problems other than the HTTP refusals a test provokes on purpose (status codes given). */
export const unexpected = (problems: string[], ...statuses: number[]) =>
  problems.filter((problem) => !statuses.some((status) => problem.includes(`status of ${status}`)));
