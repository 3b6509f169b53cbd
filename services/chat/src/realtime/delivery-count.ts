import { Adapter, MessageType, type BroadcastOptions, type ClusterMessage } from "socket.io-adapter";
import type { Namespace } from "socket.io";

type AdapterFactory = (nsp: Namespace) => Adapter;
interface Packet {
  type: number;
  data?: unknown[];
}

/**
 * Counts the deliveries of one event to this node's sockets (the /memory page's "deliveries/s"),
 * once per broadcast instead of once per socket.
 *
 * An outgoing-packet listener on every socket did this before: a closure per socket, and a call
 * per delivery, about 2 % of a node's CPU in a 1,000-member room (docs/BENCHMARKS.md). Here the
 * node's adapter is wrapped where both kinds of broadcast enter it: `broadcast` for those this node
 * starts, and, for a cluster adapter, `onMessage` for those another node published (the Redis
 * adapter's documented extension point). The count is this node's sockets in the target rooms
 * at that moment — what Socket.IO is about to write to.
 */
export function countingDeliveries(create: AdapterFactory, event: string, onDeliveries: (count: number) => void): AdapterFactory {
  // A function, not an arrow: Socket.IO calls the factory with `new`.
  return function countingAdapter(nsp: Namespace) {
    const adapter = create(nsp);
    const count = (packet: Packet | undefined, rooms: Iterable<string>, except: Iterable<string>) => {
      if (packet?.type !== 2 || packet.data?.[0] !== event) return;
      const recipients = localRecipients(adapter, rooms, except);
      if (recipients > 0) onDeliveries(recipients);
    };

    const broadcast = adapter.broadcast.bind(adapter);
    adapter.broadcast = (packet: Packet, opts: BroadcastOptions) => {
      count(packet, opts.rooms, opts.except ?? []);
      broadcast(packet, opts);
    };

    const cluster = adapter as unknown as { uid?: string; onMessage?: (message: ClusterMessage, offset?: string) => void };
    const onMessage = cluster.onMessage?.bind(adapter);
    if (onMessage) {
      cluster.onMessage = (message, offset) => {
        // The same filter as ClusterAdapter.onMessage: its own messages come back, and are ignored.
        if (message.type === MessageType.BROADCAST && message.uid !== cluster.uid && message.nsp === nsp.name && message.data.requestId === undefined) {
          count(message.data.packet as Packet, message.data.opts.rooms, message.data.opts.except);
        }
        onMessage(message, offset);
      };
    }
    return adapter;
  };
}

/** How many of this node's sockets a broadcast to `rooms` (minus `except`) reaches. */
function localRecipients(adapter: Adapter, rooms: Iterable<string>, except: Iterable<string>): number {
  const targets = [...rooms];
  const excluded = [...except];
  // The common case, a room message: one room, nobody left out.
  if (targets.length === 1 && excluded.length === 0) return adapter.rooms.get(targets[0]!)?.size ?? 0;
  const left = new Set<string>();
  for (const room of excluded) for (const id of adapter.rooms.get(room) ?? []) left.add(id);
  // No rooms: every socket of the namespace.
  const candidates = targets.length === 0 ? [adapter.sids.keys()] : targets.map((room) => adapter.rooms.get(room)?.values() ?? []);
  const reached = new Set<string>();
  for (const ids of candidates) for (const id of ids) if (!left.has(id)) reached.add(id);
  return reached.size;
}
