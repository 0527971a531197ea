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
import { recordAudit } from "../server/audit/audit";
import { changeRole, createUser, disableUser, enableUser, getUser, listUsers, resetPassword } from "../server/auth/users";
import { loadConfig } from "../server/config";
import { connectDatabase, type Database } from "../server/db/prisma";
import { findEndpoints, noEndpointsError } from "../server/infra/runtimeFile";
import { parseUserArgs, runCli, UsageError, USER_USAGE, type UserCommand } from "./cli";

const CLI_ACTOR = { id: null, name: "cli" };

runCli("user", async () => {
  // Arguments are checked before connecting, so a typo fails fast and without side effects.
  const command = parseUserArgs(process.argv.slice(2));
  if (command.command === "help") return console.log(USER_USAGE);
  const password = "passwordStdin" in command && command.passwordStdin ? await readPasswordFromStdin() : undefined;
  const config = loadConfig();
  const { databaseUrl } = await findEndpoints(config);
  if (!databaseUrl) throw noEndpointsError(config, ["DATABASE_URL"]);
  const db = connectDatabase(databaseUrl, { poolSize: 2, applicationName: "cohort-user-cli" });
  try {
    await execute(db, command, password);
  } finally {
    await db.close();
  }
});

async function execute(
  { prisma }: Database,
  command: Exclude<UserCommand, { command: "help" }>,
  password?: string,
): Promise<void> {
  switch (command.command) {
    case "list": {
      const users = await listUsers(prisma);
      if (users.length === 0) return console.log("no users yet");
      const width = Math.max(4, ...users.map((u) => u.name.length));
      console.log(`${"NAME".padEnd(width)}  ROLE      STATUS    LAST SIGN-IN`);
      for (const u of users) {
        console.log(
          `${u.name.padEnd(width)}  ${u.role.padEnd(8)}  ${(u.disabled ? "disabled" : "active").padEnd(8)}  ${u.lastLoginAt ?? "never"}`,
        );
      }
      return;
    }
    case "create": {
      const { user, generatedPassword } = await createUser(prisma, {
        name: command.name,
        role: command.role,
        password,
        createdBy: CLI_ACTOR.name,
      });
      await audit(prisma, "user.create", user.name, command.reason, null, { role: user.role, disabled: false });
      console.log(`created ${user.name} (${user.role})`);
      if (generatedPassword) console.log(`password: ${generatedPassword}\n(shown once: it is stored only as a hash)`);
      return;
    }
    case "disable":
    case "enable": {
      const name = command.name;
      const before = await getUser(prisma, { name });
      const after = command.command === "disable" ? await disableUser(prisma, { name }) : await enableUser(prisma, { name });
      if (before.disabled === after.disabled) return console.log(`${after.name} is already ${command.command}d`);
      await audit(
        prisma,
        `user.${command.command}`,
        after.name,
        command.reason,
        { disabled: before.disabled },
        { disabled: after.disabled },
      );
      console.log(`${after.name} ${command.command}d${command.command === "disable" ? "; their sessions have ended" : ""}`);
      return;
    }
    case "role": {
      const before = await getUser(prisma, { name: command.name });
      const after = await changeRole(prisma, { name: command.name }, command.role);
      if (before.role === after.role) return console.log(`${after.name} is already ${after.role}`);
      await audit(prisma, "user.role", after.name, command.reason, { role: before.role }, { role: after.role });
      console.log(`${after.name}: ${before.role} → ${after.role}`);
      return;
    }
    case "password": {
      const generated = await resetPassword(prisma, { name: command.name }, password);
      await audit(prisma, "user.password", command.name.trim().toLowerCase(), command.reason, null, null);
      console.log(`password of ${command.name} changed; their sessions have ended`);
      if (generated) console.log(`password: ${generated}\n(shown once: it is stored only as a hash)`);
      return;
    }
  }
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
