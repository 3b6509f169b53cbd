/**
 * Issue 21, item 4, in real Chromium on two nodes: a page whose session ends elsewhere says so and
 * why, and stays on the login page — a logout in another tab of the same browser, another tab
 * logging in over the session, an expiry (the session's absolute lifetime, short here).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openUser, register, startBrowserCluster, type BrowserCluster, type UserPage } from "./support/browser-cluster.js";
import { logIn, signedOutNotice } from "./support/admin-accounts.js";

const PASSWORD = "correct horse battery";
const run = Date.now().toString(36).slice(-4);

let cluster: BrowserCluster;
beforeAll(async () => {
  cluster = await startBrowserCluster(2, { SESSION_ABSOLUTE_TIMEOUT_SEC: "8", SESSION_IDLE_TIMEOUT_SEC: "8" });
}, 90_000);
afterAll(async () => {
  await cluster?.close();
});

/** A second tab of the same browser (same cookie), on the other node, in the chat. */
async function secondTab(user: UserPage) {
  const tab = await user.context.newPage();
  await tab.goto(`${cluster.nodes[1]!.url}/`);
  await tab.locator('[data-testid="connection"][data-state="connected"]').waitFor();
  return tab;
}

describe("a page signed out from elsewhere says why", () => {
  it("a logout in another tab", async () => {
    const U = await openUser(cluster, cluster.nodes[0]!);
    await register(U, `out_${run}`, PASSWORD);
    const other = await secondTab(U);
    await U.page.getByTestId("logout").click();
    expect(await signedOutNotice(other)).toBe("You logged out in another tab or window.");
    await U.context.close();
  });

  it("another tab logging in over the session", async () => {
    const U = await openUser(cluster, cluster.nodes[0]!);
    const name = `again_${run}`;
    await register(U, name, PASSWORD);
    const other = await secondTab(U);
    // The same browser logs in again (another tab on the login page): the old session ends.
    const third = await U.context.newPage();
    await third.goto(`${cluster.nodes[0]!.url}/login`);
    await third.evaluate(
      async ([username, password]) => {
        await fetch("/login", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ username, password }) });
      },
      [name, PASSWORD],
    );
    expect(await signedOutNotice(other)).toContain("logged in again in another tab");
    await U.context.close();
  });

  it("the session expiring", async () => {
    const U = await openUser(cluster, cluster.nodes[1]!);
    const name = `exp_${run}`;
    await register(U, name, PASSWORD);
    expect(await signedOutNotice(U.page)).toBe("Your session expired. Log in again to continue.");
    await logIn(U.page, name, PASSWORD); // and a new login works
    await U.context.close();
  }, 30_000);
});
