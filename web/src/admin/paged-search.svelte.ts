/**
 * A list searched by name prefix and read page by page (the admin page's users and rooms): typing
 * starts a new search once it pauses, "more" appends the next page, and an answer that a newer
 * search has replaced is dropped, so a slow first page never overwrites a later one.
 */
import type { ApiError, ApiResult } from "../lib/api.js";
import type { Page } from "./admin-api.js";

export type PageFetcher<T> = (prefix: string, after: string | null) => Promise<ApiResult<Page<T>>>;

export const SEARCH_DELAY_MS = 250;

export class PagedSearch<T> {
  /** What is in the search box. */
  text = $state("");
  /** The rows shown: the pages read so far for `shown`. */
  items = $state<T[]>([]);
  /** Where the next page starts; null: no more. */
  next = $state<string | null>(null);
  /** The prefix `items` answer; null until the first page is in. */
  shown = $state<string | null>(null);
  loading = $state(false);
  error = $state<ApiError | null>(null);

  /** Moves on every new search: answers to an older one are dropped. */
  private generation = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly fetchPage: PageFetcher<T>,
    private readonly keyOf: (item: T) => string,
    private readonly delayMs = SEARCH_DELAY_MS,
  ) {}

  /** The search box changed: a new search once typing pauses. */
  type(text: string): void {
    this.text = text;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.reload(), this.delayMs);
  }

  /** The first page for what is in the search box, now (also the refresh after a change). */
  async reload(): Promise<void> {
    clearTimeout(this.timer);
    const generation = ++this.generation;
    const prefix = this.text.trim();
    const answer = await this.load(prefix, null, generation);
    if (!answer) return;
    this.items = answer.items;
    this.next = answer.next;
    this.shown = prefix;
  }

  /** The next page of the current search, after what is shown (nothing when none is left or one is loading). */
  async more(): Promise<void> {
    if (this.next === null || this.shown === null || this.loading) return;
    const answer = await this.load(this.shown, this.next, this.generation);
    if (!answer) return;
    // A row renamed or re-added between two pages is shown once.
    const known = new Set(this.items.map(this.keyOf));
    this.items = [...this.items, ...answer.items.filter((item) => !known.has(this.keyOf(item)))];
    this.next = answer.next;
  }

  /** One page; null when it failed (the error is shown) or a newer search started meanwhile. */
  private async load(prefix: string, after: string | null, generation: number) {
    this.loading = true;
    const answer = await this.fetchPage(prefix, after);
    if (generation !== this.generation) return null;
    this.loading = false;
    if (!answer.ok) {
      this.error = answer.error;
      return null;
    }
    this.error = null;
    return answer;
  }

  /** A row changed (after an action): shown as it is now, where it was. */
  update(item: T): void {
    const key = this.keyOf(item);
    this.items = this.items.map((row) => (this.keyOf(row) === key ? item : row));
  }

  /** A row is gone (deleted). */
  remove(key: string): void {
    this.items = this.items.filter((row) => this.keyOf(row) !== key);
  }

  /** Stops a pending search; answers still on their way are dropped. */
  close(): void {
    clearTimeout(this.timer);
    this.generation++;
  }
}
