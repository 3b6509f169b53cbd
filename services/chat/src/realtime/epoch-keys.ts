import { randomBytes } from "node:crypto";
import { parseEnvelope, type RoomKey } from "@sala/protocol";

/** A fresh room or conversation key: 256 random bits from the OS CSPRNG. */
export function mintKey(): string {
  return randomBytes(32).toString("base64");
}

/** A store that holds the keys of a room's or conversation's epochs. */
export interface KeyHolder {
  keysById(scope: string, ids: number[]): Promise<RoomKey[]>;
}

/** The keys of the epochs these messages were encrypted in (from their envelopes' key ids). */
export function keysFor(holder: KeyHolder, scope: string, messages: Array<{ msg: string }>): Promise<RoomKey[]> {
  const ids = messages.map((message) => parseEnvelope(message.msg)?.keyId ?? 0).filter((id) => id > 0);
  return holder.keysById(scope, ids);
}
