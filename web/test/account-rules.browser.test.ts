/**
 * Issue 17, item 9 (b) and (d) on the registration form, in real Chromium against a two-node
 * cluster: a weak password is refused with a message that says what a strong one is (in the
 * page's language), a name that looks like an existing user's is refused, and a strong password
 * then gets the user in.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openUser, register, screenshot, startBrowserCluster, type BrowserCluster, type UserPage } from "./support/browser-cluster.js";

const run = Date.now().toString(36).slice(-4).replace(/[01]/g, "7");
const existing = `mia_${run}`;

let cluster: BrowserCluster;
let U: UserPage;

/** Fills the registration form and submits it; returns the error the page shows. */
async function refusedRegistration(user: UserPage, username: string, password: string): Promise<string> {
  const { page } = user;
  await page.getByTestId("tab-register").click();
  await page.getByTestId("username").fill(username);
  await page.getByTestId("password").fill(password);
  await page.getByTestId("submit").click();
  const error = page.getByTestId("login-error");
  await error.waitFor();
  return error.innerText();
}

beforeAll(async () => {
  cluster = await startBrowserCluster(2);
  const first = await openUser(cluster, cluster.nodes[0]!);
  await register(first, existing, "violet tram 93");
  await first.context.close();
  U = await openUser(cluster, cluster.nodes[1]!);
  await U.page.waitForURL("**/login");
}, 60_000);
afterAll(async () => {
  await cluster?.close();
});

describe("registration rules in the page", () => {
  it("refuses common, patterned and name-containing passwords, saying what a strong one is", async () => {
    const name = `nuno_${run}`;
    for (const weak of ["password", "aaaaaaaa", `${name}123`]) {
      const shown = await refusedRegistration(U, name, weak);
      expect(shown).toContain("Choose a stronger password");
      expect(shown).toContain("not one of the most common passwords");
    }
    await screenshot(U.page, "register-weak-password");
    expect(U.page.url()).toMatch(/\/login$/);
  });

  it("refuses a name that looks like an existing user's", async () => {
    const lookalike = existing.replace("m", "rn");
    expect(await refusedRegistration(U, lookalike, "violet tram 94")).toBe("That name looks too much like an existing one.");
  });

  it("lets the user in with a strong password", async () => {
    await U.page.getByTestId("tab-login").click(); // register() starts from the login tab
    await register(U, `nuno_${run}`, "violet tram 95");
    await U.page.locator('[data-testid="connection"][data-state="connected"]').waitFor();
    expect(U.problems.filter((problem) => !/status of (400|409)/.test(problem))).toEqual([]);
  });
});
