// npm run user -- <command>: console users from the command line (DESIGN.md §7), the way in
// when nobody can sign in. Uses DATABASE_URL when set, otherwise the running demo's database
// (<COHORT_DATA_DIR>/runtime.json). Every change is audited as user "cli".
//
//   create <name> --role viewer|operator|admin [--password-stdin]   prints a generated password
//   list
//   disable <name> | enable <name>
//   role <name> <viewer|operator|admin>
//   password <name> [--password-stdin]                                  prints a generated password
//   common: --reason "<why>" (default "command line")
import { parseArgs } from "node:util";
import { Prisma } from "@prisma/client";
import { recordAudit } from "../server/audit/audit";
import { isRole, ROLES, type Role } from "../server/auth/roles";
import { changeRole, createUser, disableUser, enableUser, getUser, listUsers, resetPassword } from "../server/auth/users";
import { loadConfig } from "../server/config";
import { connectDatabase, type Database } from "../server/db/prisma";
import { errorMessage, isCohortError } from "../server/errors";
import { readRuntimeFile } from "../server/infra/runtimeFile";

const USAGE = `usage: npm run user -- <command>
  create <name> --role ${ROLES.join("|")} [--password-stdin]
  list
  disable <name>
  enable <name>
  role <name> <${ROLES.join("|")}>
  password <name> [--password-stdin]
options: --reason "<why>"  recorded in the audit trail (default "command line")`;

const CLI_ACTOR = { id: null, name: "cli" };

class UsageError extends Error {}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
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
  if (values.help || !command) {
    console.log(USAGE);
    return command || values.help ? 0 : 2;
  }
  const reason = values.reason?.trim() || "command line";
  const arg = (i: number, what: string): string => {
    const value = rest[i];
    if (!value) throw new UsageError(`${command}: missing ${what}`);
    return value;
  };
  const role = (value: string | undefined): Role => {
    if (!isRole(value)) throw new UsageError(`role must be one of ${ROLES.join(", ")}${value ? ` (got "${value}")` : ""}`);
    return value;
  };

  // Arguments are checked before connecting, so a typo fails fast and without side effects.
  const run = await (async (): Promise<(db: Database) => Promise<void>> => {
    switch (command) {
      case "list":
        return async ({ prisma }) => {
          const users = await listUsers(prisma);
          if (users.length === 0) return console.log("no users yet");
          const width = Math.max(4, ...users.map((u) => u.name.length));
          console.log(`${"NAME".padEnd(width)}  ROLE      STATUS    LAST SIGN-IN`);
          for (const u of users) {
            console.log(
              `${u.name.padEnd(width)}  ${u.role.padEnd(8)}  ${(u.disabled ? "disabled" : "active").padEnd(8)}  ${u.lastLoginAt ?? "never"}`,
            );
          }
        };
      case "create": {
        const name = arg(0, "<name>");
        const newRole = role(values.role);
        const password = values["password-stdin"] ? await readPasswordFromStdin() : undefined;
        return async ({ prisma }) => {
          const { user, generatedPassword } = await createUser(prisma, {
            name,
            role: newRole,
            password,
            createdBy: CLI_ACTOR.name,
          });
          await audit(prisma, "user.create", user.name, reason, null, { role: user.role, disabled: false });
          console.log(`created ${user.name} (${user.role})`);
          if (generatedPassword) console.log(`password: ${generatedPassword}\n(shown once: it is stored only as a hash)`);
        };
      }
      case "disable":
      case "enable": {
        const name = arg(0, "<name>");
        return async ({ prisma }) => {
          const before = await getUser(prisma, { name });
          const after = command === "disable" ? await disableUser(prisma, { name }) : await enableUser(prisma, { name });
          if (before.disabled === after.disabled) return console.log(`${after.name} is already ${command}d`);
          await audit(prisma, `user.${command}`, after.name, reason, { disabled: before.disabled }, { disabled: after.disabled });
          console.log(`${after.name} ${command}d${command === "disable" ? "; their sessions have ended" : ""}`);
        };
      }
      case "role": {
        const name = arg(0, "<name>");
        const newRole = role(arg(1, "<role>"));
        return async ({ prisma }) => {
          const before = await getUser(prisma, { name });
          const after = await changeRole(prisma, { name }, newRole);
          if (before.role === after.role) return console.log(`${after.name} is already ${after.role}`);
          await audit(prisma, "user.role", after.name, reason, { role: before.role }, { role: after.role });
          console.log(`${after.name}: ${before.role} → ${after.role}`);
        };
      }
      case "password": {
        const name = arg(0, "<name>");
        const password = values["password-stdin"] ? await readPasswordFromStdin() : undefined;
        return async ({ prisma }) => {
          const generated = await resetPassword(prisma, { name }, password);
          await audit(prisma, "user.password", name.trim().toLowerCase(), reason, null, null);
          console.log(`password of ${name} changed; their sessions have ended`);
          if (generated) console.log(`password: ${generated}\n(shown once: it is stored only as a hash)`);
        };
      }
      default:
        throw new UsageError(`unknown command "${command}"`);
    }
  })();

  const db = connectDatabase(await databaseUrl(), { poolSize: 2, applicationName: "cohort-user-cli" });
  try {
    await run(db);
  } finally {
    await db.close();
  }
  return 0;
}

function audit(
  prisma: Database["prisma"],
  action: string,
  name: string,
  reason: string,
  before: unknown,
  after: unknown,
): Promise<unknown> {
  return recordAudit(prisma, {
    user: CLI_ACTOR,
    action,
    targetType: "user",
    targetId: name,
    reason,
    before,
    after,
    outcome: "ok",
  });
}

async function databaseUrl(): Promise<string> {
  const config = loadConfig();
  if (config.DATABASE_URL) return config.DATABASE_URL;
  const running = await readRuntimeFile(config.COHORT_DATA_DIR);
  if (running) return running.databaseUrl;
  throw new Error(
    `no database: start the demo first (npm start, which writes ${config.COHORT_DATA_DIR}/runtime.json) or set DATABASE_URL to the coordinator database`,
  );
}

/** The whole of stdin minus one trailing newline (what `echo` or a here-string adds). */
async function readPasswordFromStdin(): Promise<string> {
  if (process.stdin.isTTY)
    throw new UsageError('--password-stdin expects the password on a pipe, e.g. printf %s "$PW" | npm run user -- …');
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  const password = Buffer.concat(chunks)
    .toString("utf8")
    .replace(/\r?\n$/, "");
  if (!password) throw new UsageError("--password-stdin: stdin was empty");
  return password;
}

function explain(err: unknown): string {
  if (err instanceof Prisma.PrismaClientKnownRequestError && err.code === "P2021") {
    return "the users table does not exist: run `npm run db:migrate` against this database first";
  }
  const text = errorMessage(err);
  if (/ECONNREFUSED|ENOTFOUND|getaddrinfo/.test(text)) return `cannot reach the database (${text}): is the demo running?`;
  return text;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (
      err instanceof UsageError ||
      (err instanceof TypeError && "code" in err && String(err.code).startsWith("ERR_PARSE_ARGS"))
    ) {
      console.error(`user: ${err.message}\n\n${USAGE}`);
      process.exit(2);
    }
    console.error(`user: ${isCohortError(err) ? err.message : explain(err)}`);
    process.exit(1);
  },
);
