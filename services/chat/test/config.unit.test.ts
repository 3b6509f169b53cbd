import { availableParallelism } from "node:os";
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../src/config.js";

describe("configuration", () => {
  it("runs embedded with defaults and a generated session secret", () => {
    const config = loadConfig({});
    expect(config.redis).toBeNull();
    expect(config.port).toBe(3000);
    expect(config.sessionSecretGenerated).toBe(true);
    expect(config.allowedOrigins).toEqual(["http://localhost:3000", "http://127.0.0.1:3000"]);
    expect(config.argon2).toEqual({ memoryCost: 19456, timeCost: 2, parallelism: 1 });
    expect(config.hashConcurrency).toBe(Math.min(availableParallelism(), 3));
  });

  it("refuses cluster mode without SESSION_SECRET", () => {
    expect(() => loadConfig({ REDIS_URL: "redis://127.0.0.1:6379" })).toThrow(/SESSION_SECRET/);
  });

  it("names the variable of a bad value", () => {
    expect(() => loadConfig({ PORT: "eighty" })).toThrow(ConfigError);
    expect(() => loadConfig({ PORT: "eighty" })).toThrow(/PORT/);
    expect(() => loadConfig({ ARGON2_MEMORY_KIB: "1024" })).toThrow(/ARGON2_MEMORY_KIB/);
    expect(() => loadConfig({ ARGON2_CONCURRENCY: "0" })).toThrow(/ARGON2_CONCURRENCY/);
    expect(loadConfig({ ARGON2_CONCURRENCY: "3" }).hashConcurrency).toBe(3);
    expect(() => loadConfig({ ALLOWED_ORIGINS: "http://ok.example/path" })).toThrow(/ALLOWED_ORIGINS/);
    expect(() => loadConfig({ REDIS_URL: "localhost:6379", SESSION_SECRET: "x".repeat(32) })).toThrow(/REDIS_URL/);
  });

  it("parses TRUST_PROXY as boolean, hop count or address list", () => {
    expect(loadConfig({ TRUST_PROXY: "true" }).trustProxy).toBe(true);
    expect(loadConfig({ TRUST_PROXY: "1" }).trustProxy).toBe(1);
    expect(loadConfig({ TRUST_PROXY: "127.0.0.1, 10.0.0.0/8" }).trustProxy).toEqual(["127.0.0.1", "10.0.0.0/8"]);
  });

  it("caps history by age: 30 days by default, 0 for no age cap", () => {
    expect(loadConfig({}).history.maxAgeMs).toBe(30 * 24 * 3600 * 1000);
    expect(loadConfig({ HISTORY_MAX_AGE_SEC: "0" }).history.maxAgeMs).toBe(0);
    expect(loadConfig({ HISTORY_MAX_AGE_SEC: "60" }).history.maxAgeMs).toBe(60_000);
    expect(() => loadConfig({ HISTORY_MAX_AGE_SEC: "-1" })).toThrow(/HISTORY_MAX_AGE_SEC/);
  });

  it("remembers message ids for 10 minutes by default; never less than a minute, never more than a day", () => {
    expect(loadConfig({}).messageIdWindowSec).toBe(600);
    expect(loadConfig({ MESSAGE_ID_WINDOW_SEC: "120" }).messageIdWindowSec).toBe(120);
    expect(() => loadConfig({ MESSAGE_ID_WINDOW_SEC: "30" })).toThrow(/MESSAGE_ID_WINDOW_SEC/);
    expect(() => loadConfig({ MESSAGE_ID_WINDOW_SEC: "86401" })).toThrow(/MESSAGE_ID_WINDOW_SEC/);
  });
});
