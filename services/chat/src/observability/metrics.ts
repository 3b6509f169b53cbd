import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

/** Default gauges whose names `promtool check metrics` refuses (a `_total` suffix on a gauge). */
const UNLINTABLE_DEFAULT_GAUGES = ["nodejs_active_handles_total", "nodejs_active_requests_total", "nodejs_active_resources_total"];

/**
 * The node's counters, in Prometheus form (prom-client), shared by the handlers that move them,
 * GET /metrics, and the per-second sampler behind the /memory page.
 */
export class NodeMetrics {
  readonly registry = new Registry();
  readonly messagesAccepted = new Counter({ name: "sala_messages_accepted_total", help: "Room messages accepted by this node", registers: [this.registry] });
  readonly deliveries = new Counter({ name: "sala_deliveries_total", help: "Room messages delivered to this node's sockets", registers: [this.registry] });
  readonly ackLatency = new Histogram({
    name: "sala_ack_latency_seconds",
    help: "Time from receiving a socket event to acknowledging it",
    labelNames: ["event"],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [this.registry],
  });
  readonly logins = new Counter({ name: "sala_logins_total", help: "Login attempts by result", labelNames: ["result"], registers: [this.registry] });
  readonly redisErrors = new Counter({ name: "sala_redis_errors_total", help: "Redis connection errors and unavailable answers", registers: [this.registry] });
  readonly draining = new Gauge({ name: "sala_draining", help: "1 while this node drains", registers: [this.registry] });

  constructor(nodeId: string, live: { sockets(): number; rooms(): number }) {
    this.registry.setDefaultLabels({ node: nodeId });
    // prom-client's Node.js defaults under their conventional names (process_*, nodejs_*), which
    // ready-made Node.js dashboards query; Sala's own series are the sala_* ones.
    collectDefaultMetrics({ register: this.registry });
    // Three of those gauges end in `_total`, a suffix the exposition format reserves for counters,
    // so `promtool check metrics` rejects the scrape. prom-client has no option to rename or skip
    // one default metric: take them out of this registry. Nothing is lost: each is the sum of its
    // per-type gauge (nodejs_active_handles{type}, …_requests{type}, …_resources{type}).
    for (const name of UNLINTABLE_DEFAULT_GAUGES) this.registry.removeSingleMetric(name);
    new Gauge({ name: "sala_sockets", help: "Sockets connected to this node", registers: [this.registry], collect() { this.set(live.sockets()); } });
    new Gauge({ name: "sala_rooms", help: "Chat rooms with a socket on this node", registers: [this.registry], collect() { this.set(live.rooms()); } });
  }

  /** Prometheus text exposition. */
  async exposition(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }

  /** Current value of a counter without labels. */
  static async total(counter: Counter): Promise<number> {
    return (await counter.get()).values.reduce((sum, value) => sum + value.value, 0);
  }
}
