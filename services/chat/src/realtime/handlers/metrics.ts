import { ErrorCode } from "@sala/protocol";
import { AppError } from "../../errors.js";
import type { SampleStore } from "../../stores/types.js";
import { defineEvent, type EventTable } from "../event-gate.js";
import { SocketRooms } from "../types.js";

export interface MetricsHandlerDeps {
  samples: SampleStore;
  nodeTtlMs: number;
  windowSec: number;
}

/** Admins watch every node's health: recent samples now, then one per node per second. */
export function metricsHandlers(deps: MetricsHandlerDeps): Pick<EventTable, "metrics_subscribe"> {
  return {
    metrics_subscribe: defineEvent("metrics_subscribe", async (socket) => {
      if (!socket.data.isAdmin) throw new AppError(ErrorCode.FORBIDDEN, "Only admins can watch the cluster's health");
      socket.join(SocketRooms.metricsViewers);
      return {
        recent: await deps.samples.recent(Date.now(), deps.nodeTtlMs),
        nodeTtlMs: deps.nodeTtlMs,
        windowSec: deps.windowSec,
      };
    }),
  };
}
