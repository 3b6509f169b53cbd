/**
 * REDIS_WAIT_REPLICAS: a message (and an edit or delete of one) is acknowledged only once
 * `replicas` replicas of its primary hold it. Redis replicates asynchronously, so a primary that dies may take its last writes with it, and
 * the promoted replica numbers the next message with a seq that clients may already have seen.
 * `WAIT n timeout` closes that window: it answers once n replicas acknowledged every write made so
 * far on the connection that sends it.
 *
 * So the accepting script and the WAIT go together in one pipeline: the same connection, the same
 * node (on a Redis Cluster, ioredis sends a pipeline to the primary that owns its keys' slot, and
 * a redirected pipeline is sent again whole). Sent apart, the WAIT could reach a newly promoted
 * primary on which this connection wrote nothing, and be answered at once.
 *
 * The script goes by EVALSHA; a primary that does not know it (NOSCRIPT: nothing ran, so nothing
 * to wait for) gets the pipeline again with EVAL. ioredis' own defined commands re-send a NOSCRIPT
 * outside the pipeline, after the WAIT, which is why this does not use them.
 *
 * Cost: WAIT blocks its connection until the replicas answer, so commands queued behind it on the
 * node's connection wait too. With one replica per primary, WAIT 1 cannot succeed after a failover
 * until the lost server is back as a replica (infra/cluster/test/redis-cluster-failover.fault.test.ts).
 */
import { createHash } from "node:crypto";
import type { RedisClient } from "../../redis.js";

export interface ReplicaWait {
  /** Replicas that must acknowledge a message (REDIS_WAIT_REPLICAS, above 0). */
  replicas: number;
  /** How long to wait for them (REDIS_WAIT_TIMEOUT_MS). */
  timeoutMs: number;
}

/**
 * Fewer replicas acknowledged than required: the message is stored on the primary (and its id
 * remembered), but not safe from a failover. Its message starts with NOREPLICAS, which
 * errors.ts maps to UNAVAILABLE: the client retries with the same id, gets the stored seq back as
 * a duplicate, and that answer waits again.
 */
export class NotReplicatedError extends Error {
  constructor(
    readonly acknowledged: number,
    wait: ReplicaWait,
  ) {
    super(`NOREPLICAS ${acknowledged} of ${wait.replicas} replicas acknowledged within ${wait.timeoutMs} ms`);
    this.name = "NotReplicatedError";
  }
}

/**
 * True when an accepting script (history-stream.ts acceptMessage) stored a message, now ({1, seq})
 * or before ({2, seq, ts}: a repeat): what a WAIT must cover. A stale key or a refusal wrote nothing.
 */
export function wroteMessage(reply: unknown): boolean {
  return Array.isArray(reply) && (reply[0] === 1 || reply[0] === 2);
}

/** True when the edit/delete script (message-edits.ts CHANGE_MESSAGE) changed a message ({5, at}). */
export function changedMessage(reply: unknown): boolean {
  return Array.isArray(reply) && reply[0] === 5;
}

/** A Lua script run together with a WAIT; see the module comment. */
export class WaitedScript {
  private readonly sha: string;

  constructor(
    private readonly redis: RedisClient,
    private readonly lua: string,
    private readonly wait: ReplicaWait,
  ) {
    this.sha = createHash("sha1").update(lua).digest("hex");
  }

  /**
   * Runs the script and the WAIT; answers the script's reply and how many replicas acknowledged.
   * Throws the script's error, or the WAIT's (a connection lost, a replica in the way).
   */
  async run(keys: string[], args: Array<string | number>): Promise<{ reply: unknown; acknowledged: number }> {
    let answer = await this.send(true, keys, args);
    if (answer[0]?.[0]?.message.startsWith("NOSCRIPT")) answer = await this.send(false, keys, args);
    const [[scriptError, reply] = [null, null], [waitError, acknowledged] = [null, 0]] = answer;
    if (scriptError) throw scriptError;
    if (waitError) throw waitError;
    return { reply, acknowledged: Number(acknowledged) };
  }

  /** Runs the script and throws NotReplicatedError unless enough replicas acknowledged. */
  async runReplicated(keys: string[], args: Array<string | number>, mustWait: (reply: unknown) => boolean): Promise<unknown> {
    const { reply, acknowledged } = await this.run(keys, args);
    if (mustWait(reply) && acknowledged < this.wait.replicas) throw new NotReplicatedError(acknowledged, this.wait);
    return reply;
  }

  private async send(loaded: boolean, keys: string[], args: Array<string | number>): Promise<Array<[Error | null, unknown]>> {
    const pipeline = this.redis.pipeline();
    if (loaded) pipeline.evalsha(this.sha, keys.length, ...keys, ...args);
    else pipeline.eval(this.lua, keys.length, ...keys, ...args);
    pipeline.wait(this.wait.replicas, this.wait.timeoutMs);
    return ((await pipeline.exec()) ?? []) as Array<[Error | null, unknown]>;
  }
}
