// What the command-line tools (npm run user | inject | chaos | bench | db:migrate) share:
// every mistake in the arguments becomes one line and exit code 2, every failure one line
// and exit code 1, never a stack trace. The parsers are pure (scripts/cli.test.ts).
import { parseArgs, type ParseArgsConfig } from "node:util";
import { isRole, ROLES, type Role } from "../server/auth/roles";

/** Bad arguments: reported with a pointer to --help, exit code 2. */
export class UsageError extends Error {}

/** node:util's parseArgs, with its errors (unknown option, missing value, stray argument) as short UsageErrors. */
export function parseCommandLine<T extends ParseArgsConfig>(config: T): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs(config);
  } catch (err) {
    throw usageErrorOf(err);
  }
}

function usageErrorOf(err: unknown): unknown {
  const code = err instanceof Error && "code" in err ? String(err.code) : "";
  if (!(err instanceof Error) || !code.startsWith("ERR_PARSE_ARGS")) return err;
  const quoted = /'([^']+)'/.exec(err.message)?.[1]?.replace(/ <value>$/, "") ?? "";
  switch (code) {
    case "ERR_PARSE_ARGS_UNKNOWN_OPTION":
      return new UsageError(`unknown option ${quoted}`);
    case "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL":
      return new UsageError(`unexpected argument "${quoted}"`);
    case "ERR_PARSE_ARGS_INVALID_OPTION_VALUE":
      // A missing value, a value that looks like an option (--ttl-ms -5), or a value given to a flag.
      if (/does not take an argument/.test(err.message)) return new UsageError(`${quoted} takes no value`);
      if (/ambiguous/.test(err.message))
        return new UsageError(`${quoted} needs a value (for one starting with "-": ${quoted}=…)`);
      return new UsageError(`${quoted} needs a value`);
    default:
      return new UsageError(err.message.split("\n")[0]!);
  }
}

/** A whole number in [min, max] from an option's text: "abc", "1.5", "" and "0x10" are refused. */
export function integerOption(name: string, raw: string | undefined, min: number, max: number): number {
  const value = raw !== undefined && /^\s*[+-]?\d+\s*$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new UsageError(`${name} must be a whole number from ${min} to ${max}${raw === undefined ? "" : ` (got "${raw}")`}`);
  }
  return value;
}

/** A number above 0 and at most max (fractions allowed, as in --seconds 0.5). */
export function positiveOption(name: string, raw: string | undefined, max: number): number {
  const value = raw !== undefined && raw.trim() !== "" ? Number(raw) : NaN;
  if (!Number.isFinite(value) || value <= 0 || value > max) {
    throw new UsageError(`${name} must be a number above 0 and at most ${max}${raw === undefined ? "" : ` (got "${raw}")`}`);
  }
  return value;
}

/**
 * What a command does not use is refused rather than silently ignored: options meant for
 * another command, and arguments beyond the `max` it takes.
 */
function takesOnly(command: string, given: { values: object; rest: string[] }, max: number, ...options: string[]): void {
  for (const [option, value] of Object.entries(given.values)) {
    if (option === "help" || options.includes(option) || value === undefined || value === false) continue;
    throw new UsageError(`${command} takes no --${option}`);
  }
  if (given.rest.length > max) throw new UsageError(`${command}: unexpected argument "${given.rest[max]}"`);
}

// ---------------------------------------------------------------------------------------------
// npm run user -- …

export const USER_USAGE = `usage: npm run user -- <command>
  create <name> --role ${ROLES.join("|")} [--password-stdin]
  list
  disable <name>
  enable <name>
  role <name> <${ROLES.join("|")}>
  password <name> [--password-stdin]
options: --reason "<why>"  recorded in the audit trail (default "command line")`;

export type UserCommand =
  | { command: "help" }
  | { command: "list" }
  | { command: "create"; name: string; role: Role; passwordStdin: boolean; reason: string }
  | { command: "disable" | "enable"; name: string; reason: string }
  | { command: "role"; name: string; role: Role; reason: string }
  | { command: "password"; name: string; passwordStdin: boolean; reason: string };

export function parseUserArgs(argv: string[]): UserCommand {
  const { values, positionals } = parseCommandLine({
    args: argv,
    allowPositionals: true,
    options: {
      role: { type: "string" },
      "password-stdin": { type: "boolean", default: false },
      reason: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  const [command, ...rest] = positionals;
  if (values.help) return { command: "help" };
  if (!command) throw new UsageError("missing command");
  const reason = values.reason?.trim() || "command line";
  const name = () => {
    if (!rest[0]) throw new UsageError(`${command}: missing <name>`);
    return rest[0];
  };
  const role = (value: string | undefined, what: string): Role => {
    if (!value) throw new UsageError(`${command}: missing ${what}`);
    if (!isRole(value)) throw new UsageError(`role must be one of ${ROLES.join(", ")} (got "${value}")`);
    return value;
  };
  const given = { values, rest };
  switch (command) {
    case "list":
      takesOnly(command, given, 0);
      return { command };
    case "create":
      takesOnly(command, given, 1, "role", "password-stdin", "reason");
      return { command, name: name(), role: role(values.role, "--role"), passwordStdin: values["password-stdin"], reason };
    case "disable":
    case "enable":
      takesOnly(command, given, 1, "reason");
      return { command, name: name(), reason };
    case "role":
      takesOnly(command, given, 2, "reason");
      return { command, name: name(), role: role(rest[1], "<role>"), reason };
    case "password":
      takesOnly(command, given, 1, "password-stdin", "reason");
      return { command, name: name(), passwordStdin: values["password-stdin"], reason };
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
}

// ---------------------------------------------------------------------------------------------
// npm run inject -- …

export const INJECT_USAGE = `usage: npm run inject -- <stuck-prepared|stuck-decided> [--label L]
       npm run inject -- stuck-lock [--key K] [--owner TXID] [--ttl-ms MS]
       npm run inject -- shard-down [--shard S] [--seconds N]
  stuck-prepared  both branches prepared, no decision (force-commit or force-abort)
  stuck-decided   COMMIT logged, phase two never delivered (retry)
  stuck-lock      an exclusive lock whose holder vanished (release it on the Locks page)
  shard-down      phase two cannot reach a shard for N seconds: watch the Queues page`;

/** The lock service's own bounds for a lease. */
const MAX_LOCK_TTL_MS = 24 * 3600 * 1000;
const MAX_OUTAGE_SECONDS = 3600;

export type InjectCommand =
  | { kind: "help" }
  | { kind: "stuck-prepared" | "stuck-decided"; label: string }
  | { kind: "stuck-lock"; key: string | undefined; owner: string | undefined; ttlMs: number }
  | { kind: "shard-down"; shard: string | undefined; seconds: number };

export function parseInjectArgs(argv: string[]): InjectCommand {
  const { values, positionals } = parseCommandLine({
    args: argv,
    allowPositionals: true,
    options: {
      label: { type: "string" },
      key: { type: "string" },
      owner: { type: "string" },
      "ttl-ms": { type: "string" },
      shard: { type: "string" },
      seconds: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) return { kind: "help" };
  const [kind, ...rest] = positionals;
  if (!kind) throw new UsageError("missing what to inject (stuck-prepared, stuck-decided, stuck-lock or shard-down)");
  const given = { values, rest };
  switch (kind) {
    case "stuck-prepared":
    case "stuck-decided":
      takesOnly(kind, given, 0, "label");
      return { kind, label: values.label ?? "drill" };
    case "stuck-lock":
      takesOnly(kind, given, 0, "key", "owner", "ttl-ms");
      return {
        kind,
        key: values.key,
        owner: values.owner,
        ttlMs: integerOption("--ttl-ms", values["ttl-ms"] ?? "600000", 1, MAX_LOCK_TTL_MS),
      };
    case "shard-down":
      takesOnly(kind, given, 0, "shard", "seconds");
      return { kind, shard: values.shard, seconds: positiveOption("--seconds", values.seconds ?? "20", MAX_OUTAGE_SECONDS) };
    default:
      throw new UsageError(`unknown fault "${kind}" (stuck-prepared, stuck-decided, stuck-lock or shard-down)`);
  }
}

// ---------------------------------------------------------------------------------------------
// npm run chaos -- …

/** The chaos campaign's nemeses, in the order a campaign runs them (scripts/chaos/nemeses.ts). */
export const CHAOS_NEMESES = [
  "kill",
  "pause",
  "partition-shard",
  "partition-log",
  "partition-redis",
  "lost-reply",
  "redis-restart",
  "clock-step",
  "operator",
] as const;
export type ChaosNemesis = (typeof CHAOS_NEMESES)[number];

export const CHAOS_USAGE = `usage: npm run chaos -- [--nemesis all|${CHAOS_NEMESES.join(",")}] [--runs N] [--engines N]
                       [--concurrency C] [--window S] [--deployments 1|2] [--seed S] [--json]
  --nemesis   which faults, comma-separated (default all)
  --runs      runs per nemesis, each on fresh databases (default 1)
  --engines   engine processes of the faulted deployment (default 3)
  --window    seconds of faults per run (default 8)
  --deployments  2 (default) adds a second, unfaulted deployment on the same shards and Redis;
              1 leaves it out, to tell a nemesis's findings from cross-deployment ones
  --seed      seed of the nemeses' random choices (default: random, printed)
  --json      one JSON summary on stdout instead of the human lines
Exits 1 when any check is violated.`;

export type ChaosCommand =
  | { help: true }
  | {
      help: false;
      nemeses: ChaosNemesis[];
      runs: number;
      engines: number;
      concurrency: number;
      windowS: number;
      deployments: number;
      seed: number | null;
      json: boolean;
    };

export function parseChaosArgs(argv: string[]): ChaosCommand {
  const { values } = parseCommandLine({
    args: argv,
    options: {
      nemesis: { type: "string", default: "all" },
      runs: { type: "string", default: "1" },
      engines: { type: "string", default: "3" },
      concurrency: { type: "string", default: "4" },
      window: { type: "string", default: "8" },
      deployments: { type: "string", default: "2" },
      seed: { type: "string" },
      json: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) return { help: true };
  return {
    help: false,
    nemeses: nemesisList(values.nemesis),
    runs: integerOption("--runs", values.runs, 1, 10_000),
    engines: integerOption("--engines", values.engines, 1, 16),
    concurrency: integerOption("--concurrency", values.concurrency, 1, 256),
    windowS: positiveOption("--window", values.window, 600),
    deployments: integerOption("--deployments", values.deployments, 1, 2),
    seed: values.seed === undefined ? null : integerOption("--seed", values.seed, 0, 2 ** 32 - 1),
    json: values.json,
  };
}

function nemesisList(raw: string): ChaosNemesis[] {
  const names = raw
    .split(",")
    .map((n) => n.trim())
    .filter(Boolean);
  if (names.length === 0) throw new UsageError("--nemesis needs at least one name");
  if (names.includes("all")) {
    if (names.length > 1) throw new UsageError('--nemesis "all" stands alone');
    return [...CHAOS_NEMESES];
  }
  const unknown = names.filter((n) => !(CHAOS_NEMESES as readonly string[]).includes(n));
  if (unknown.length) {
    throw new UsageError(`unknown nemesis ${unknown.map((n) => `"${n}"`).join(", ")} (all, ${CHAOS_NEMESES.join(", ")})`);
  }
  return [...new Set(names)] as ChaosNemesis[];
}

// ---------------------------------------------------------------------------------------------
// npm run bench -- …

export const benchUsage = (suites: readonly string[]) =>
  `usage: npm run bench -- [${suites.join("|")} …] [--json] [--seconds S]   (default: every suite, 10 s)`;

export type BenchCommand<S extends string> = { help: true } | { help: false; suites: S[]; json: boolean; seconds: number };

export function parseBenchArgs<S extends string>(argv: string[], known: readonly S[]): BenchCommand<S> {
  const { values, positionals } = parseCommandLine({
    args: argv,
    allowPositionals: true,
    options: {
      json: { type: "boolean", default: false },
      seconds: { type: "string", default: "10" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) return { help: true };
  const unknown = positionals.filter((n) => !(known as readonly string[]).includes(n));
  if (unknown.length) throw new UsageError(`unknown suite ${unknown.map((n) => `"${n}"`).join(", ")} (${known.join(", ")})`);
  return {
    help: false,
    suites: positionals.length ? (positionals as S[]) : [...known],
    json: values.json,
    seconds: positiveOption("--seconds", values.seconds, 3600),
  };
}

// ---------------------------------------------------------------------------------------------
// Failures

/**
 * One line for a failure. Prisma prefixes its message with the invocation and a code frame;
 * the cause is its last line. A refused connection gets a hint instead of a bare ECONNREFUSED.
 */
export function describeError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const code = "code" in err ? String(err.code) : "";
  if (code === "P2021") return "a table is missing: this database is not migrated (npm run db:migrate)";
  const inner = err instanceof AggregateError && err.errors[0] instanceof Error ? err.errors[0] : err;
  const lines = inner.message
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean);
  const text = (err.name.startsWith("PrismaClient") ? lines.at(-1) : lines.join(" ")) ?? (code || err.name);
  const innerCode = "code" in inner ? String(inner.code) : code;
  if (code === "P1001" || /^(ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|ETIMEDOUT)$/.test(innerCode)) {
    return `cannot reach the database or Redis (${text}): is the demo running, and are the URLs right?`;
  }
  return text;
}

/**
 * Runs a tool's main and exits: 0 (or what main returns), 2 with one line on a UsageError,
 * 1 with one line on any other failure.
 */
export function runCli(tool: string, main: () => Promise<number | void>): void {
  main().then(
    (code) => process.exit(code ?? 0),
    (err: unknown) => {
      if (err instanceof UsageError) {
        console.error(`${tool}: ${err.message}; see npm run ${tool} -- --help`);
        process.exit(2);
      }
      console.error(`${tool}: ${describeError(err)}`);
      process.exit(1);
    },
  );
}
