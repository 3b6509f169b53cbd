/**
 * The deployment files, checked on a machine without a Docker engine or a Kubernetes cluster:
 * docker-compose.yml by Debian's docker-compose (v1 syntax), both nginx templates rendered the way
 * the nginx image renders them and then `nginx -t` and a live proxy check, the Kubernetes manifests
 * by a YAML parser and their cross-references, infra/redis.conf by a real redis-server, and the
 * Dockerfile's shape (its runtime stage is assembled and started by docker-image.int.test.ts),
 * the monitoring profile's wiring (Prometheus targets, Grafana provisioning), and .env.example
 * against every setting config.ts and docker-compose.yml read.
 * Needs docker-compose (which brings python3-yaml), nginx, openssl and redis-server:
 * scripts/test.sh installs them.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request as httpRequest, createServer, type IncomingHttpHeaders, type Server } from "node:http";
import { request as httpsRequest } from "node:https";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";
import ts from "typescript";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseDockerfile } from "./support/dockerfile.js";
import { freePort } from "./support/redis-server.js";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const at = (...parts: string[]) => join(ROOT, ...parts);
const read = (...parts: string[]) => readFileSync(at(...parts), "utf8");

const PLAIN_TEMPLATE = "infra/nginx/sala.conf.template";
const TLS_TEMPLATE = "infra/nginx/sala-tls.conf.template";

/** A binary on PATH (or in the sbin dirs Debian puts nginx in), or null. */
function findBinary(name: string): string | null {
  const dirs = [...(process.env.PATH ?? "").split(delimiter), "/usr/sbin", "/sbin", "/usr/local/sbin"];
  for (const dir of dirs) {
    if (dir && existsSync(join(dir, name))) return join(dir, name);
  }
  return null;
}

function requireBinary(name: string, debianPackage: string): string {
  const found = findBinary(name);
  if (!found) {
    throw new Error(`${name} is not installed. The test command (npm test → scripts/test.sh) installs Debian's ${debianPackage} package; by hand: apt-get install ${debianPackage}`);
  }
  return found;
}

function run(binary: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string } = {}) {
  const result = spawnSync(binary, args, { encoding: "utf8", timeout: 60_000, ...options });
  if (result.error) throw result.error;
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Debian's python3, which Debian's docker-compose depends on together with python3-yaml. */
function python(): string {
  return existsSync("/usr/bin/python3") ? "/usr/bin/python3" : requireBinary("python3", "python3-yaml");
}

/** Every YAML document of a text, as JSON values (PyYAML safe_load: anchors and merge keys work). */
function parseYaml(text: string, what: string): any[] {
  const script = "import json, sys, yaml\nprint(json.dumps(list(yaml.safe_load_all(sys.stdin))))";
  const result = run(python(), ["-c", script], { input: text });
  if (result.status !== 0) throw new Error(`${what} does not parse as YAML (python3 + PyYAML, from Debian's docker-compose): ${result.stderr}`);
  return (JSON.parse(result.stdout) as unknown[]).filter((doc) => doc !== null);
}

/** The `${NAME}` placeholders of a template. */
function templateVariables(template: string): string[] {
  return [...new Set([...template.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g)].map((match) => match[1]!))].sort();
}

/**
 * What the nginx image does to /etc/nginx/templates/*.template: envsubst with a SHELL-FORMAT that
 * lists the defined variables (here: SALA_* only), so `${NAME}` and `$NAME` of those names are
 * replaced and every nginx variable ($host, $remote_addr…) is left alone.
 */
function envsubst(template: string, values: Record<string, string>): string {
  const names = Object.keys(values).filter((name) => name.startsWith("SALA_"));
  return template.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (match, braced?: string, bare?: string) => {
    const name = braced ?? bare!;
    return names.includes(name) ? values[name]! : match;
  });
}

/** A main nginx.conf around a rendered template, with every path inside `dir`. */
function writeNginxConfig(dir: string, site: string): string {
  writeFileSync(join(dir, "sala.conf"), site);
  const main = [
    "worker_processes 1;",
    `pid ${join(dir, "nginx.pid")};`,
    `error_log ${join(dir, "error.log")} warn;`,
    "events { worker_connections 256; }",
    "http {",
    "  access_log off;",
    ...["client_body", "proxy", "fastcgi", "uwsgi", "scgi"].map((kind) => `  ${kind}_temp_path ${join(dir, kind)};`),
    `  include ${join(dir, "sala.conf")};`,
    "}",
  ].join("\n");
  writeFileSync(join(dir, "nginx.conf"), main);
  return join(dir, "nginx.conf");
}

function makeCertificate(dir: string): { cert: string; key: string } {
  const openssl = requireBinary("openssl", "openssl");
  const cert = join(dir, "test.crt");
  const key = join(dir, "test.key");
  const result = run(openssl, [
    "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-keyout", key, "-out", cert,
    "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
  ]);
  expect(result.status, result.stderr).toBe(0);
  return { cert, key };
}

const tempDirs: string[] = [];
function tempDir(label: string): string {
  const dir = mkdtempSync(join(tmpdir(), `sala-infra-${label}-`));
  tempDirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

/** What a test gives compose for the one setting without a default (docker-compose.yml stops without it). */
const COMPOSE_SECRET = "compose-test-secret-of-more-than-32-characters";

/**
 * Compose's arguments for docker-compose.yml with an env file holding only `settings`, instead of
 * a developer's .env beside it.
 */
function composeArgsWith(settings: Record<string, string>): string[] {
  const envFile = join(tempDir("compose"), "test.env");
  writeFileSync(envFile, Object.entries(settings).map(([name, value]) => `${name}=${value}\n`).join(""));
  return ["--env-file", envFile, "-f", at("docker-compose.yml")];
}

describe("docker-compose.yml", () => {
  // Interpolation defaults are what is tested: no .env file, no SESSION_SECRET/SALA_* from the
  // shell; SESSION_SECRET, which has none, comes from the test's env file.
  const env: NodeJS.ProcessEnv = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => name !== "SESSION_SECRET" && !name.startsWith("SALA_") && !name.startsWith("COMPOSE_")),
  );
  let setup: { compose: string; composeArgs: string[]; config: any } | null = null;
  /** Each test calls this, so a missing docker-compose fails every test with the reason (never a skip). */
  function composeSetup() {
    if (setup) return setup;
    const compose = requireBinary("docker-compose", "docker-compose");
    const composeArgs = composeArgsWith({ SESSION_SECRET: COMPOSE_SECRET });
    const result = run(compose, [...composeArgs, "config"], { cwd: ROOT, env });
    expect(result.status, result.stderr).toBe(0);
    setup = { compose, composeArgs, config: parseYaml(result.stdout, "docker-compose config output")[0] };
    return setup;
  }

  it("validates with Debian's docker-compose (`docker-compose config -q`)", () => {
    const { compose, composeArgs } = composeSetup();
    const result = run(compose, [...composeArgs, "config", "-q"], { cwd: ROOT, env });
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toBe("");
  });

  it("runs three nodes from one image built from infra/Dockerfile, with distinct NODE_IDs", () => {
    const { config } = composeSetup();
    const nodes = ["node-1", "node-2", "node-3"].map((name) => config.services[name]);
    for (const node of nodes) {
      expect(node).toBeDefined();
      expect(node.image).toBe(nodes[0].image);
      if (node.build) expect(node.build.dockerfile).toBe("infra/Dockerfile");
      expect(node.environment.REDIS_URL).toBe("redis://redis:6379");
      expect(node.environment.SESSION_SECRET).toBe(COMPOSE_SECRET);
      expect(node.environment.ALLOWED_ORIGINS.split(",")).toContain("http://localhost:8080");
      expect(node.depends_on.redis.condition).toBe("service_healthy");
      expect(node.healthcheck.test.join(" ")).toContain("/healthz");
      expect(node.ports).toBeUndefined(); // only nginx is published
    }
    expect(nodes.some((node) => node.build?.dockerfile === "infra/Dockerfile")).toBe(true);
    expect(new Set(nodes.map((node) => node.environment.NODE_ID))).toEqual(new Set(["node-1", "node-2", "node-3"]));
    expect(Object.keys(config.services).filter((name) => /^node-/.test(name))).toHaveLength(3);
  });

  it("gives the nodes only settings that config.ts reads", () => {
    const { config } = composeSetup();
    const schema = read("services/chat/src/config.ts");
    for (const name of ["node-1", "node-2", "node-3"]) {
      for (const variable of Object.keys(config.services[name].environment)) {
        expect(schema, `${name}: ${variable} is not read by config.ts`).toMatch(new RegExp(`\\b${variable}:`));
      }
    }
  });

  it("trusts X-Forwarded-For exactly from the nginx containers", () => {
    const { config } = composeSetup();
    const proxies = ["nginx", "nginx-tls"].map((name) => config.services[name].networks.sala.ipv4_address);
    for (const name of ["node-1", "node-2", "node-3"]) {
      expect(config.services[name].environment.TRUST_PROXY.split(",").sort()).toEqual([...proxies].sort());
    }
  });

  it("persists Redis (AOF) in a named volume and checks its health", () => {
    const { config } = composeSetup();
    const redis = config.services.redis;
    expect(redis.image).toMatch(/^redis:7/);
    expect(redis.command).toEqual(["redis-server", "/usr/local/etc/redis/redis.conf"]);
    expect(redis.volumes).toEqual(expect.arrayContaining([
      expect.stringMatching(/\/infra\/redis\.conf:\/usr\/local\/etc\/redis\/redis\.conf(:ro)?$/),
      expect.stringMatching(/^redis-data:\/data/),
    ]));
    expect(Object.keys(config.volumes)).toContain("redis-data");
    expect(redis.healthcheck.test).toEqual(["CMD", "redis-cli", "ping"]);
    expect(read("infra/redis.conf")).toMatch(/^appendonly yes$/m);
  });

  it("publishes nginx on 8080 with infra/nginx/sala.conf.template and every variable it uses", () => {
    const { config } = composeSetup();
    const nginx = config.services.nginx;
    expect(nginx.profiles).toBeUndefined();
    expect(nginx.ports).toEqual([expect.objectContaining({ published: 8080, target: 8080 })]);
    expect(nginx.volumes).toContain(`${at(PLAIN_TEMPLATE)}:/etc/nginx/templates/default.conf.template:ro`);
    for (const variable of templateVariables(read(PLAIN_TEMPLATE))) expect(nginx.environment).toHaveProperty(variable);
    const upstreams = (service: any) => [...String(service.environment.SALA_UPSTREAMS).matchAll(/server ([\w.-]+:\d+)[^;]*;/g)].map((match) => match[1]);
    expect(upstreams(nginx)).toEqual(["node-1:3000", "node-2:3000", "node-3:3000"]);
    expect(config.services["nginx-tls"].environment.SALA_UPSTREAMS).toBe(nginx.environment.SALA_UPSTREAMS);
  });

  it("has the TLS nginx under the tls profile, with its template, certificates and variables", () => {
    const { config } = composeSetup();
    const tls = config.services["nginx-tls"];
    expect(tls.profiles).toEqual(["tls"]);
    expect(tls.volumes).toContain(`${at(TLS_TEMPLATE)}:/etc/nginx/templates/default.conf.template:ro`);
    expect(tls.volumes).toContain(`${at("infra/tls")}:/etc/nginx/tls:ro`);
    for (const variable of templateVariables(read(TLS_TEMPLATE))) expect(tls.environment).toHaveProperty(variable);
    expect(config.services["node-1"].environment.ALLOWED_ORIGINS.split(",")).toContain(`https://localhost:${tls.environment.SALA_TLS_PUBLIC_PORT}`);
  });

  it("has k6 only under the load profile, against nginx", () => {
    const { compose, composeArgs, config } = composeSetup();
    const k6 = config.services.k6;
    expect(k6.profiles).toEqual(["load"]);
    // Pinned to a release that has k6/websockets (1.6.0 and later), which every script imports.
    const pinned = /^grafana\/k6:(\d+)\.(\d+)\.(\d+)$/.exec(k6.image);
    expect(pinned, `${k6.image} is not pinned to a release`).not.toBeNull();
    const [major, minor] = pinned!.slice(1).map(Number) as [number, number];
    expect(major > 1 || (major === 1 && minor >= 6), `${k6.image}: the scripts need k6 ≥ 1.6.0`).toBe(true);
    expect(read("loadtest/k6/lib/io.ts")).toMatch(/from "k6\/websockets"/);
    expect(k6.command).toEqual(["run", "/scripts/room-chat.js"]);
    expect(k6.environment.BASE_URL).toBe("http://nginx:8080");
    expect(k6.volumes).toEqual([`${at("loadtest/dist/k6")}:/scripts:ro`]);
    const profiled = Object.entries(config.services).filter(([, service]: [string, any]) => service.profiles).map(([name]) => name);
    expect(profiled.filter((name) => config.services[name].profiles[0] !== "redis-cluster").sort()).toEqual(["grafana", "k6", "nginx-tls", "prometheus"]);
    expect(run(compose, [...composeArgs, "config", "--profiles"], { cwd: ROOT, env }).stdout.trim().split("\n").sort()).toEqual(["load", "monitoring", "redis-cluster", "tls"]);
  });

  it("has a Redis Cluster under the redis-cluster profile: 6 members, a one-shot init, and nodes with REDIS_CLUSTER_NODES", () => {
    const { config } = composeSetup();
    const services = config.services as Record<string, any>;
    const inProfile = Object.keys(services).filter((name) => services[name].profiles?.includes("redis-cluster")).sort();
    const members = [1, 2, 3, 4, 5, 6].map((i) => `redis-cluster-${i}`);
    expect(inProfile).toEqual([...members, "redis-cluster-init", "rc-nginx", "rc-node-1", "rc-node-2", "rc-node-3"].sort());
    const addresses = new Set<string>();
    for (const name of members) {
      const member = services[name];
      expect(member.image).toBe(services.redis.image); // the same pinned Redis as the single-Redis mode
      expect(member.command).toEqual(["redis-server", "/usr/local/etc/redis/redis.conf", "--include", "/usr/local/etc/redis/redis-cluster.conf", "--cluster-announce-hostname", name, "--cluster-preferred-endpoint-type", "hostname"]);
      expect(member.volumes).toEqual(expect.arrayContaining([
        `${at("infra/redis.conf")}:/usr/local/etc/redis/redis.conf:ro`,
        `${at("infra/redis-cluster.conf")}:/usr/local/etc/redis/redis-cluster.conf:ro`,
        `${name}-data:/data:rw`,
      ]));
      expect(Object.keys(config.volumes)).toContain(`${name}-data`);
      expect(member.healthcheck.test).toEqual(["CMD", "redis-cli", "ping"]);
      addresses.add(member.networks.sala.ipv4_address);
    }
    expect(addresses.size).toBe(6);
    expect(read("infra/redis-cluster.conf")).toMatch(/^cluster-require-full-coverage no$/m);

    const init = services["redis-cluster-init"];
    expect(init.image).toBe(services.redis.image);
    expect(init.restart).toBe("no");
    expect(init.command).toEqual(["sh", "/usr/local/bin/redis-cluster-init.sh"]);
    expect(init.volumes).toEqual([`${at("infra/redis-cluster-init.sh")}:/usr/local/bin/redis-cluster-init.sh:ro`]);
    expect(init.environment.REDIS_CLUSTER_MEMBERS.split(" ")).toEqual(members.map((name) => `${name}:6379`));
    expect(init.environment.REDIS_CLUSTER_REPLICAS).toBe("1");
    expect(Object.keys(init.depends_on).sort()).toEqual(members);
    expect(read("infra/redis-cluster-init.sh")).toMatch(/redis-cli --cluster create \$addresses --cluster-replicas "\$replicas" --cluster-yes/);

    const nginx = services["rc-nginx"];
    expect(nginx.ports).toEqual([expect.objectContaining({ published: 8090, target: 8080 })]);
    expect(nginx.volumes).toContain(`${at(PLAIN_TEMPLATE)}:/etc/nginx/templates/default.conf.template:ro`);
    expect(nginx.environment.SALA_UPSTREAMS).toBe("server rc-node-1:3000 max_fails=0; server rc-node-2:3000 max_fails=0; server rc-node-3:3000 max_fails=0;");
    for (const name of ["rc-node-1", "rc-node-2", "rc-node-3"]) {
      const node = services[name];
      expect(node.image).toBe(services["node-1"].image);
      expect(node.environment.NODE_ID).toBe(name);
      expect(node.environment.REDIS_URL).toBeUndefined(); // both set: the node refuses to start
      expect(node.environment.REDIS_CLUSTER_NODES.split(",")).toEqual(members.map((member) => `${member}:6379`));
      expect(node.environment.SESSION_SECRET).toBe(services["node-1"].environment.SESSION_SECRET);
      expect(node.environment.TRUST_PROXY).toBe(nginx.networks.sala.ipv4_address);
      expect(node.environment.ALLOWED_ORIGINS.split(",")).toContain("http://localhost:8090");
      expect(node.depends_on).toEqual({ "redis-cluster-init": { condition: "service_completed_successfully" } });
    }
  });

  it("stops with a clear message when SESSION_SECRET is missing, and has no default for it", () => {
    const { compose } = composeSetup();
    for (const settings of [{}, { SESSION_SECRET: "" }] as Array<Record<string, string>>) {
      const result = run(compose, [...composeArgsWith(settings), "config"], { cwd: ROOT, env });
      expect(result.status, JSON.stringify(settings)).not.toBe(0);
      expect(result.stderr).toContain("SESSION_SECRET is not set. Give it 32 or more random characters");
      expect(result.stderr).toContain("see .env.example");
      expect(result.stdout).toBe("");
    }
    expect(read("docker-compose.yml")).toMatch(/SESSION_SECRET: \$\{SESSION_SECRET:\?/);
  });

  it("pins every image it pulls to an exact version", () => {
    const { compose, composeArgs } = composeSetup();
    const result = run(compose, [...composeArgs, "--profile", "monitoring", "--profile", "tls", "--profile", "load", "--profile", "redis-cluster", "config"], { cwd: ROOT, env });
    expect(result.status, result.stderr).toBe(0);
    const services = parseYaml(result.stdout, "docker-compose config output")[0].services as Record<string, any>;
    const pulled = Object.entries(services).filter(([, service]) => !service.build);
    expect(pulled.length).toBeGreaterThan(10);
    for (const [name, service] of pulled) {
      // name:MAJOR.MINOR.PATCH with an optional v and variant (-alpine): never a moving tag.
      expect(service.image, `${name}: ${service.image} is not pinned to an exact version`).toMatch(/^[a-z0-9./-]+:v?\d+\.\d+\.\d+(-[a-z0-9.]+)?$/);
    }
    const images = new Set(pulled.map(([, service]) => String(service.image).split(":")[0]));
    expect([...images].sort()).toEqual(["grafana/grafana", "grafana/k6", "nginx", "prom/prometheus", "redis"]);
    // One Redis for every Redis service, one nginx for every proxy; Redis 7 (sharded pub/sub).
    expect(new Set(pulled.filter(([, service]) => service.image.startsWith("redis:")).map(([, service]) => service.image)).size).toBe(1);
    expect(services.redis.image).toMatch(/^redis:7\./);
    expect(new Set(pulled.filter(([, service]) => service.image.startsWith("nginx:")).map(([, service]) => service.image))).toEqual(new Set([services.nginx.image]));
  });

  it("serves every node's metrics on the compose network only, where infra/prometheus.yml scrapes them", () => {
    const { config } = composeSetup();
    const services = config.services as Record<string, any>;
    const nodes = Object.keys(services).filter((name) => /^(rc-)?node-\d+$/.test(name)).sort();
    expect(nodes).toHaveLength(6);
    for (const name of nodes) {
      expect(services[name].environment.METRICS_HOST, name).toBe("0.0.0.0");
      expect(services[name].environment.METRICS_PORT, name).toBe("9464");
      expect(services[name].ports, `${name}: the metrics port must not be published`).toBeUndefined();
      expect(services[name].expose).toBeUndefined();
    }
    const prometheus = parseYaml(read("infra/prometheus.yml"), "infra/prometheus.yml")[0];
    const jobs = Object.fromEntries(prometheus.scrape_configs.map((job: any) => [job.job_name, job.static_configs.flatMap((group: any) => group.targets)]));
    expect(jobs).toEqual({
      sala: ["node-1", "node-2", "node-3"].map((name) => `${name}:${services[name].environment.METRICS_PORT}`),
      "sala-redis-cluster": ["rc-node-1", "rc-node-2", "rc-node-3"].map((name) => `${name}:${services[name].environment.METRICS_PORT}`),
    });
    for (const job of prometheus.scrape_configs) expect(job.metrics_path ?? "/metrics").toBe("/metrics");
  });

  it("has Prometheus and Grafana under the monitoring profile, on localhost only, with the shipped config and dashboard", () => {
    const { config } = composeSetup();
    const services = config.services as Record<string, any>;
    const inProfile = Object.keys(services).filter((name) => services[name].profiles?.includes("monitoring")).sort();
    expect(inProfile).toEqual(["grafana", "prometheus"]);

    const prometheus = services.prometheus;
    expect(prometheus.image).toMatch(/^prom\/prometheus:v3\.\d+\.\d+$/);
    expect(prometheus.volumes).toContain(`${at("infra/prometheus.yml")}:/etc/prometheus/prometheus.yml:ro`);
    expect(prometheus.volumes).toContain("prometheus-data:/prometheus:rw");
    expect(prometheus.command).toBeUndefined(); // the image's own: --config.file=/etc/prometheus/prometheus.yml
    expect(prometheus.ports).toEqual(["127.0.0.1:9090:9090/tcp"]);
    expect(Object.keys(config.volumes)).toContain("prometheus-data");

    const grafana = services.grafana;
    expect(grafana.image).toMatch(/^grafana\/grafana:\d+\.\d+\.\d+$/);
    expect(grafana.ports).toEqual(["127.0.0.1:3001:3000/tcp"]);
    expect(Object.keys(grafana.depends_on)).toEqual(["prometheus"]);
    // No account, hence no password with a default: an anonymous Viewer unless SALA_GRAFANA_ROLE says.
    expect(grafana.environment).toMatchObject({
      GF_SECURITY_DISABLE_INITIAL_ADMIN_CREATION: "true",
      GF_AUTH_DISABLE_LOGIN_FORM: "true",
      GF_AUTH_ANONYMOUS_ENABLED: "true",
      GF_AUTH_ANONYMOUS_ORG_ROLE: "Viewer",
    });
    expect(Object.keys(grafana.environment).filter((name) => /PASSWORD|SECRET/.test(name))).toEqual([]);

    // Provisioning: what the container reads is what infra/grafana holds, and the paths agree.
    const mounts = new Map<string, string>(grafana.volumes.map((volume: string) => volume.split(":")).map((parts: string[]) => [parts[1]!, parts[0]!]));
    expect(mounts.get("/etc/grafana/provisioning")).toBe(at("infra/grafana/provisioning").replace(/\/$/, ""));
    const provider = parseYaml(read("infra/grafana/provisioning/dashboards/sala.yml"), "dashboard provider")[0].providers[0];
    expect(provider.type).toBe("file");
    const dashboards = mounts.get(provider.options.path);
    expect(dashboards, `nothing is mounted at the provider's path ${provider.options.path}`).toBe(at("infra/grafana/dashboards").replace(/\/$/, ""));
    const home = grafana.environment.GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH as string;
    expect(home.startsWith(`${provider.options.path}/`)).toBe(true);
    expect(existsSync(join(dashboards!, home.slice(provider.options.path.length + 1))), `${home} is not a file in infra/grafana/dashboards`).toBe(true);
    const datasource = parseYaml(read("infra/grafana/provisioning/datasources/prometheus.yml"), "datasource")[0].datasources[0];
    expect(datasource).toMatchObject({ type: "prometheus", uid: "prometheus", url: "http://prometheus:9090" });
    const dashboard = JSON.parse(read("infra/grafana/dashboards/sala.json")) as { panels: Array<{ datasource?: { uid: string } }> };
    for (const panel of dashboard.panels.filter((one) => one.datasource)) expect(panel.datasource!.uid).toBe(datasource.uid);

    // The localhost ports follow their settings.
    const moved = run(requireBinary("docker-compose", "docker-compose"), [...composeArgsWith({ SESSION_SECRET: COMPOSE_SECRET, SALA_GRAFANA_PORT: "13001", SALA_PROMETHEUS_PORT: "19090", SALA_GRAFANA_ROLE: "Editor" }), "config"], { cwd: ROOT, env });
    expect(moved.status, moved.stderr).toBe(0);
    const movedServices = parseYaml(moved.stdout, "docker-compose config output")[0].services;
    expect(movedServices.grafana.ports).toEqual(["127.0.0.1:13001:3000/tcp"]);
    expect(movedServices.prometheus.ports).toEqual(["127.0.0.1:19090:9090/tcp"]);
    expect(movedServices.grafana.environment.GF_AUTH_ANONYMOUS_ORG_ROLE).toBe("Editor");
  });
});

describe("nginx templates", () => {
  let certificate: { cert: string; key: string } | null = null;
  const values = (extra: Record<string, string> = {}): Record<string, string> => {
    certificate ??= makeCertificate(tempDir("cert"));
    return {
      SALA_LISTEN: "127.0.0.1:18080",
      SALA_UPSTREAMS: "server 127.0.0.1:13001 max_fails=0; server 127.0.0.1:13002 max_fails=0;",
      SALA_TLS_LISTEN: "127.0.0.1:18443",
      SALA_TLS_PUBLIC_PORT: "18443",
      SALA_TLS_CERT: certificate.cert,
      SALA_TLS_KEY: certificate.key,
      SALA_HSTS_MAX_AGE: "31536000",
      ...extra,
    };
  };

  function renderAndTest(template: string): { status: number | null; output: string; site: string } {
    const nginx = requireBinary("nginx", "nginx");
    const dir = tempDir("nginx-t");
    const site = envsubst(read(template), values());
    const config = writeNginxConfig(dir, site);
    const result = run(nginx, ["-t", "-p", dir, "-e", join(dir, "error.log"), "-c", config]);
    return { status: result.status, output: result.stderr + result.stdout, site };
  }

  for (const template of [PLAIN_TEMPLATE, TLS_TEMPLATE]) {
    it(`${template}: renders with SALA_* only and passes nginx -t`, () => {
      const { status, output, site } = renderAndTest(template);
      expect(site).not.toMatch(/\$\{?SALA_/); // every placeholder had a value
      expect(site).toContain("$remote_addr"); // nginx's own variables survive rendering
      expect(status, output).toBe(0);
      expect(output).toContain("test is successful");
    });
  }

  it("keeps the upstream and map blocks of the two templates identical", () => {
    const blocks = (text: string) => text.match(/^(upstream|map) [\s\S]*?^\}/gm);
    expect(blocks(read(TLS_TEMPLATE))).toEqual(blocks(read(PLAIN_TEMPLATE)));
  });
});

/** A stand-in node: answers every request, and every websocket upgrade, with the headers it got. */
async function startEchoUpstream(): Promise<{ server: Server; port: number }> {
  const server = createServer((request, response) => {
    response.setHeader("content-type", "application/json");
    // What a node with COOKIE_SECURE=true sends: the TLS proxy must not let two of these through.
    response.setHeader("strict-transport-security", "max-age=1");
    response.end(JSON.stringify(request.headers));
  });
  server.on("upgrade", (request, socket) => {
    const seen = Buffer.from(JSON.stringify(request.headers)).toString("base64");
    socket.end(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nX-Seen: ${seen}\r\n\r\n`);
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  return { server, port };
}

interface ProxyAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  /** The headers the upstream received. */
  seen: Record<string, string>;
}

/** One request through nginx; `upgrade` makes it a websocket handshake. */
function throughProxy(url: string, options: { upgrade?: boolean; headers?: Record<string, string> } = {}): Promise<ProxyAnswer> {
  const headers: Record<string, string> = { host: "sala.test", "x-forwarded-for": "203.0.113.9", ...options.headers };
  if (options.upgrade) {
    Object.assign(headers, { connection: "Upgrade", upgrade: "websocket", "sec-websocket-version": "13", "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==" });
  }
  const parsed = new URL(url);
  const send = parsed.protocol === "https:" ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const request = send(
      { hostname: parsed.hostname, port: parsed.port, path: parsed.pathname + parsed.search, headers, rejectUnauthorized: false, agent: false },
      (response) => {
        let body = "";
        response.on("data", (chunk: Buffer) => (body += chunk.toString()));
        response.on("end", () => {
          let seen: Record<string, string> = {};
          try {
            seen = JSON.parse(body) as Record<string, string>;
          } catch {
            // a redirect or an nginx error page
          }
          resolve({ status: response.statusCode ?? 0, headers: response.headers, seen });
        });
      },
    );
    request.on("upgrade", (response, socket) => {
      socket.destroy();
      const seen = JSON.parse(Buffer.from(String(response.headers["x-seen"]), "base64").toString()) as Record<string, string>;
      resolve({ status: response.statusCode ?? 0, headers: response.headers, seen });
    });
    request.on("error", reject);
    request.setTimeout(5000, () => request.destroy(new Error(`no answer from ${url}`)));
    request.end();
  });
}

async function startNginx(template: string, extra: (ports: { http: number; https: number }) => Record<string, string>, upstreamPort: number) {
  const nginx = requireBinary("nginx", "nginx");
  const dir = tempDir("nginx-run");
  const ports = { http: await freePort(), https: await freePort() };
  const site = envsubst(read(template), {
    SALA_LISTEN: `127.0.0.1:${ports.http}`,
    SALA_UPSTREAMS: `server 127.0.0.1:${upstreamPort} max_fails=0;`,
    ...extra(ports),
  });
  const config = writeNginxConfig(dir, site);
  // As root, nginx would hand its workers to "nobody", who cannot use the private temp dir.
  const global = process.getuid?.() === 0 ? "daemon off; user root;" : "daemon off;";
  const child: ChildProcess = spawn(nginx, ["-p", dir, "-e", join(dir, "error.log"), "-c", config, "-g", global], { stdio: "ignore" });
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      await throughProxy(`http://127.0.0.1:${ports.http}/healthz`);
      break;
    } catch (error) {
      if (child.exitCode !== null || Date.now() > deadline) {
        const log = existsSync(join(dir, "error.log")) ? readFileSync(join(dir, "error.log"), "utf8") : "";
        throw new Error(`nginx did not start: ${(error as Error).message}\n${log}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  return {
    ports,
    async stop() {
      if (child.exitCode !== null) return;
      const gone = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      await gone;
    },
  };
}

/**
 * What a node needs from the proxy, on both locations (pages/API and /socket.io/): the client's
 * Host, the real client address appended to X-Forwarded-For (TRUST_PROXY makes the node take the
 * last untrusted hop: a client-supplied X-Forwarded-For must not become "the client address"),
 * X-Forwarded-Proto, and the websocket upgrade.
 */
function expectForwarded(answer: ProxyAnswer, proto: "http" | "https") {
  expect(answer.seen.host, "Host reaches the node").toBe("sala.test");
  expect(answer.seen["x-forwarded-for"], "nginx appends the real client address").toBe("203.0.113.9, 127.0.0.1");
  expect(answer.seen["x-real-ip"]).toBe("127.0.0.1");
  expect(answer.seen["x-forwarded-proto"]).toBe(proto);
}

describe("nginx templates as a running proxy", () => {
  let upstream: { server: Server; port: number };
  beforeAll(async () => {
    upstream = await startEchoUpstream();
  });
  afterAll(async () => {
    await new Promise((resolve) => upstream.server.close(resolve));
  });

  it(`${PLAIN_TEMPLATE}: forwards client address, host and scheme on every location, and upgrades websockets`, async () => {
    const proxy = await startNginx(PLAIN_TEMPLATE, () => ({}), upstream.port);
    try {
      const base = `http://127.0.0.1:${proxy.ports.http}`;
      const page = await throughProxy(`${base}/session`);
      expect(page.status).toBe(200);
      expectForwarded(page, "http");
      const socket = await throughProxy(`${base}/socket.io/?EIO=4&transport=websocket`, { upgrade: true });
      expect(socket.status).toBe(101);
      expect(socket.seen.upgrade).toBe("websocket");
      expectForwarded(socket, "http");
    } finally {
      await proxy.stop();
    }
  });

  it(`${TLS_TEMPLATE}: redirects HTTP, serves HTTPS/WSS with one HSTS header, and forwards like the plain one`, async () => {
    const dir = tempDir("tls-run");
    const { cert, key } = makeCertificate(dir);
    const proxy = await startNginx(
      TLS_TEMPLATE,
      (ports) => ({
        SALA_TLS_LISTEN: `127.0.0.1:${ports.https}`,
        SALA_TLS_PUBLIC_PORT: String(ports.https),
        SALA_TLS_CERT: cert,
        SALA_TLS_KEY: key,
        SALA_HSTS_MAX_AGE: "31536000",
      }),
      upstream.port,
    );
    try {
      const redirect = await throughProxy(`http://127.0.0.1:${proxy.ports.http}/login?next=1`);
      expect(redirect.status).toBe(301);
      expect(redirect.headers.location).toBe(`https://sala.test:${proxy.ports.https}/login?next=1`);

      const base = `https://127.0.0.1:${proxy.ports.https}`;
      const page = await throughProxy(`${base}/session`);
      expect(page.status).toBe(200);
      expect(page.headers["strict-transport-security"]).toBe("max-age=31536000; includeSubDomains");
      expectForwarded(page, "https");
      const socket = await throughProxy(`${base}/socket.io/?EIO=4&transport=websocket`, { upgrade: true });
      expect(socket.status).toBe(101);
      expectForwarded(socket, "https");
    } finally {
      await proxy.stop();
    }
  });
});

describe("infra/redis.conf", () => {
  it("starts a real redis-server with AOF every second and no eviction", async () => {
    const dir = tempDir("redis");
    const port = await freePort();
    const child = spawn(requireBinary("redis-server", "redis-server"), [at("infra/redis.conf"), "--port", String(port), "--bind", "127.0.0.1", "--dir", dir, "--daemonize", "no"], { stdio: "ignore" });
    const client = new Redis(`redis://127.0.0.1:${port}`, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    client.on("error", () => undefined);
    try {
      const deadline = Date.now() + 10_000;
      for (;;) {
        try {
          await client.connect();
          break;
        } catch (error) {
          if (child.exitCode !== null || Date.now() > deadline) throw new Error(`redis-server did not start with infra/redis.conf: ${(error as Error).message}`);
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      }
      const setting = async (name: string) => ((await client.call("CONFIG", "GET", name)) as string[])[1];
      expect(await setting("appendonly")).toBe("yes");
      expect(await setting("appendfsync")).toBe("everysec");
      expect(await setting("maxmemory-policy")).toBe("noeviction");
    } finally {
      client.disconnect();
      if (child.exitCode === null) {
        const gone = new Promise((resolve) => child.once("exit", resolve));
        child.kill("SIGTERM");
        await gone;
      }
    }
  });
});

/**
 * The compose profile `redis-cluster` without Docker: its six members are started as redis-server
 * processes with the compose command (the container paths of the config files mapped back to the
 * files compose mounts there) plus what loopback needs (a port each, a data dir, a bus port), and
 * its init script runs as compose runs it. Emulated: Docker's DNS. The members are given to the
 * script as 127.0.0.1:<port> instead of redis-cluster-N:6379, and a client maps the names the
 * members announce to those ports (natMap) as the compose network would resolve them.
 */
describe("the redis-cluster profile, emulated with redis-server processes", () => {
  const children: ChildProcess[] = [];
  afterAll(async () => {
    await Promise.all(children.map((child) => {
      if (child.exitCode !== null || child.signalCode !== null) return undefined;
      const gone = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      return gone;
    }));
  });

  /** A compose service's command with every mounted container path replaced by its file here. */
  function hostCommand(service: { command: string[]; volumes: string[] }): string[] {
    const mounts = new Map(service.volumes.map((volume) => volume.split(":")).filter((parts) => parts[0]!.startsWith("/")).map((parts) => [parts[1]!, parts[0]!]));
    return service.command.map((arg) => mounts.get(arg) ?? arg);
  }

  it("creates the 3+3 cluster with the init script (idempotently), and announces the member names clients route by", async () => {
    const compose = requireBinary("docker-compose", "docker-compose");
    const result = run(compose, [...composeArgsWith({ SESSION_SECRET: COMPOSE_SECRET }), "config"], { cwd: ROOT });
    expect(result.status, result.stderr).toBe(0);
    const services = parseYaml(result.stdout, "docker-compose config output")[0].services as Record<string, any>;
    const names = [1, 2, 3, 4, 5, 6].map((i) => `redis-cluster-${i}`);

    const ports: number[] = [];
    for (const name of names) {
      const [binary, ...args] = hostCommand(services[name]);
      expect(binary).toBe("redis-server");
      const [port, bus] = [await freePort(), await freePort()];
      const dir = tempDir(name);
      const child = spawn(requireBinary("redis-server", "redis-server"), [...args, "--port", String(port), "--bind", "127.0.0.1", "--dir", dir, "--cluster-port", String(bus), "--daemonize", "no"], { stdio: "ignore" });
      children.push(child);
      ports.push(port);
    }

    const init = services["redis-cluster-init"];
    const [shell, script] = hostCommand(init);
    const members = ports.map((port) => `127.0.0.1:${port}`).join(" ");
    const initEnv = { ...process.env, ...init.environment, REDIS_CLUSTER_MEMBERS: members };
    const first = spawnSync(shell!, [script!], { encoding: "utf8", env: initEnv, timeout: 90_000 });
    expect(first.status, first.stdout + first.stderr).toBe(0);
    expect(first.stdout).toContain("creating the cluster");
    expect(first.stdout).toContain("[OK] All 16384 slots covered");
    expect(first.stdout).toContain("the cluster is ok");
    // Every later `up` runs it again: it must find the cluster and leave it alone.
    const again = spawnSync(shell!, [script!], { encoding: "utf8", env: initEnv, timeout: 30_000 });
    expect(again.status, again.stdout + again.stderr).toBe(0);
    expect(again.stdout).toContain("already ok: nothing to do");

    // What a node in the compose network sees: endpoints by member name, on the members' port.
    const natMap = Object.fromEntries(names.map((name, i) => [`${name}:${ports[i]}`, { host: "127.0.0.1", port: ports[i]! }]));
    const { Cluster } = await import("ioredis");
    const cluster = new Cluster([{ host: "127.0.0.1", port: ports[0]! }], { natMap, scaleReads: "master", clusterRetryStrategy: () => null });
    try {
      // Each slot range: [first, last, [primary endpoint, port, id, …], replicas…].
      const slots = (await cluster.call("CLUSTER", "SLOTS")) as Array<[number, number, [string, number, string]]>;
      expect(slots.map((range) => range[2][0]).every((endpoint) => names.includes(endpoint))).toBe(true);
      expect(new Set(slots.map((range) => range[2][0])).size).toBe(3);
      // A replica for every primary (CLUSTER SLOTS lists a replica only once it has replicated data).
      const lines = String(await cluster.call("CLUSTER", "NODES")).trim().split("\n").map((line) => line.split(" "));
      const primaries = lines.filter((fields) => fields[2]!.includes("master")).map((fields) => fields[0]);
      const replicaOf = lines.filter((fields) => fields[2]!.includes("slave")).map((fields) => fields[3]);
      expect(primaries).toHaveLength(3);
      expect(replicaOf.sort()).toEqual([...primaries].sort());
      const keys = ["{room:a}:x", "{room:b}:x", "{room:c}:x", "{global}:x", "user:someone"];
      for (const key of keys) await cluster.set(key, key);
      for (const key of keys) expect(await cluster.get(key)).toBe(key);
      const setting = async (name: string) => ((await cluster.nodes("master")[0]!.call("CONFIG", "GET", name)) as string[])[1];
      expect(await setting("cluster-require-full-coverage")).toBe("no");
      expect(await setting("appendonly")).toBe("yes");
    } finally {
      cluster.disconnect();
    }
  }, 120_000);
});

describe("infra/k8s", () => {
  const files = readdirSync(at("infra/k8s")).filter((name) => name.endsWith(".yaml")).sort();
  const docs = new Map<string, any[]>();
  const parsed = () => {
    if (docs.size === 0) for (const file of files) docs.set(file, parseYaml(read("infra/k8s", file), `infra/k8s/${file}`));
    return docs;
  };
  const all = () => [...parsed().values()].flat();
  const find = (kind: string, name?: string) => all().find((doc) => doc.kind === kind && (name === undefined || doc.metadata?.name === name));

  it("parses, and every object has a kind and a name but no namespace", () => {
    expect(files).toEqual(expect.arrayContaining(["configmap.yaml", "deployment.yaml", "ingress.yaml", "secret.example.yaml", "service.yaml"]));
    for (const [file, list] of parsed()) {
      expect(list.length, file).toBeGreaterThan(0);
      for (const doc of list) {
        expect(doc.apiVersion, file).toBeTruthy();
        expect(doc.kind, file).toBeTruthy();
        if (doc.kind !== "Kustomization") expect(doc.metadata?.name, file).toBeTruthy();
        expect(doc.metadata?.namespace, `${file} must stay namespace-free`).toBeUndefined();
      }
    }
  });

  it("runs 3 nodes with readiness on /readyz, liveness on /healthz, a preStop pause and a locked-down container", () => {
    const deployment = find("Deployment");
    expect(deployment.spec.replicas).toBe(3);
    const pod = deployment.spec.template.spec;
    expect(pod.terminationGracePeriodSeconds).toBe(30);
    expect(pod.securityContext.runAsNonRoot).toBe(true);
    const container = pod.containers[0];
    expect(container.readinessProbe.httpGet.path).toBe("/readyz");
    expect(container.livenessProbe.httpGet.path).toBe("/healthz");
    expect(container.lifecycle.preStop.exec.command.join(" ")).toMatch(/sleep \d+/);
    expect(container.securityContext.readOnlyRootFilesystem).toBe(true);
    expect(container.securityContext.allowPrivilegeEscalation).toBe(false);
    expect(container.resources.requests).toMatchObject({ cpu: expect.anything(), memory: expect.anything() });
    expect(container.resources.limits).toMatchObject({ memory: expect.anything() });
    expect(deployment.spec.selector.matchLabels).toEqual(deployment.spec.template.metadata.labels);
    // The probes name a port the container declares.
    expect(container.ports.map((port: any) => port.name)).toContain(container.readinessProbe.httpGet.port);
  });

  it("wires ConfigMap, Secret, Service and Ingress to the Deployment", () => {
    const deployment = find("Deployment");
    const container = deployment.spec.template.spec.containers[0];
    const configMap = find("ConfigMap");
    const secret = find("Secret");
    expect(container.envFrom).toEqual(expect.arrayContaining([
      { configMapRef: { name: configMap.metadata.name } },
      { secretRef: { name: secret.metadata.name } },
    ]));
    const schema = read("services/chat/src/config.ts");
    for (const variable of [...Object.keys(configMap.data), ...Object.keys(secret.stringData)]) {
      expect(schema, `${variable} is not read by config.ts`).toMatch(new RegExp(`\\b${variable}:`));
    }
    // The example secret's placeholder must not be usable: a node refuses a SESSION_SECRET under 32 characters.
    expect(secret.stringData.SESSION_SECRET.length).toBeLessThan(32);
    expect(secret.stringData.REDIS_URL).toMatch(/^rediss?:\/\//);

    const service = find("Service", "sala");
    expect(service.spec.selector).toEqual(deployment.spec.template.metadata.labels);
    expect(container.ports.map((port: any) => port.name)).toContain(service.spec.ports[0].targetPort);

    const ingress = find("Ingress");
    expect(ingress.metadata.annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"]).toBe("75");
    expect(ingress.metadata.annotations["nginx.ingress.kubernetes.io/proxy-send-timeout"]).toBe("75");
    const backend = ingress.spec.rules[0].http.paths[0].backend.service;
    expect(backend.name).toBe(service.metadata.name);
    expect(service.spec.ports.map((port: any) => port.name)).toContain(backend.port.name);
  });

  it("lists every manifest but the example Secret and the ServiceMonitor in kustomization.yaml", () => {
    const kustomization = find("Kustomization");
    const optional = ["kustomization.yaml", "secret.example.yaml", "servicemonitor.yaml"];
    expect([...kustomization.resources].sort()).toEqual(files.filter((file) => !optional.includes(file)));
  });

  it("exposes every pod's metrics port to Prometheus in the cluster: port, settings, annotations, headless Service, ServiceMonitor", () => {
    const deployment = find("Deployment");
    const template = deployment.spec.template;
    const container = template.spec.containers[0];
    const configMap = find("ConfigMap");
    const metricsPort = container.ports.find((port: any) => port.name === "metrics");
    expect(metricsPort).toMatchObject({ containerPort: 9464, protocol: "TCP" });
    // The node listens where the port is declared, on every interface of the pod.
    expect(configMap.data.METRICS_PORT).toBe(String(metricsPort.containerPort));
    expect(configMap.data.METRICS_HOST).toBe("0.0.0.0");
    expect(template.metadata.annotations).toEqual({
      "prometheus.io/scrape": "true",
      "prometheus.io/port": String(metricsPort.containerPort),
      "prometheus.io/path": "/metrics",
    });
    // The public Service and the Ingress never lead to it.
    const service = find("Service", "sala");
    expect(service.spec.ports.map((port: any) => port.targetPort)).not.toContain("metrics");
    expect(service.spec.ports.map((port: any) => port.targetPort)).not.toContain(metricsPort.containerPort);

    const headless = find("Service", "sala-metrics");
    expect(headless.spec.clusterIP).toBe("None");
    expect(headless.spec.selector).toEqual(template.metadata.labels);
    expect(headless.spec.ports).toEqual([{ name: "metrics", port: metricsPort.containerPort, targetPort: "metrics", protocol: "TCP" }]);

    const monitor = find("ServiceMonitor");
    expect(monitor.apiVersion).toBe("monitoring.coreos.com/v1");
    expect(monitor.spec.selector.matchLabels).toEqual(headless.metadata.labels);
    // Selects that Service only, not the public one.
    expect(Object.entries(monitor.spec.selector.matchLabels).every(([label, value]) => service.metadata.labels[label] === value)).toBe(false);
    expect(monitor.spec.endpoints).toEqual([expect.objectContaining({ port: "metrics", path: "/metrics" })]);
  });
});

/**
 * The properties of config.ts's env schema (`const EnvSchema = Type.Object({ … })`), read with the
 * TypeScript parser, each with its default when that is a literal (`{ default: 3000 }`).
 */
function envSchemaSettings(source: string): Map<string, string | undefined> {
  const file = ts.createSourceFile("config.ts", source, ts.ScriptTarget.Latest, true);
  let schema: ts.ObjectLiteralExpression | undefined;
  const visit = (node: ts.Node): void => {
    if (ts.isVariableDeclaration(node) && node.name.getText() === "EnvSchema" && node.initializer && ts.isCallExpression(node.initializer)) {
      const [first] = node.initializer.arguments;
      if (first && ts.isObjectLiteralExpression(first)) schema = first;
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
  if (!schema) throw new Error("config.ts: no `const EnvSchema = Type.Object({ … })` found");
  const literal = (node: ts.Expression): string | undefined => {
    if (ts.isNumericLiteral(node) || ts.isStringLiteral(node)) return node.text.replaceAll("_", "");
    if (node.kind === ts.SyntaxKind.TrueKeyword) return "true";
    if (node.kind === ts.SyntaxKind.FalseKeyword) return "false";
    return undefined;
  };
  const settings = new Map<string, string | undefined>();
  for (const property of schema.properties) {
    if (!ts.isPropertyAssignment(property)) throw new Error(`config.ts: EnvSchema has a member that is not \`NAME: Type…\`: ${property.getText()}`);
    let value: string | undefined;
    if (ts.isCallExpression(property.initializer)) {
      for (const argument of property.initializer.arguments) {
        if (!ts.isObjectLiteralExpression(argument)) continue;
        const found = argument.properties.find((option) => ts.isPropertyAssignment(option) && option.name.getText() === "default");
        if (found && ts.isPropertyAssignment(found)) value = literal(found.initializer);
      }
    }
    settings.set(property.name.getText(), value);
  }
  return settings;
}

/** `NAME=value` and `# NAME=value` lines of an env file: name → values in order. */
function envFileSettings(text: string): { all: Map<string, string[]>; set: Map<string, string> } {
  const all = new Map<string, string[]>();
  const set = new Map<string, string>();
  for (const line of text.split("\n")) {
    const match = /^(# )?([A-Z][A-Z0-9_]*)=(.*)$/.exec(line);
    if (!match) continue;
    all.set(match[2]!, [...(all.get(match[2]!) ?? []), match[3]!]);
    if (!match[1]) set.set(match[2]!, match[3]!);
  }
  return { all, set };
}

describe(".env.example", () => {
  const example = envFileSettings(read(".env.example"));
  const schema = envSchemaSettings(read("services/chat/src/config.ts"));
  const composeVariables = [...new Set([...read("docker-compose.yml").matchAll(/(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)/g)].map((match) => match[1]!))];

  it("lists every setting of config.ts's env schema, with its default", () => {
    expect(schema.size).toBeGreaterThan(50);
    expect(schema.get("PORT")).toBe("3000");
    expect(schema.get("LOG_LEVEL")).toBe("info");
    const missing = [...schema.keys()].filter((name) => !example.all.has(name));
    expect(missing, "settings of config.ts that .env.example does not list").toEqual([]);
    for (const [name, value] of schema) {
      if (value !== undefined) expect(example.all.get(name), `${name}: config.ts's default is ${value}`).toContain(value);
    }
    // The check sees a new setting: the same parse of config.ts with one more property.
    const grown = read("services/chat/src/config.ts").replace("const EnvSchema = Type.Object({", "const EnvSchema = Type.Object({\n  BRAND_NEW_SETTING: Type.Integer({ default: 7 }),");
    expect([...envSchemaSettings(grown).keys()].filter((name) => !example.all.has(name))).toEqual(["BRAND_NEW_SETTING"]);
  });

  it("lists every setting docker-compose.yml reads, and nothing that nothing reads", () => {
    expect(composeVariables).toEqual(expect.arrayContaining(["SESSION_SECRET", "SALA_ALLOWED_ORIGINS", "SALA_GRAFANA_PORT"]));
    expect(composeVariables.filter((name) => !example.all.has(name)), "settings of docker-compose.yml that .env.example does not list").toEqual([]);
    const known = new Set([...schema.keys(), ...composeVariables]);
    expect([...example.all.keys()].filter((name) => !known.has(name)), "settings in .env.example that nothing reads").toEqual([]);
  });

  it("sets nothing but an empty SESSION_SECRET: a copy changes no default and holds no secret", () => {
    expect([...example.set]).toEqual([["SESSION_SECRET", ""]]);
  });
});

describe("infra/Dockerfile", () => {
  const dockerfile = read("infra/Dockerfile");
  const ignore = read(".dockerignore");

  // What the runtime stage holds, its CMD, ENV and HEALTHCHECK are run by docker-image.int.test.ts.
  it("builds every stage on the current Node.js LTS line (24) and runs the node as `node`, listening on all interfaces at the PORT it exposes", () => {
    const parsed = parseDockerfile(dockerfile);
    expect(parsed.args.NODE_IMAGE).toBe("node:24-bookworm-slim");
    expect(parsed.stages.map((stage) => stage.image)).toEqual(parsed.stages.map(() => "node:24-bookworm-slim"));
    const runtime = parsed.final;
    const instruction = (keyword: string) => runtime.instructions.filter((found) => found.keyword === keyword).map((found) => found.args);
    expect(instruction("USER")).toEqual(["node"]);
    expect(runtime.env.HOST).toBe("0.0.0.0");
    expect(instruction("EXPOSE")).toEqual([runtime.env.PORT]);
    expect(runtime.healthcheck?.join(" ")).toContain("/healthz");
    // Development machines keep Node 20 (its fetch, its ESM loader): the image's line is newer, not required.
    expect(JSON.parse(read("package.json")).engines.node).toBe(">=20.10");
  });

  it("copies only files that exist and that .dockerignore lets in", () => {
    const sources = [...dockerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gm)].flatMap((match) => match[1]!.split(/\s+/));
    expect(sources.length).toBeGreaterThan(5);
    const ignored = ignore.split("\n").map((line) => line.trim()).filter((line) => line && !line.startsWith("#"));
    for (const source of sources) {
      expect(existsSync(at(source)), `${source} is copied but does not exist`).toBe(true);
      const top = source.split("/")[0]!;
      expect(ignored, `${source} is excluded by .dockerignore`).not.toContain(top);
      expect(ignored, `${source} is excluded by .dockerignore`).not.toContain(source);
    }
    for (const pattern of ["**/node_modules", "**/dist", "**/*.tsbuildinfo", ".git"]) expect(ignored).toContain(pattern);
  });
});
