import { availableParallelism } from "node:os";
import { resolve } from "node:path";
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

  it("selects a Redis Cluster with REDIS_CLUSTER_NODES (host:port or URLs), never together with REDIS_URL", () => {
    const secret = { SESSION_SECRET: "x".repeat(32) };
    const config = loadConfig({ ...secret, REDIS_CLUSTER_NODES: "10.0.0.1:7000, redis://10.0.0.2:7001 ,[::1]:7002", REDIS_WAIT_REPLICAS: "1" });
    expect(config.redis).toEqual({
      prefix: "sala",
      waitReplicas: 1,
      waitTimeoutMs: 1000,
      clusterNodes: [
        { host: "10.0.0.1", port: 7000, tls: false },
        { host: "10.0.0.2", port: 7001, tls: false },
        { host: "::1", port: 7002, tls: false },
      ],
    });
    expect(loadConfig({ ...secret, REDIS_CLUSTER_NODES: "rediss://sala:p%40ss@redis.example:6380" }).redis?.clusterNodes).toEqual([
      { host: "redis.example", port: 6380, tls: true, username: "sala", password: "p@ss" },
    ]);
    expect(loadConfig({ ...secret, REDIS_URL: "redis://127.0.0.1:6379" }).redis).toMatchObject({ url: "redis://127.0.0.1:6379", waitReplicas: 0 });
    expect(() => loadConfig({ ...secret, REDIS_URL: "redis://a:1", REDIS_CLUSTER_NODES: "b:2" })).toThrow(/REDIS_URL.*REDIS_CLUSTER_NODES.*not both/);
    expect(() => loadConfig({ REDIS_CLUSTER_NODES: "b:2" })).toThrow(/SESSION_SECRET.*REDIS_CLUSTER_NODES/);
    for (const bad of ["b", "http://b:2", "redis://b:2/3", "redis://b:1,rediss://c:2", " , "]) {
      expect(() => loadConfig({ ...secret, REDIS_CLUSTER_NODES: bad }), bad).toThrow(/REDIS_CLUSTER_NODES/);
    }
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

  it("keeps an embedded node's data in SQLite under DATA_DIR unless STORE=memory; never beside Redis", () => {
    expect(loadConfig({}).embeddedStore).toEqual({ kind: "sqlite", dataDir: resolve("data"), file: resolve("data", "sala.sqlite") });
    expect(loadConfig({ DATA_DIR: "/var/lib/sala" }).embeddedStore).toEqual({ kind: "sqlite", dataDir: "/var/lib/sala", file: "/var/lib/sala/sala.sqlite" });
    expect(loadConfig({ STORE: "memory" }).embeddedStore).toEqual({ kind: "memory" });
    expect(() => loadConfig({ STORE: "disk" })).toThrow(/STORE/);
    const secret = { SESSION_SECRET: "x".repeat(32) };
    expect(loadConfig({ REDIS_URL: "redis://127.0.0.1:6379", ...secret }).embeddedStore).toBeNull();
    expect(() => loadConfig({ REDIS_URL: "redis://127.0.0.1:6379", STORE: "sqlite", ...secret })).toThrow(/STORE.*not used with REDIS_URL/);
  });
});
