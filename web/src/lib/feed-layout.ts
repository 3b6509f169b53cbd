/**
 * How a room's feed is laid out: a day separator before the first item of each calendar day (the
 * reader's), and messages grouped — a message by the same author within GROUP_MS of the previous
 * one, with nothing between them, shows no name of its own.
 */
import type { FeedItem } from "./room.svelte.js";

export const GROUP_MS = 5 * 60_000;

export interface ItemLayout {
  /** Midnight (local) of the item's day, when a separator goes before it. */
  dayStart?: number;
  /** The same author as the message just before, within GROUP_MS. */
  grouped: boolean;
}

const dayOf = (ms: number) => new Date(ms).setHours(0, 0, 0, 0);

export function feedLayout(feed: readonly FeedItem[]): Map<string, ItemLayout> {
  const layout = new Map<string, ItemLayout>();
  let day: number | null = null;
  let previous: FeedItem | null = null;
  for (const item of feed) {
    const itemDay = dayOf(item.ts);
    const newDay = itemDay !== day;
    const grouped =
      !newDay && item.kind === "message" && previous?.kind === "message" && previous.from === item.from && item.ts - previous.ts <= GROUP_MS;
    layout.set(item.id, { grouped, ...(newDay ? { dayStart: itemDay } : {}) });
    day = itemDay;
    previous = item;
  }
  return layout;
}

/** "Today", "Yesterday", or the date as the language writes it (the year only when not this one). */
export function dayLabel(dayStart: number, locale: string, words: { today: string; yesterday: string }, now = Date.now()): string {
  const today = dayOf(now);
  if (dayStart === today) return words.today;
  if (dayStart === dayOf(today - 12 * 3600_000)) return words.yesterday;
  const sameYear = new Date(dayStart).getFullYear() === new Date(today).getFullYear();
  return new Date(dayStart).toLocaleDateString(locale, { weekday: "long", day: "numeric", month: "long", ...(sameYear ? {} : { year: "numeric" }) });
}
