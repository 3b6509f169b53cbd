import type { Logger } from "../logger.js";
import type { RoomService } from "./room-service.js";

/** Rooms deleted per sweep at most, so one sweep never holds a node long. */
const SWEEP_LIMIT = 100;

/**
 * Deletes rooms nobody has been in for ROOM_IDLE_EXPIRY_SEC: a room is idle from its creation or
 * from the moment its last member left (explicitly, or kicked: going offline is not leaving), and
 * anything that happens in a room needs a member. Every node sweeps; the store deletes each room once.
 */
export class IdleRoomReaper {
  private timer: NodeJS.Timeout | null = null;
  private sweeping = false;

  constructor(
    private readonly roomService: RoomService,
    private readonly idleExpiryMs: number,
    private readonly logger: Logger,
  ) {}

  start(): void {
    if (this.idleExpiryMs <= 0) return;
    // A tenth of the expiry, between 1 s and a minute: a room goes at most that late.
    const every = Math.min(60_000, Math.max(1000, Math.floor(this.idleExpiryMs / 10)));
    this.timer = setInterval(() => void this.sweep(), every);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  async sweep(now = Date.now()): Promise<number> {
    if (this.sweeping) return 0;
    this.sweeping = true;
    try {
      return await this.roomService.expireIdle(now - this.idleExpiryMs, SWEEP_LIMIT);
    } catch (error) {
      this.logger.warn({ event: "room_expiry_failed", err: (error as Error).message }, "could not expire idle rooms");
      return 0;
    } finally {
      this.sweeping = false;
    }
  }
}
