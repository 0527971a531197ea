import { describe, expect, it } from "vitest";
import {
  CHAOS_NEMESES,
  describeError,
  integerOption,
  parseBenchArgs,
  parseChaosArgs,
  parseInjectArgs,
  parseUserArgs,
  positiveOption,
  UsageError,
} from "./cli";

/** The UsageError's message, failing the test if `fn` does not throw one. */
function usageError(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    return (err as Error).message;
  }
  throw new Error("expected a UsageError");
}

describe("number options", () => {
  it("takes whole numbers in range and refuses everything else by name", () => {
    expect(integerOption("--runs", "5", 1, 10)).toBe(5);
    expect(integerOption("--runs", " 10 ", 1, 10)).toBe(10);
    for (const raw of ["abc", "0", "11", "1.5", "", "0x5", "1e1", "-1"]) {
      expect(usageError(() => integerOption("--runs", raw, 1, 10))).toBe(
        `--runs must be a whole number from 1 to 10 (got "${raw}")`,
      );
    }
  });

  it("takes positive numbers up to a bound, fractions included", () => {
    expect(positiveOption("--seconds", "0.5", 60)).toBe(0.5);
    expect(positiveOption("--seconds", "60", 60)).toBe(60);
    for (const raw of ["abc", "0", "-3", "61", "", "Infinity"]) {
      expect(usageError(() => positiveOption("--seconds", raw, 60))).toMatch(
        /^--seconds must be a number above 0 and at most 60/,
      );
    }
  });
});

describe("parse errors of node:util become one short line", () => {
  it("names an unknown option, a missing value, a stray argument and a value given to a flag", () => {
    expect(usageError(() => parseChaosArgs(["--bogus"]))).toBe("unknown option --bogus");
    expect(usageError(() => parseChaosArgs(["--runs"]))).toBe("--runs needs a value");
    expect(usageError(() => parseChaosArgs(["extra"]))).toBe('unexpected argument "extra"');
    expect(usageError(() => parseChaosArgs(["--json=yes"]))).toBe("--json takes no value");
    expect(usageError(() => parseInjectArgs(["stuck-lock", "--ttl-ms", "-5"]))).toBe(
      '--ttl-ms needs a value (for one starting with "-": --ttl-ms=…)',
    );
  });
});

describe("npm run user", () => {
  it("parses each command with its defaults", () => {
    expect(parseUserArgs(["list"])).toEqual({ command: "list" });
    expect(parseUserArgs(["create", "alice", "--role", "operator"])).toEqual({
      command: "create",
      name: "alice",
      role: "operator",
      passwordStdin: false,
      reason: "command line",
    });
    expect(parseUserArgs(["role", "alice", "admin", "--reason", " on call "])).toEqual({
      command: "role",
      name: "alice",
      role: "admin",
      reason: "on call",
    });
    expect(parseUserArgs(["password", "bob", "--password-stdin"])).toMatchObject({ passwordStdin: true });
    expect(parseUserArgs(["disable", "alice"])).toMatchObject({ command: "disable", name: "alice" });
    expect(parseUserArgs(["--help"])).toEqual({ command: "help" });
  });

  it("refuses what it would otherwise ignore or guess", () => {
    expect(usageError(() => parseUserArgs([]))).toBe("missing command");
    expect(usageError(() => parseUserArgs(["frob"]))).toBe('unknown command "frob"');
    expect(usageError(() => parseUserArgs(["create"]))).toBe("create: missing <name>");
    expect(usageError(() => parseUserArgs(["create", "alice"]))).toBe("create: missing --role");
    expect(usageError(() => parseUserArgs(["create", "alice", "--role", "king"]))).toBe(
      'role must be one of viewer, operator, admin (got "king")',
    );
    expect(usageError(() => parseUserArgs(["create", "alice", "bob", "--role", "viewer"]))).toBe(
      'create: unexpected argument "bob"',
    );
    expect(usageError(() => parseUserArgs(["role", "alice"]))).toBe("role: missing <role>");
    expect(usageError(() => parseUserArgs(["role", "alice", "admin", "extra"]))).toBe('role: unexpected argument "extra"');
    expect(usageError(() => parseUserArgs(["role", "alice", "admin", "--role", "viewer"]))).toBe("role takes no --role");
    expect(usageError(() => parseUserArgs(["list", "--password-stdin"]))).toBe("list takes no --password-stdin");
  });
});

describe("npm run inject", () => {
  it("parses each fault with its defaults", () => {
    expect(parseInjectArgs(["stuck-prepared"])).toEqual({ kind: "stuck-prepared", label: "drill" });
    expect(parseInjectArgs(["stuck-decided", "--label", "x"])).toEqual({ kind: "stuck-decided", label: "x" });
    expect(parseInjectArgs(["stuck-lock"])).toEqual({ kind: "stuck-lock", key: undefined, owner: undefined, ttlMs: 600_000 });
    expect(parseInjectArgs(["stuck-lock", "--key", "k", "--ttl-ms", "5000"])).toMatchObject({ key: "k", ttlMs: 5000 });
    expect(parseInjectArgs(["shard-down"])).toEqual({ kind: "shard-down", shard: undefined, seconds: 20 });
    expect(parseInjectArgs(["shard-down", "--shard", "shard-b", "--seconds", "2.5"])).toEqual({
      kind: "shard-down",
      shard: "shard-b",
      seconds: 2.5,
    });
    expect(parseInjectArgs(["-h"])).toEqual({ kind: "help" });
  });

  it("refuses bad numbers, unknown faults, strays and options of another fault", () => {
    expect(usageError(() => parseInjectArgs([]))).toMatch(/^missing what to inject/);
    expect(usageError(() => parseInjectArgs(["frob"]))).toMatch(/^unknown fault "frob"/);
    expect(usageError(() => parseInjectArgs(["shard-down", "--seconds", "abc"]))).toMatch(/^--seconds must be a number above 0/);
    expect(usageError(() => parseInjectArgs(["shard-down", "--seconds", "0"]))).toMatch(/^--seconds must be/);
    expect(usageError(() => parseInjectArgs(["shard-down", "--seconds", "7200"]))).toMatch(/at most 3600/);
    expect(usageError(() => parseInjectArgs(["stuck-lock", "--ttl-ms", "abc"]))).toMatch(/^--ttl-ms must be a whole number/);
    expect(usageError(() => parseInjectArgs(["stuck-prepared", "extra"]))).toBe('stuck-prepared: unexpected argument "extra"');
    expect(usageError(() => parseInjectArgs(["stuck-prepared", "--seconds", "5"]))).toBe("stuck-prepared takes no --seconds");
  });
});

describe("npm run chaos and npm run bench", () => {
  it("chaos: defaults, bounds", () => {
    expect(parseChaosArgs([])).toEqual({
      help: false,
      nemeses: [...CHAOS_NEMESES],
      runs: 1,
      engines: 3,
      concurrency: 4,
      windowS: 8,
      deployments: 2,
      seed: null,
      json: false,
    });
    expect(parseChaosArgs(["--runs", "50", "--json"])).toMatchObject({ runs: 50, json: true });
    expect(usageError(() => parseChaosArgs(["--runs", "0"]))).toBe('--runs must be a whole number from 1 to 10000 (got "0")');
    expect(usageError(() => parseChaosArgs(["--concurrency", "abc"]))).toMatch(/^--concurrency must be a whole number/);
    expect(usageError(() => parseChaosArgs(["--engines", "0"]))).toMatch(/^--engines must be a whole number from 1 to 16/);
    expect(parseChaosArgs(["--seed", "42", "--window", "2.5"])).toMatchObject({ seed: 42, windowS: 2.5 });
  });

  it("chaos: nemeses by name, all, or a comma-separated list; unknown names refused", () => {
    expect(parseChaosArgs(["--nemesis", "all"])).toMatchObject({ nemeses: [...CHAOS_NEMESES] });
    expect(parseChaosArgs(["--nemesis", "kill"])).toMatchObject({ nemeses: ["kill"] });
    expect(parseChaosArgs(["--nemesis", "pause, lost-reply,pause"])).toMatchObject({ nemeses: ["pause", "lost-reply"] });
    expect(usageError(() => parseChaosArgs(["--nemesis", "kill,flood"]))).toBe(
      `unknown nemesis "flood" (all, ${CHAOS_NEMESES.join(", ")})`,
    );
    expect(usageError(() => parseChaosArgs(["--nemesis", "all,kill"]))).toBe('--nemesis "all" stands alone');
    expect(usageError(() => parseChaosArgs(["--nemesis", ","]))).toBe("--nemesis needs at least one name");
  });

  it("bench: every suite by default, known suites only, seconds bounded", () => {
    const known = ["engine", "ring"] as const;
    expect(parseBenchArgs([], known)).toEqual({ help: false, suites: ["engine", "ring"], json: false, seconds: 10 });
    expect(parseBenchArgs(["ring", "--seconds", "3", "--json"], known)).toEqual({
      help: false,
      suites: ["ring"],
      json: true,
      seconds: 3,
    });
    expect(usageError(() => parseBenchArgs(["frob"], known))).toBe('unknown suite "frob" (engine, ring)');
    expect(usageError(() => parseBenchArgs(["ring", "--seconds", "abc"], known))).toMatch(/^--seconds must be a number above 0/);
    expect(usageError(() => parseBenchArgs(["ring", "--runs", "0"], known))).toBe("unknown option --runs");
  });
});

describe("describeError", () => {
  it("keeps the cause of a Prisma error, without its invocation and code frame", () => {
    const err = Object.assign(
      new Error(
        "\nInvalid `db.user.findMany()` invocation in\n/x/users.ts:96:30\n\n→ 96 const rows = …\nCan't reach database server at 127.0.0.1:1",
      ),
      { name: "PrismaClientKnownRequestError", code: "P1001" },
    );
    expect(describeError(err)).toBe(
      "cannot reach the database or Redis (Can't reach database server at 127.0.0.1:1): is the demo running, and are the URLs right?",
    );
    expect(describeError(Object.assign(new Error("…\nThe table `users` does not exist"), { code: "P2021" }))).toMatch(
      /not migrated \(npm run db:migrate\)/,
    );
  });

  it("explains a refused connection, also when Node reports it as an AggregateError with no message", () => {
    const refused = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), { code: "ECONNREFUSED" });
    expect(describeError(new AggregateError([refused], ""))).toMatch(
      /^cannot reach the database or Redis \(connect ECONNREFUSED/,
    );
  });

  it("joins a several-line message into one line", () => {
    expect(describeError(new Error("first\n  second\n"))).toBe("first second");
    expect(describeError("plain")).toBe("plain");
  });
});
