import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { ChildProcess } from "node:child_process";
import { spawnLogged, stopProcess, waitUntil } from "./processes.js";

/** infra/nginx/sala.conf.template: the very file docker compose's nginx renders. */
export const NGINX_TEMPLATE = fileURLToPath(new URL("../../nginx/sala.conf.template", import.meta.url));

/** Debian installs nginx in /usr/sbin, which is not on every user's PATH. */
function nginxBinary(): string {
  if (process.env.NGINX_BIN) return process.env.NGINX_BIN;
  return existsSync("/usr/sbin/nginx") ? "/usr/sbin/nginx" : "nginx";
}

/** Renders `${NAME}` placeholders like the nginx image's envsubst step (only the names given). */
export function renderTemplate(template: string, values: Record<string, string>): string {
  return template.replace(/\$\{([A-Z_]+)\}/g, (match, name: string) => values[name] ?? match);
}

/** nginx in the foreground with its own prefix dir, the Sala template as its http config. */
export class NginxProcess {
  private child: ChildProcess | null = null;

  constructor(
    readonly port: number,
    private readonly upstreams: () => string[],
    private readonly dir: string,
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  private writeConfig(): string {
    mkdirSync(join(this.dir, "logs"), { recursive: true });
    const site = renderTemplate(readFileSync(NGINX_TEMPLATE, "utf8"), {
      SALA_LISTEN: `127.0.0.1:${this.port}`,
      SALA_UPSTREAMS: this.upstreams().map((address) => `server ${address} max_fails=0;`).join(" "),
    });
    writeFileSync(join(this.dir, "sala.conf"), site);
    const main = [
      "worker_processes 1;",
      `pid ${join(this.dir, "nginx.pid")};`,
      `error_log ${join(this.dir, "logs", "error.log")} warn;`,
      "events { worker_connections 16384; }",
      "http {",
      "  access_log off;",
      ...["client_body", "proxy", "fastcgi", "uwsgi", "scgi"].map((kind) => `  ${kind}_temp_path ${join(this.dir, kind)};`),
      `  include ${join(this.dir, "sala.conf")};`,
      "}",
    ].join("\n");
    const file = join(this.dir, "nginx.conf");
    writeFileSync(file, main);
    return file;
  }

  async start(): Promise<void> {
    const config = this.writeConfig();
    // As root, nginx would hand its workers to "nobody", who cannot use our temp dirs.
    const user = process.getuid?.() === 0 ? ["-g", "daemon off; user root;"] : ["-g", "daemon off;"];
    const child = spawnLogged(nginxBinary(), ["-p", this.dir, "-c", config, ...user], process.env, "ignore");
    this.child = child;
    child.once("error", () => undefined);
    await waitUntil(async () => (await fetch(`${this.url}/healthz`)).ok, 10_000, `nginx on port ${this.port}`);
  }

  async stop(): Promise<void> {
    if (this.child) await stopProcess(this.child, "SIGQUIT"); // graceful: finish open requests
    this.child = null;
  }
}
