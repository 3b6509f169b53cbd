/**
 * The admin page's searched, paged lists (users, rooms): typing searches once it pauses, "more"
 * reads on from the last page's `next` under the prefix shown, and an answer a newer search has
 * replaced never lands on screen. The fetcher stands in for GET /admin/api/users; each call waits
 * until the test answers it, so the order of answers is the test's.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { ApiResult } from "../src/lib/api.js";
import type { Page } from "../src/admin/admin-api.js";
import { PagedSearch, SEARCH_DELAY_MS } from "../src/admin/paged-search.svelte.js";

interface Row {
  name: string;
  locked?: boolean;
}

interface Call {
  prefix: string;
  after: string | null;
  answer(result: ApiResult<Page<Row>>): Promise<void>;
}

/** A fetcher whose calls wait for the test; `answer` resolves one and lets the search settle. */
function controlledFetcher(): { fetch: (prefix: string, after: string | null) => Promise<ApiResult<Page<Row>>>; calls: Call[] } {
  const calls: Call[] = [];
  const fetch = (prefix: string, after: string | null) =>
    new Promise<ApiResult<Page<Row>>>((resolve) => {
      calls.push({
        prefix,
        after,
        answer: async (result) => {
          resolve(result);
          await new Promise((done) => setImmediate(done)); // setTimeout is faked here
        },
      });
    });
  return { fetch, calls };
}

const rows = (...names: string[]): Row[] => names.map((name) => ({ name }));
const page = (items: Row[], next: string | null): ApiResult<Page<Row>> => ({ ok: true, items, next });
const names = (search: PagedSearch<Row>) => search.items.map((row) => row.name);

let fetcher: ReturnType<typeof controlledFetcher>;
let search: PagedSearch<Row>;

beforeEach(() => {
  vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
  fetcher = controlledFetcher();
  search = new PagedSearch<Row>(fetcher.fetch, (row) => row.name);
});
afterEach(() => {
  search.close();
  vi.useRealTimers();
});

/** Lets pending timers and promise callbacks run (fake timers, real microtasks). */
async function settle(ms = 0): Promise<void> {
  await vi.advanceTimersByTimeAsync(ms);
}

describe("searching", () => {
  it("asks once typing pauses, with the last text trimmed", async () => {
    search.type("a");
    await settle(SEARCH_DELAY_MS - 10);
    search.type("al");
    await settle(SEARCH_DELAY_MS - 10);
    search.type(" ali ");
    expect(fetcher.calls).toHaveLength(0);
    await settle(SEARCH_DELAY_MS);
    expect(fetcher.calls.map(({ prefix, after }) => [prefix, after])).toEqual([["ali", null]]);
    expect(search.loading).toBe(true);
    const answered = fetcher.calls[0]!.answer(page(rows("alice", "alina"), "alina"));
    await settle();
    await answered;
    expect(names(search)).toEqual(["alice", "alina"]);
    expect(search.shown).toBe("ali");
    expect(search.next).toBe("alina");
    expect(search.loading).toBe(false);
  });

  it("drops a slow answer to a search that a newer one replaced", async () => {
    search.type("b");
    await settle(SEARCH_DELAY_MS);
    search.type("bo");
    await settle(SEARCH_DELAY_MS);
    const [old, latest] = fetcher.calls;
    await latest!.answer(page(rows("bob"), null));
    await settle();
    await old!.answer(page(rows("bea", "bob"), "bob")); // arrives last, answers the older text
    await settle();
    expect(names(search)).toEqual(["bob"]);
    expect(search.shown).toBe("bo");
    expect(search.next).toBeNull();
  });

  it("keeps what it shows when a search fails, and says why", async () => {
    void search.reload();
    await fetcher.calls[0]!.answer(page(rows("ana"), null));
    search.type("z");
    await settle(SEARCH_DELAY_MS);
    await fetcher.calls[1]!.answer({ ok: false, error: { code: "RATE_LIMITED", message: "slow down", retryAfterMs: 1000 } });
    await settle();
    expect(names(search)).toEqual(["ana"]);
    expect(search.error?.code).toBe("RATE_LIMITED");
    expect(search.loading).toBe(false);
  });
});

describe("paging", () => {
  it("reads on from `next` under the prefix shown, not what is being typed", async () => {
    search.text = "u";
    void search.reload();
    await fetcher.calls[0]!.answer(page(rows("u1", "u2"), "u2"));
    search.text = "ux"; // typed, not searched yet
    void search.more();
    expect(fetcher.calls[1]).toMatchObject({ prefix: "u", after: "u2" });
    await fetcher.calls[1]!.answer(page(rows("u2", "u3"), "u3"));
    await settle();
    // A row on both pages (renamed or re-added between them) is shown once.
    expect(names(search)).toEqual(["u1", "u2", "u3"]);
    expect(search.next).toBe("u3");
  });

  it("asks for one page at a time, and none after the last", async () => {
    void search.reload();
    await fetcher.calls[0]!.answer(page(rows("a"), "a"));
    void search.more();
    void search.more(); // a second click while the page loads
    expect(fetcher.calls).toHaveLength(2);
    await fetcher.calls[1]!.answer(page(rows("b"), null));
    void search.more();
    expect(fetcher.calls).toHaveLength(2);
    expect(names(search)).toEqual(["a", "b"]);
  });

  it("drops a page that arrives after a new search started", async () => {
    void search.reload();
    await fetcher.calls[0]!.answer(page(rows("a1", "a2"), "a2"));
    void search.more();
    search.type("c");
    await settle(SEARCH_DELAY_MS);
    await fetcher.calls[2]!.answer(page(rows("c1"), null));
    await fetcher.calls[1]!.answer(page(rows("a3"), null));
    await settle();
    expect(names(search)).toEqual(["c1"]);
    expect(search.shown).toBe("c");
  });
});

describe("after an action", () => {
  it("shows a changed row where it was, and drops a deleted one", async () => {
    void search.reload();
    await fetcher.calls[0]!.answer(page(rows("a", "b", "c"), null));
    search.update({ name: "b", locked: true });
    expect(search.items).toEqual([{ name: "a" }, { name: "b", locked: true }, { name: "c" }]);
    search.remove("a");
    expect(names(search)).toEqual(["b", "c"]);
  });

  it("stops a pending search when closed", async () => {
    search.type("x");
    search.close();
    await settle(SEARCH_DELAY_MS * 2);
    expect(fetcher.calls).toHaveLength(0);
  });
});
