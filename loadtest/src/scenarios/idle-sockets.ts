/**
 * Idle sockets: open `count` authenticated sockets (user i mod U, so one user has several tabs
 * when count > U) as fast as the server takes them, and keep them open. Measures handshakes per
 * second and errors; the caller measures the server's memory while they sit idle.
 */
import type { SioClient } from "../sio-client.js";
import { connect, inPool, type LoadUser, type Target } from "../target.js";

export interface HandshakeResult {
  count: number;
  seconds: number;
  perSec: number;
  errors: number;
}

export class IdleSockets {
  readonly clients: SioClient[] = [];

  /** Opens `count` more sockets with at most `concurrency` handshakes in flight. */
  async open(target: Target, users: LoadUser[], count: number, concurrency = 200): Promise<HandshakeResult> {
    let errors = 0;
    const offset = this.clients.length;
    const start = Date.now();
    await inPool(Array.from({ length: count }, (_, i) => offset + i), concurrency, async (n) => {
      try {
        this.clients.push(await connect(target, users[n % users.length]!, target.urls[n % target.urls.length]!, { attempts: 1 }));
      } catch {
        errors++;
      }
    });
    const seconds = (Date.now() - start) / 1000;
    return { count, seconds, perSec: (count - errors) / seconds, errors };
  }

  async close(): Promise<void> {
    await Promise.all(this.clients.splice(0).map((client) => client.close()));
  }
}
