/** Issue 21, item 3: a room's messages grouped by author and time, with day separators. */
import { describe, expect, it } from "vitest";
import { dayLabel, feedLayout, GROUP_MS } from "../src/lib/feed-layout.js";
import type { FeedItem } from "../src/lib/room.svelte.js";

const at = (day: number, hour: number, minute = 0) => new Date(2026, 11, day, hour, minute).getTime();
const message = (id: string, from: string, ts: number): FeedItem => ({ kind: "message", id, seq: Number(id.slice(1)), from, ts, text: "x", mine: false });

describe("feedLayout", () => {
  it("groups a run of one author's messages within five minutes, and starts each day with a separator", () => {
    const feed: FeedItem[] = [
      message("m1", "ana", at(1, 9)),
      message("m2", "ana", at(1, 9, 3)),
      message("m3", "ana", at(1, 9, 3) + GROUP_MS + 1), // too long after
      message("m4", "bia", at(1, 9, 9)),
      { kind: "notice", id: "n5", ts: at(1, 9, 10), key: "room.joined", params: { user: "caio" } },
      message("m6", "bia", at(1, 9, 11)), // a notice between: not grouped
      message("m7", "bia", at(2, 0, 1)), // a new day: never grouped
    ];
    const layout = feedLayout(feed);
    expect(feed.map((item) => layout.get(item.id)!.grouped)).toEqual([false, true, false, false, false, false, false]);
    expect(feed.map((item) => layout.get(item.id)!.dayStart !== undefined)).toEqual([true, false, false, false, false, false, true]);
    expect(layout.get("m7")!.dayStart).toBe(new Date(2026, 11, 2).getTime());
  });
});

describe("dayLabel", () => {
  const words = { today: "Today", yesterday: "Yesterday" };
  it("says today, yesterday, or the date in the language, with the year only when it is not this one", () => {
    const now = at(3, 15);
    expect(dayLabel(new Date(2026, 11, 3).getTime(), "en-US", words, now)).toBe("Today");
    expect(dayLabel(new Date(2026, 11, 2).getTime(), "en-US", words, now)).toBe("Yesterday");
    expect(dayLabel(new Date(2026, 10, 30).getTime(), "en-US", words, now)).toBe("Monday, November 30");
    expect(dayLabel(new Date(2026, 10, 30).getTime(), "pt-BR", words, now)).toBe("segunda-feira, 30 de novembro");
    expect(dayLabel(new Date(2025, 0, 5).getTime(), "en-US", words, now)).toBe("Sunday, January 5, 2025");
  });
});
