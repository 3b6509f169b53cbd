import { ErrorCode } from "@sala/protocol";
import { describe, expect, it } from "vitest";
import { toErrorBody } from "../src/errors.js";

/** An error as ioredis raises it: a ReplyError carries Redis's message, others their own name. */
function redisError(message: string, name = "ReplyError"): Error {
  const error = new Error(message);
  error.name = name;
  return error;
}

describe("Redis and Redis Cluster errors reach clients as UNAVAILABLE, never INTERNAL", () => {
  it.each([
    ["a slot without a primary (failover in progress)", redisError("CLUSTERDOWN The cluster is down")],
    ["a slot being migrated", redisError("TRYAGAIN Multiple keys request during rehashing of slot")],
    ["a MOVED past ioredis' redirections", redisError("MOVED 3999 127.0.0.1:6381")],
    ["an ASK past ioredis' redirections", redisError("ASK 3999 127.0.0.1:6381")],
    ["ioredis giving up on redirections", redisError("Too many Cluster redirections. Last error: Error: CLUSTERDOWN", "Error")],
    ["no node of the cluster answering", redisError("Failed to refresh slots cache.", "ClusterAllFailedError")],
    ["a cluster client not ready yet", redisError("Cluster isn't ready and enableOfflineQueue options is false", "Error")],
    ["a primary lost by a replica", redisError("MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.")],
    ["a demoted primary", redisError("READONLY You can't write against a read only replica.")],
    ["a closed connection", redisError("Connection is closed.", "Error")],
  ])("%s", (_what, error) => {
    expect(toErrorBody(error).code).toBe(ErrorCode.UNAVAILABLE);
  });

  it("keeps a bug a bug: CROSSSLOT (a script that mixes scopes) and WRONGTYPE are INTERNAL", () => {
    expect(toErrorBody(redisError("CROSSSLOT Keys in request don't hash to the same slot")).code).toBe(ErrorCode.INTERNAL);
    expect(toErrorBody(redisError("WRONGTYPE Operation against a key holding the wrong kind of value")).code).toBe(ErrorCode.INTERNAL);
    expect(toErrorBody(new Error("a message that mentions moved furniture")).code).toBe(ErrorCode.INTERNAL);
  });
});

/** An error of better-sqlite3 as it arrives from the store thread: its SQLite code kept (thread/wire.ts). */
function sqliteError(code: string, message: string): Error {
  return Object.assign(new Error(message), { name: "SqliteError", code });
}

describe("errors of the embedded node's SQLite file", () => {
  it.each([
    ["the file locked past busy_timeout", sqliteError("SQLITE_BUSY", "database is locked")],
    ["a full disk", sqliteError("SQLITE_FULL", "database or disk is full")],
    ["a failing disk", sqliteError("SQLITE_IOERR_WRITE", "disk I/O error")],
    ["a file made read-only", sqliteError("SQLITE_READONLY", "attempt to write a readonly database")],
  ])("reach clients as UNAVAILABLE: %s", (_what, error) => {
    expect(toErrorBody(error).code).toBe(ErrorCode.UNAVAILABLE);
  });

  it("keep a bug a bug: a constraint or an SQL error is INTERNAL", () => {
    expect(toErrorBody(sqliteError("SQLITE_CONSTRAINT_UNIQUE", "UNIQUE constraint failed: users.name_key")).code).toBe(ErrorCode.INTERNAL);
    expect(toErrorBody(sqliteError("SQLITE_ERROR", "no such table: nope")).code).toBe(ErrorCode.INTERNAL);
  });
});
