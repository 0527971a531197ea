// The demo's console users (DESIGN.md §7: no default credentials; the demo creates its users
// and prints their passwords). On a database without users, admin, operator and viewer are
// created with random passwords, printed once. With COHORT_DEMO_PASSWORD set (end-to-end
// tests), the three get that password instead, and get it back on every start even if a
// test changed them, so repeated runs on a kept database stay predictable.
import type { PrismaClient } from "../db/prisma";
import { recordAudit } from "../audit/audit";
import { hashPassword } from "./passwords";
import { ROLES, type Role } from "./roles";
import { countUsers, createUser } from "./users";

const DEMO_ACTOR = { id: null, name: "demo" };

export interface DemoUsersOptions {
  /** COHORT_DEMO_PASSWORD; undefined means random passwords, created once. */
  password?: string | undefined;
  print: (text: string) => void;
}

export async function ensureDemoUsers(prisma: PrismaClient, opts: DemoUsersOptions): Promise<void> {
  if ((await countUsers(prisma)) === 0) {
    const created: [string, Role, string][] = [];
    for (const role of [...ROLES].reverse()) {
      const { generatedPassword } = await createUser(prisma, {
        name: role,
        role,
        password: opts.password,
        createdBy: DEMO_ACTOR.name,
      });
      await recordAudit(prisma, {
        user: DEMO_ACTOR,
        action: "user.create",
        targetType: "user",
        targetId: role,
        reason: "demo users created on first start",
        before: null,
        after: { role, disabled: false },
        outcome: "ok",
      });
      created.push([role, role, generatedPassword ?? "(COHORT_DEMO_PASSWORD)"]);
    }
    opts.print(box(created));
    return;
  }
  if (opts.password !== undefined) await resetDemoUsers(prisma, opts.password);
}

async function resetDemoUsers(prisma: PrismaClient, password: string): Promise<void> {
  const passwordHash = await hashPassword(password);
  for (const role of ROLES) {
    await prisma.user.upsert({
      where: { name: role },
      create: { name: role, role, passwordHash, createdBy: DEMO_ACTOR.name },
      update: { role, passwordHash, disabledAt: null },
    });
  }
}

function box(users: [string, Role, string][]): string {
  const lines = [
    "Console users for this demo (shown once, not stored in readable form):",
    "",
    ...users.map(([name, role, password]) => `  ${name.padEnd(10)} ${password}   (${role})`),
    "",
    "Manage users with `npm run user -- list|create|disable|role` or on the Users page.",
  ];
  const width = Math.max(...lines.map((l) => l.length));
  const rule = "─".repeat(width + 2);
  return [`┌${rule}┐`, ...lines.map((l) => `│ ${l.padEnd(width)} │`), `└${rule}┘`].join("\n");
}
