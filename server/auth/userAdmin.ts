// User management by an admin in the console: each change carries a reason and is audited
// (target type "user", target id = the user's name, which never changes and reads well in
// the trail). An admin cannot disable or demote themself, so the console always keeps at
// least the admin who is using it; the command line (scripts/user.ts) is the way back in.
import type { PrismaClient } from "../db/prisma";
import { runAudited, recordRefusal, type AuditBase } from "../audit/audited";
import { CohortError } from "../errors";
import type { Role, SessionUser } from "./roles";
import { changeRole, createUser, getUser, setDisabled, type UserSummary } from "./users";

export const USER_TARGET = "user";

export interface CreateByAdmin {
  name: string;
  role: Role;
  reason: string;
}

/** Returns the new user and its generated password, which is shown once and stored nowhere. */
export async function createUserAsAdmin(
  prisma: PrismaClient,
  actor: SessionUser,
  input: CreateByAdmin,
): Promise<{ user: UserSummary; password: string }> {
  const base: AuditBase = {
    user: actor,
    action: "user.create",
    targetType: USER_TARGET,
    targetId: input.name,
    reason: input.reason,
  };
  return runAudited(prisma, base, async (tx) => {
    const created = await createUser(tx, { name: input.name, role: input.role, createdBy: actor.name });
    return {
      result: { user: created.user, password: created.generatedPassword! },
      before: null,
      after: { role: created.user.role, disabled: false },
    };
  });
}

export interface UserChange {
  role?: Role | undefined;
  disabled?: boolean | undefined;
  reason: string;
}

export async function updateUserAsAdmin(
  prisma: PrismaClient,
  actor: SessionUser,
  userId: string,
  change: UserChange,
): Promise<UserSummary> {
  const target = await getUser(prisma, { id: userId });
  const base = (action: string): AuditBase => ({
    user: actor,
    action,
    targetType: USER_TARGET,
    targetId: target.name,
    reason: change.reason,
  });
  if (target.id === actor.id && (change.disabled === true || (change.role !== undefined && change.role !== "admin"))) {
    const err = new CohortError(
      "CONFLICT",
      change.disabled === true
        ? "you cannot disable yourself: ask another admin"
        : "you cannot demote yourself: ask another admin",
    );
    await recordRefusal(prisma, base(change.disabled === true ? "user.disable" : "user.role"), err);
    throw err;
  }

  let user = target;
  if (change.role !== undefined && change.role !== user.role) {
    const role = change.role;
    user = await runAudited(prisma, base("user.role"), async (tx) => {
      const before = await lockUser(tx, userId);
      const after = await changeRole(tx, { id: userId }, role);
      return { result: after, before: { role: before.role }, after: { role: after.role } };
    });
  }
  if (change.disabled !== undefined && change.disabled !== user.disabled) {
    const disabled = change.disabled;
    user = await runAudited(prisma, base(disabled ? "user.disable" : "user.enable"), async (tx) => {
      const before = await lockUser(tx, userId);
      const after = await setDisabled(tx, { id: userId }, disabled);
      return { result: after, before: { disabled: before.disabled }, after: { disabled: after.disabled } };
    });
  }
  return user;
}

/** Row lock, so two admins changing one user at once record consistent before/after states. */
async function lockUser(tx: Parameters<Parameters<typeof runAudited>[2]>[0], userId: string): Promise<UserSummary> {
  await tx.$executeRaw`SELECT 1 FROM users WHERE id = ${userId}::uuid FOR UPDATE`;
  return getUser(tx, { id: userId });
}
