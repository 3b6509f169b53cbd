/**
 * The image's runtime stage, assembled without a Docker engine exactly as infra/Dockerfile says,
 * and started: the runtime stage's COPY lines are read from the Dockerfile itself; a stage that
 * only installs dependencies (prod-deps) is replayed in a temp dir (its COPY lines, then its
 * `npm ci` from the lockfile); the stage that builds is the repository after `npm run build` (its
 * dist/ folders); the build context is the repository. Then the runtime stage's CMD runs with its
 * ENV (HOST and PORT changed to a free loopback port) until /readyz answers, its HEALTHCHECK
 * command passes, and SIGTERM stops it cleanly. A file the image lacks (a dependency npm nested
 * under a workspace, say) fails here, not in production. The node runs on this machine's Node.js,
 * not the image's: the image's line is checked by infra-config.int.test.ts.
 */
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join, posix } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it, inject } from "vitest";
import { parseDockerfile, type CopyInstruction, type Stage } from "./support/dockerfile.js";
import { uniquePrefix } from "./support/redis-client.js";
import { freePort } from "./support/redis-server.js";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const DOCKERFILE = "infra/Dockerfile";
const dockerfile = parseDockerfile(readFileSync(join(ROOT, DOCKERFILE), "utf8"));
const runtime = dockerfile.final;

const work = mkdtempSync(join(tmpdir(), "sala-image-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/**
 * The `npm ci` commands of a stage that only installs dependencies, or null for any other stage.
 * Its RUN lines hold nothing but `npm ci`, `npm cache clean` (the cache, outside /app) and the
 * Debian toolchain native addons build with (`apt-get`, and `rm` of apt's lists: outside /app too);
 * this machine has that toolchain (python3, make, g++), so those lines are not replayed.
 */
function installCommands(stage: Stage): string[][] | null {
  const segments = stage.runs.flatMap((run) => run.args.split("&&").map((segment) => segment.trim().split(/\s+/)));
  const installs = segments.filter((words) => words[0] === "npm" && words[1] === "ci");
  const cacheCleans = segments.filter((words) => words[0] === "npm" && words[1] === "cache" && words[2] === "clean");
  const toolchain = segments.filter((words) => words[0] === "apt-get" || (words[0] === "rm" && words.at(-1) === "/var/lib/apt/lists/*"));
  return installs.length > 0 && installs.length + cacheCleans.length + toolchain.length === segments.length ? installs : null;
}

/** Where a path of a stage's filesystem is, for a stage whose /app is the directory `root`. */
function inStage(stage: Stage, root: string, path: string, line: number): string {
  const absolute = path.startsWith("/") ? path : posix.join(stage.workdir, path);
  const relative = posix.relative(stage.workdir, absolute);
  if (relative.startsWith("..")) throw new Error(`${DOCKERFILE} line ${line}: ${path} is outside ${stage.workdir}, which this test stands in for`);
  return join(root, relative);
}

/** What COPY does: a directory's contents go into the destination; files go into it when it ends with / (or there are several). */
function copy(instruction: CopyInstruction, sourceOf: (source: string) => string, stage: Stage, root: string): void {
  const destination = inStage(stage, root, instruction.destination, instruction.line);
  const intoDirectory = instruction.destination.endsWith("/") || instruction.sources.length > 1;
  for (const source of instruction.sources) {
    const from = sourceOf(source);
    if (!existsSync(from)) throw new Error(`${DOCKERFILE} line ${instruction.line}: COPY ${source}: ${from} does not exist (built? \`npm run build\`)`);
    const to = statSync(from).isDirectory() || !intoDirectory ? destination : join(destination, basename(from));
    mkdirSync(statSync(from).isDirectory() ? to : dirname(to), { recursive: true });
    // Symlinks as they are (node_modules/@sala/* point into the workspaces), like COPY.
    cpSync(from, to, { recursive: true, verbatimSymlinks: true });
  }
}

/** The environment npm gets: this test's, without what an outer `npm run`/npx put there. */
function npmEnv(stage: Stage): NodeJS.ProcessEnv {
  const outer = Object.entries(process.env).filter(([name]) => !/^npm_/i.test(name) || /^npm_config_(cache|registry)$/i.test(name));
  return { ...Object.fromEntries(outer), ...stage.env };
}

/** A dependency stage replayed in a temp dir: its COPY lines from the context, then its `npm ci`. */
function replay(stage: Stage): string {
  const root = join(work, stage.name);
  mkdirSync(root, { recursive: true });
  for (const instruction of stage.copies) {
    if (instruction.from !== null) throw new Error(`${DOCKERFILE} line ${instruction.line}: this test replays only copies from the build context in stage ${stage.name}`);
    copy(instruction, (source) => join(ROOT, source), stage, root);
  }
  for (const command of installCommands(stage) ?? []) {
    // --prefer-offline: from the npm cache when it has the lockfile's packages, else the registry.
    // Up to 5 minutes: better-sqlite3 is compiled from source here (no prebuilt binary can be fetched).
    const result = spawnSync("npm", [...command.slice(1), "--prefer-offline"], { cwd: root, env: npmEnv(stage), encoding: "utf8", timeout: 300_000 });
    if (result.status !== 0) throw new Error(`${command.join(" ")} failed in stage ${stage.name}: ${result.error?.message ?? ""}\n${result.stderr}`);
  }
  return root;
}

/** The runtime stage's files, in a temp dir standing for its WORKDIR. */
function assembleRuntime(): string {
  const root = join(work, "runtime");
  mkdirSync(root, { recursive: true });
  const stageRoots = new Map<string, string>();
  for (const instruction of runtime.copies) {
    if (instruction.from === null) {
      copy(instruction, (source) => join(ROOT, source), runtime, root);
      continue;
    }
    const stage = dockerfile.stage(instruction.from);
    if (installCommands(stage) === null) {
      // The building stage is the repository after `npm run build`: only its build outputs may be
      // taken from it (its node_modules, say, would be this machine's development install).
      for (const source of instruction.sources) {
        expect(source, `${DOCKERFILE} line ${instruction.line}: from stage ${stage.name}, only build outputs`).toMatch(/\/dist$/);
      }
      copy(instruction, (source) => inStage(stage, ROOT, source, instruction.line), runtime, root);
      continue;
    }
    if (!stageRoots.has(stage.name)) stageRoots.set(stage.name, replay(stage));
    copy(instruction, (source) => inStage(stage, stageRoots.get(stage.name)!, source, instruction.line), runtime, root);
  }
  return root;
}

async function waitForReady(url: string, child: ReturnType<typeof spawn>, output: () => string): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the node exited with code ${child.exitCode}:\n${output()}`);
    try {
      if ((await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(1000) })).status === 200) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`/readyz did not answer 200 within 20 s:\n${output()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

let assembled: string | null = null;
/** The runtime stage, assembled once for the tests below. */
function runtimeRoot(): string {
  assembled ??= assembleRuntime();
  return assembled;
}

/** The image's CMD started in `root` with `env`: its output kept (the last 4 KB), its exit awaited. */
function startImage(root: string, env: NodeJS.ProcessEnv) {
  const child = spawn(process.execPath, runtime.cmd!.slice(1), { cwd: root, env, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout!.on("data", (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4000)));
  child.stderr!.on("data", (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4000)));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return { child, output: () => output, exited };
}

describe(`${DOCKERFILE}: the runtime stage, assembled and started`, () => {
  it("holds everything `node services/chat/dist/server.js` needs: it becomes ready, passes its health check and stops on SIGTERM", async () => {
    // Nothing above the temp dir may lend the node a module the image would not have.
    for (let dir = dirname(work); dir !== dirname(dir); dir = dirname(dir)) expect(existsSync(join(dir, "node_modules")), `${dir}/node_modules`).toBe(false);

    const root = runtimeRoot();
    const cmd = runtime.cmd;
    expect(cmd?.[0], "CMD runs node").toBe("node");
    const port = await freePort();
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      ...runtime.env,
      HOST: "127.0.0.1",
      PORT: String(port),
      REDIS_URL: inject("redisUrl"),
      REDIS_PREFIX: uniquePrefix("image"),
      SESSION_SECRET: randomBytes(32).toString("base64url"),
      NODE_ID: "image-test",
    };
    expect(env.NODE_ENV).toBe("production");
    const child = spawn(process.execPath, cmd!.slice(1), { cwd: root, env, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout!.on("data", (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4000)));
    child.stderr!.on("data", (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4000)));
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    try {
      await waitForReady(`http://127.0.0.1:${port}`, child, () => output);
      const page = await fetch(`http://127.0.0.1:${port}/`);
      expect(page.status, "the web client is served").toBe(200);
      expect(page.headers.get("content-type")).toMatch(/text\/html/);

      const healthcheck = runtime.healthcheck;
      expect(healthcheck?.[0], "HEALTHCHECK runs node").toBe("node");
      const check = spawnSync(process.execPath, healthcheck!.slice(1), { cwd: root, env, encoding: "utf8", timeout: 10_000 });
      expect(check.status, `HEALTHCHECK ${healthcheck!.join(" ")}: ${check.stderr}`).toBe(0);

      // The operator's command is installed: `sala-admin` on the image's PATH (/app/bin).
      expect(runtime.env.PATH?.split(":")[0]).toBe("/app/bin");
      const admin = spawnSync(join(root, "bin", "sala-admin"), ["users", "list"], { cwd: root, env, encoding: "utf8", timeout: 30_000 });
      expect(admin.status, `sala-admin users list: ${admin.stderr}`).toBe(0);
      expect(admin.stdout).toBe("no accounts\n");
    } finally {
      if (child.exitCode === null) child.kill("SIGTERM");
    }
    expect(await exited, `the node's exit after SIGTERM:\n${output}`).toBe(0);
  }, 400_000);

  it("without Redis, keeps its data in SQLite under the image's DATA_DIR and remembers it across a restart", async () => {
    const root = runtimeRoot();
    // DATA_DIR is the image's volume (/app/data); /app is `root` here.
    expect(runtime.env.DATA_DIR).toBe("/app/data");
    const dataDir = inStage(runtime, root, runtime.env.DATA_DIR!, 0);
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, ...runtime.env, DATA_DIR: dataDir, HOST: "127.0.0.1", PORT: String(port), NODE_ID: "image-embedded" };
    const account = { username: `ana_${randomBytes(3).toString("hex")}`, password: "correct horse battery" };
    const post = (path: string) =>
      fetch(`${url}${path}`, { method: "POST", headers: { "content-type": "application/json", origin: url }, body: JSON.stringify(account) });
    for (const round of ["first start", "restart"]) {
      const node = startImage(root, env);
      try {
        await waitForReady(url, node.child, node.output);
        // The first line says where the data is.
        expect(JSON.parse(node.output().split("\n")[0]!)).toMatchObject({ event: "store", store: "sqlite", path: join(dataDir, "sala.sqlite") });
        if (round === "first start") expect((await post("/register")).status).toBe(201);
        expect((await post("/login")).status, `login after the ${round}`).toBe(200);
      } finally {
        if (node.child.exitCode === null) node.child.kill("SIGTERM");
      }
      expect(await node.exited, `the node's exit after SIGTERM:\n${node.output()}`).toBe(0);
    }
    expect(existsSync(join(dataDir, "sala.sqlite"))).toBe(true);
  }, 400_000);
});
