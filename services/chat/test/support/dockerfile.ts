/**
 * A Dockerfile read the way the builder reads it, for the few instructions Sala's image uses:
 * stages (FROM … AS name), ARG defaults, WORKDIR, ENV, COPY (with --from), RUN, CMD and
 * HEALTHCHECK (exec form). Line continuations are joined and comments dropped. Anything the test
 * that assembles the image cannot replay is left for it to refuse, so a change to the Dockerfile
 * cannot slip past it.
 */

export interface Instruction {
  keyword: string;
  /** The rest of the instruction, continuations joined. */
  args: string;
  /** 1-based line where the instruction starts. */
  line: number;
}

export interface CopyInstruction {
  /** The stage copied from, or null for the build context. */
  from: string | null;
  sources: string[];
  destination: string;
  line: number;
}

export interface Stage {
  name: string;
  image: string;
  /** The working directory at the end of the stage (absolute). */
  workdir: string;
  instructions: Instruction[];
  env: Record<string, string>;
  copies: CopyInstruction[];
  runs: Instruction[];
  /** Exec form of CMD, or null. */
  cmd: string[] | null;
  /** Exec form of HEALTHCHECK's CMD, or null. */
  healthcheck: string[] | null;
}

export interface Dockerfile {
  args: Record<string, string>;
  stages: Stage[];
  stage(name: string): Stage;
  /** The last stage: what `docker build` without --target produces. */
  final: Stage;
}

export function parseDockerfile(text: string): Dockerfile {
  const instructions = joinLines(text);
  const args: Record<string, string> = {};
  const stages: Stage[] = [];
  for (const instruction of instructions) {
    const { keyword, args: rest } = instruction;
    if (keyword === "ARG" && stages.length === 0) {
      const [name, value = ""] = splitOnce(rest, "=");
      args[name] = value;
      continue;
    }
    if (keyword === "FROM") {
      const match = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(rest);
      if (!match) throw new Error(`line ${instruction.line}: cannot read FROM ${rest}`);
      const image = match[1]!.replace(/\$\{(\w+)\}|\$(\w+)/g, (_, braced?: string, bare?: string) => args[(braced ?? bare)!] ?? "");
      stages.push({ name: match[2] ?? String(stages.length), image, workdir: "/", instructions: [], env: {}, copies: [], runs: [], cmd: null, healthcheck: null });
      continue;
    }
    const stage = stages.at(-1);
    if (!stage) throw new Error(`line ${instruction.line}: ${keyword} before any FROM`);
    stage.instructions.push(instruction);
    switch (keyword) {
      case "WORKDIR":
        stage.workdir = rest.startsWith("/") ? rest : `${stage.workdir.replace(/\/$/, "")}/${rest}`;
        break;
      case "ENV":
        for (const pair of words(rest)) {
          const [name, value = ""] = splitOnce(pair, "=");
          stage.env[name] = value;
        }
        break;
      case "COPY": {
        const parts = words(rest);
        const flags = parts.filter((part) => part.startsWith("--"));
        const paths = parts.filter((part) => !part.startsWith("--"));
        const from = flags.find((flag) => flag.startsWith("--from="))?.slice("--from=".length) ?? null;
        if (paths.length < 2) throw new Error(`line ${instruction.line}: COPY needs a source and a destination`);
        stage.copies.push({ from, sources: paths.slice(0, -1), destination: paths.at(-1)!, line: instruction.line });
        break;
      }
      case "RUN":
        stage.runs.push(instruction);
        break;
      case "CMD":
        stage.cmd = execForm(rest, instruction.line);
        break;
      case "HEALTHCHECK": {
        const cmd = /\bCMD\s+(\[.*\])\s*$/.exec(rest);
        stage.healthcheck = cmd ? execForm(cmd[1]!, instruction.line) : null;
        break;
      }
    }
  }
  return {
    args,
    stages,
    stage(name) {
      const found = stages.find((stage) => stage.name === name);
      if (!found) throw new Error(`the Dockerfile has no stage named ${name}`);
      return found;
    },
    get final() {
      return stages.at(-1)!;
    },
  };
}

/** Instructions with their continuation lines joined and comment lines dropped. */
function joinLines(text: string): Instruction[] {
  const instructions: Instruction[] = [];
  let pending: { text: string; line: number } | null = null;
  text.split("\n").forEach((raw, index) => {
    const line = raw.trim();
    if (line.startsWith("#") || (line === "" && pending === null)) return;
    const continued = line.endsWith("\\");
    const body = continued ? line.slice(0, -1).trim() : line;
    pending = pending ? { text: `${pending.text} ${body}`.trim(), line: pending.line } : { text: body, line: index + 1 };
    if (!continued) {
      const [keyword, rest = ""] = splitOnce(pending.text, " ");
      instructions.push({ keyword: keyword.toUpperCase(), args: rest.trim(), line: pending.line });
      pending = null;
    }
  });
  return instructions;
}

function execForm(text: string, line: number): string[] {
  const parsed: unknown = JSON.parse(text);
  if (!Array.isArray(parsed) || !parsed.every((part) => typeof part === "string")) throw new Error(`line ${line}: not an exec-form command: ${text}`);
  return parsed;
}

const words = (text: string) => text.split(/\s+/).filter(Boolean);

function splitOnce(text: string, separator: string): [string, string?] {
  const at = text.indexOf(separator);
  return at === -1 ? [text] : [text.slice(0, at), text.slice(at + separator.length)];
}
