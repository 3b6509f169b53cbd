/** Which cores the benchmark pins its processes to, by the machine's size. */
import { describe, expect, it } from "vitest";
import { coreLayout } from "../src/bench/cores.js";

describe("bench core layout", () => {
  it("on 2 or 3 cores: the generator alone on core 1, every server and Redis on core 0, logins on both", () => {
    for (const cores of [2, 3]) {
      const layout = coreLayout(cores);
      expect(layout.generator).toBe("1");
      expect(layout.redis).toBe("0");
      expect([0, 1, 2].map((i) => layout.server(i))).toEqual(["0", "0", "0"]);
      expect(layout.logins).toBe("0,1");
      expect(layout.description).toBe("load generator pinned to core 1, servers and Redis to core 0");
    }
  });

  it("on 4 cores or more: Redis, each server process and the generator on cores of their own", () => {
    const four = coreLayout(4);
    expect([four.redis, four.server(0), four.server(1), four.generator]).toEqual(["0", "1", "2", "3"]);
    expect(four.logins).toBe("1,2");
    expect(four.description).toContain("core 3");

    const eight = coreLayout(8);
    expect([eight.redis, eight.server(0), eight.server(1), eight.generator]).toEqual(["0", "1", "2", "7"]);
    // no server process is ever put on Redis' core or the generator's
    const servers = Array.from({ length: 12 }, (_, i) => Number(eight.server(i)));
    expect(Math.min(...servers)).toBe(1);
    expect(Math.max(...servers)).toBe(6);
  });
});
