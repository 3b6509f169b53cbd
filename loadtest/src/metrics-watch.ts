/**
 * An admin's view of the cluster's per-second node samples (the /memory page's feed), for the
 * benchmark: the event-loop delay of the nodes while a login storm runs.
 */
import type { NodeSample } from "@sala/protocol";
import type { SioClient } from "./sio-client.js";
import { connect, type LoadUser, type Target } from "./target.js";

export class MetricsWatch {
  readonly samples: NodeSample[] = [];

  private constructor(private readonly client: SioClient) {}

  static async open(target: Target, admin: LoadUser, url = target.urls[0]!): Promise<MetricsWatch> {
    const client = await connect(target, admin, url);
    const watch = new MetricsWatch(client);
    client.on("metrics_sample", (sample) => watch.samples.push(sample));
    const answer = await client.request("metrics_subscribe", {}).catch(async (error: unknown) => {
      await client.close();
      throw error;
    });
    if (!answer.ok) {
      await client.close();
      throw new Error(`metrics_subscribe: ${answer.error.code} (was ${admin.username} granted the role: npm run admin -- grant-admin ${admin.username}?)`);
    }
    return watch;
  }

  /** Samples of `node` taken between `from` and `to` (ms since epoch). */
  between(from: number, to: number, node?: string): NodeSample[] {
    return this.samples.filter((s) => s.ts >= from && s.ts <= to && (node === undefined || s.node === node));
  }

  close(): Promise<string> {
    return this.client.close();
  }
}
