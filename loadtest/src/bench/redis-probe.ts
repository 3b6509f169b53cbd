/**
 * Reads what each redis-server of a store did, from the server itself: `INFO` gives its CPU time
 * (used_cpu_user + used_cpu_sys, from getrusage: microseconds, where /proc/<pid>/stat counts
 * 10 ms ticks, too coarse for a replica's few dozen ms in a step) and the commands it ran
 * (total_commands_processed; a replica counts the commands its primary streams to it). For a
 * Redis Cluster it also tells primaries from replicas, and which primary each replica follows.
 */
import { Redis } from "ioredis";

export interface RedisServer {
  /** "redis" for a single server; "shard 1 primary", "shard 1 replica" in a cluster. */
  label: string;
  role: "primary" | "replica";
  port: number;
  pid: number;
  /** The hash slots the shard serves ("0-5460"); "all" for a single server. */
  slots: string;
}

/** A reading of every server of a store: CPU ms and commands run since it started. */
export type Reading = Map<number, { cpuMs: number; commands: number }>;

const HOST = "127.0.0.1";
/** Hash tags every node writes to (services/chat/src/stores/redis/keys.ts). */
const SHARED_TAGS = ["{global}", "{sockets}"];

function field(info: string, name: string): string {
  const value = new RegExp(`^${name}:(.*)$`, "m").exec(info)?.[1]?.trim();
  if (value === undefined) throw new Error(`INFO has no ${name}`);
  return value;
}

export class RedisProbe {
  private constructor(
    readonly servers: RedisServer[],
    private readonly clients: Map<number, Redis>,
  ) {}

  /** One plain connection per server (INFO is per server, even in a cluster). */
  private static connect(ports: number[]): Map<number, Redis> {
    return new Map(ports.map((port) => [port, new Redis({ host: HOST, port, maxRetriesPerRequest: 1, enableOfflineQueue: true })]));
  }

  static async single(port: number): Promise<RedisProbe> {
    const clients = RedisProbe.connect([port]);
    const pid = Number(field(await clients.get(port)!.info("server"), "process_id"));
    return new RedisProbe([{ label: "redis", role: "primary", port, pid, slots: "all" }], clients);
  }

  /** Every node of a cluster, shards numbered by their first slot, each primary before its replicas. */
  static async cluster(ports: number[]): Promise<RedisProbe> {
    const clients = RedisProbe.connect(ports);
    const nodes = await Promise.all(
      ports.map(async (port) => {
        const client = clients.get(port)!;
        const replication = await client.info("replication");
        const pid = Number(field(await client.info("server"), "process_id"));
        const primary = field(replication, "role") === "master";
        return { port, pid, primary, primaryPort: primary ? port : Number(field(replication, "master_port")) };
      }),
    );
    // CLUSTER SLOTS: [[start, end, [host, port, id], replicas...], ...] — the primary's slot ranges.
    const slotRanges = (await clients.get(ports[0]!)!.call("CLUSTER", "SLOTS")) as Array<[number, number, [string, number]]>;
    const rangesOf = (port: number) =>
      slotRanges
        .filter((range) => Number(range[2][1]) === port)
        .map(([start, end]) => [start, end] as const)
        .sort((a, b) => a[0] - b[0]);
    // The shards of the shared tags (`{global}`: lobby, directory, presence, node list; `{sockets}`:
    // the per-node socket counts), marked in their labels: every node's traffic to them meets there.
    const tagSlots = await Promise.all(SHARED_TAGS.map(async (tag) => ({ tag, slot: Number(await clients.get(ports[0]!)!.call("CLUSTER", "KEYSLOT", tag)) })));
    const tagsOf = (port: number) => tagSlots.filter(({ slot }) => rangesOf(port).some(([start, end]) => start <= slot && slot <= end)).map(({ tag }) => tag);
    const primaries = nodes.filter((node) => node.primary).sort((a, b) => (rangesOf(a.port)[0]?.[0] ?? 1e9) - (rangesOf(b.port)[0]?.[0] ?? 1e9));
    const servers: RedisServer[] = [];
    for (const [index, primary] of primaries.entries()) {
      const slots = rangesOf(primary.port).map(([start, end]) => `${start}-${end}`).join(",") || "none";
      const tags = tagsOf(primary.port);
      const mark = tags.length > 0 ? ` (${tags.join(", ")})` : "";
      servers.push({ label: `shard ${index + 1} primary${mark}`, role: "primary", port: primary.port, pid: primary.pid, slots });
      for (const replica of nodes.filter((node) => !node.primary && node.primaryPort === primary.port)) {
        servers.push({ label: `shard ${index + 1} replica`, role: "replica", port: replica.port, pid: replica.pid, slots });
      }
    }
    if (servers.length !== ports.length) throw new Error(`cluster roles: placed ${servers.length} of ${ports.length} nodes (a replica without a known primary?)`);
    return new RedisProbe(servers, clients);
  }

  async read(): Promise<Reading> {
    const entries = await Promise.all(
      this.servers.map(async ({ port }) => {
        const info = await this.clients.get(port)!.info();
        const cpuMs = (Number(field(info, "used_cpu_user")) + Number(field(info, "used_cpu_sys"))) * 1000;
        return [port, { cpuMs, commands: Number(field(info, "total_commands_processed")) }] as const;
      }),
    );
    return new Map(entries);
  }

  /** What each server did between two readings (the probe's own INFO call included: one command per server). */
  delta(before: Reading, after: Reading): Reading {
    return new Map(
      this.servers.map(({ port }) => {
        const [a, b] = [before.get(port)!, after.get(port)!];
        return [port, { cpuMs: b.cpuMs - a.cpuMs, commands: b.commands - a.commands }];
      }),
    );
  }

  close(): void {
    for (const client of this.clients.values()) client.disconnect();
  }
}
