/**
 * Which cores the benchmark's processes run on (taskset core lists).
 *
 * On the 2-core machine the issue's targets are set for, the load generator has core 1 to itself
 * and every server process and Redis share core 0: the generator never takes the servers' CPU,
 * but the servers take each other's, and every Redis round trip switches core 0 from a node to
 * Redis and back (docs/BENCHMARKS.md, session 8). With 4 cores or more the benchmark gives them
 * what a deployment would: Redis a core, each server process of a system a core of its own, the
 * generator the last one. A system's processes are measured one system at a time, so Sala's and
 * bare's nodes can share the server cores.
 */
export interface CoreLayout {
  generator: string;
  redis: string;
  /** The core of a system's `index`-th server process (Sala's node-1 and node-2, bare's nodes). */
  server(index: number): string;
  /** The node that takes the login storm, measured on two cores. */
  logins: string;
  /** For the report's header. */
  description: string;
}

/** The smallest machine on which each process gets a core: Redis, two servers, the generator. */
const CORES_FOR_SPREAD = 4;

export function coreLayout(cores: number): CoreLayout {
  if (cores < CORES_FOR_SPREAD) {
    return {
      generator: "1",
      redis: "0",
      server: () => "0",
      logins: "0,1",
      description: "load generator pinned to core 1, servers and Redis to core 0",
    };
  }
  const generator = cores - 1;
  const serverCores = generator - 1; // cores 1 .. generator-1; core 0 is Redis'
  return {
    generator: String(generator),
    redis: "0",
    server: (index) => String(1 + (index % serverCores)),
    logins: "1,2",
    description: `load generator pinned to core ${generator}, Redis to core 0, each server process of a system to a core of its own (1, 2)`,
  };
}
