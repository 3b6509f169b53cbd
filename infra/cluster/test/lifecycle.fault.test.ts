/** `npm run cluster`'s machinery: starts healthy behind nginx, and stops with nothing left over. */
import { describe, expect, it } from "vitest";
import { alive, listening } from "./leftovers.js";
import { ProcessCluster } from "../src/cluster.js";

describe("the process cluster", () => {
  it("serves Sala through nginx from every node, and stops everything it started", async () => {
    const cluster = await ProcessCluster.start({ nodes: 3, persistent: false });
    const pids = cluster.pids();
    const ports = [cluster.nginx.port, ...cluster.nodes.map((node) => node.port), Number(new URL(cluster.redis.url).port)];
    try {
      expect(pids).toHaveLength(5);
      const seen = new Set<string>();
      for (let i = 0; i < 30 && seen.size < 3; i++) {
        const ready = (await (await fetch(`${cluster.url}/readyz`)).json()) as { ok: boolean; node: string };
        expect(ready.ok).toBe(true);
        seen.add(ready.node);
      }
      expect([...seen].sort()).toEqual(["node-1", "node-2", "node-3"]);
      const page = await fetch(`${cluster.url}/login`);
      expect(page.status).toBe(200);
      expect(page.headers.get("content-security-policy")).toContain("default-src 'self'");
    } finally {
      await cluster.stop();
    }
    expect(pids.filter(alive)).toEqual([]);
    for (const port of ports) expect(await listening(port)).toBe(false);
  }, 60_000);
});
