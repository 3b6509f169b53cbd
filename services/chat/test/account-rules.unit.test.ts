/**
 * Issue 17, item 9 (b) and (d), as pure rules: which account passwords are refused and why, which
 * names count as look-alikes, and the login throttle's progressive delay. The stores' atomic
 * uniqueness is in store-contract.ts; the HTTP and socket answers in http-accounts.int.test.ts and
 * confusable-names.int.test.ts.
 */
import { describe, expect, it } from "vitest";
import { ErrorCode } from "@sala/protocol";
import { ConfigError, loadAdminCliConfig, loadConfig } from "../src/config.js";
import { FREE_FAILURES, loginDelayMs } from "../src/domain/accounts.js";
import { confusableKey } from "../src/domain/confusables.js";
import { checkAccountPassword, commonPasswords } from "../src/domain/password-policy.js";

async function refusal(password: string, username = "ana"): Promise<string | null> {
  try {
    await checkAccountPassword(password, username);
    return null;
  } catch (error) {
    expect((error as { code: string }).code).toBe(ErrorCode.WEAK_PASSWORD);
    return (error as Error).message;
  }
}

describe("account password policy", () => {
  it("loads a common-password list of at least 10,000 entries, lower-cased", async () => {
    const list = await commonPasswords();
    expect(list.size).toBeGreaterThanOrEqual(10_000);
    for (const password of ["password", "123456", "qwerty", "iloveyou", "passw0rd"]) expect(list.has(password)).toBe(true);
    expect(await commonPasswords()).toBe(list); // loaded once
  });

  it.each([
    ["password", /common/],
    ["PassWord", /common/],
    ["iloveyou", /common/],
    ["aaaaaaaa", /repeated or sequential/],
    ["abababab", /repeated or sequential/],
    ["abcdefgh", /repeated or sequential/],
    ["87654321", /repeated or sequential/],
    ["ana12345", /username/],
    ["12ANA-secret-ish", /username/],
    ["short", /8 to 128/],
    ["x".repeat(129), /8 to 128/],
  ])("refuses %j for user ana: WEAK_PASSWORD saying why", async (password, why) => {
    expect(await refusal(password)).toMatch(why);
  });

  it("accepts strong passwords, and the username rule is about this user only", async () => {
    for (const password of ["correct horse battery", "violet tram 93", "Tr4m-in-the-fog", "q".repeat(7) + "z"]) {
      expect(await refusal(password)).toBeNull();
    }
    expect(await refusal("bruno-likes-tea", "ana")).toBeNull();
    expect(await refusal("bruno-likes-tea", "bruno")).toMatch(/username/);
  });
});

describe("confusable names (UTS #39 skeleton after NFKC, case-insensitive)", () => {
  it.each([
    ["ana", "аna"], // Cyrillic а
    ["ana", "ａｎａ"], // fullwidth
    ["ana", "АNА"], // Cyrillic capitals and a Latin N
    ["ana", "ΑΝΑ"], // Greek capitals
    ["ana", "ANA"],
    ["marco", "rnarco"],
    ["louis", "Iouis"], // capital I
    ["bill", "bi11"],
    ["rooms", "r00ms"],
    ["Lobby", "Lоbby"], // Cyrillic о
    ["café", "cafe\u0301"], // decomposed
    ["file", "ﬁle"], // ligature
    ["ana", "a\u200Bna"], // zero-width space
  ])("%j and %j look alike", (a, b) => {
    expect(confusableKey(b)).toBe(confusableKey(a));
  });

  it.each([
    ["ana", "anna"],
    ["ana", "ana2"],
    ["bench1", "bench10"],
    ["café", "cafe"],
    ["Sala", "Sola"],
  ])("%j and %j do not", (a, b) => {
    expect(confusableKey(b)).not.toBe(confusableKey(a));
  });
});

describe("login delay after failures", () => {
  it(`is none for the account's first ${FREE_FAILURES} failures, then 1 s doubling up to the cap`, () => {
    const delays = Array.from({ length: 10 }, (_, i) => loginDelayMs(i + 1, 30));
    expect(delays).toEqual([0, 0, 0, 1000, 2000, 4000, 8000, 16000, 30000, 30000]);
    expect(loginDelayMs(1_000_000, 30)).toBe(30_000);
    expect(loginDelayMs(50, 0)).toBe(0);
  });
});

describe("configuration of accounts", () => {
  it("refuses to start with ADMIN_USERS, naming the command that replaces it", () => {
    expect(() => loadConfig({ ADMIN_USERS: "ana" })).toThrow(ConfigError);
    expect(() => loadConfig({ ADMIN_USERS: "ana" })).toThrow(/npm run admin -- grant-admin NAME/);
    expect(() => loadConfig({ ADMIN_USERS: " " })).not.toThrow();
  });

  it("has per-(account, address), per-address and per-account login limits, 10 / 100 / 1000 by default", () => {
    expect(loadConfig({}).loginThrottle).toEqual({ maxFailsPerUserIp: 10, maxFailsPerIp: 100, maxFailsPerUser: 1000, windowSec: 900, delayMaxSec: 30 });
    expect(() => loadConfig({ LOGIN_MAX_FAILS_PER_USER_IP: "0" })).toThrow(/LOGIN_MAX_FAILS_PER_USER_IP/);
  });

  it("gives the admin CLI the node's Redis, or the embedded node's socket for its PORT", () => {
    expect(loadAdminCliConfig({ REDIS_URL: "redis://127.0.0.1:7000", REDIS_PREFIX: "p1" }).redis).toMatchObject({ url: "redis://127.0.0.1:7000", prefix: "p1" });
    expect(loadAdminCliConfig({ REDIS_CLUSTER_NODES: "127.0.0.1:7000", REDIS_PREFIX: "p1" }).redis).toMatchObject({ clusterNodes: [{ host: "127.0.0.1", port: 7000 }], prefix: "p1" });
    const embedded = loadAdminCliConfig({ PORT: "4100" });
    expect(embedded.redis).toBeNull();
    expect(embedded.adminSocket).toMatch(/sala-admin-4100\.sock$/);
    expect(loadAdminCliConfig({ ADMIN_SOCKET: "/run/sala/admin.sock" }).adminSocket).toBe("/run/sala/admin.sock");
    expect(() => loadAdminCliConfig({ REDIS_URL: "nope" })).toThrow(/REDIS_URL/);
  });
});
