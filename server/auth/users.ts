// Console users (DESIGN.md §7). There are no default credentials: users come from the CLI
// (scripts/user.ts), the admin page, or the demo's first start (demoUsers.ts), which prints
// the random passwords it chose. Users are disabled rather than deleted, so the audit trail
// keeps pointing at someone.
import { Prisma } from "@prisma/client";
import { z } from "zod";
import type { PrismaClient } from "../db/prisma";
import { CohortError } from "../errors";
import { generatePassword, hashPassword, passwordProblem } from "./passwords";
import type { Role } from "./roles";

/** Either the whole client or the client of an open SQL transaction. */
export type Db = Prisma.TransactionClient;

/** Login names: lower case, so "Admin" and "admin" cannot be two people. */
export const userNameSchema = z
  .string()
  .trim()
  .toLowerCase()
  .regex(/^[a-z][a-z0-9._-]{1,31}$/, "2–32 characters: a letter, then letters, digits, '.', '_' or '-'");

/** What the console may show about a user: never the password hash. */
export interface UserSummary {
  id: string;
  name: string;
  role: Role;
  disabled: boolean;
  disabledAt: string | null;
  createdAt: string;
  createdBy: string | null;
  lastLoginAt: string | null;
}

export const userSummarySelect = {
  id: true,
  name: true,
  role: true,
  disabledAt: true,
  createdAt: true,
  createdBy: true,
  lastLoginAt: true,
} satisfies Prisma.UserSelect;

type UserRow = Prisma.UserGetPayload<{ select: typeof userSummarySelect }>;

export function toUserSummary(row: UserRow): UserSummary {
  return {
    id: row.id,
    name: row.name,
    role: row.role,
    disabled: row.disabledAt !== null,
    disabledAt: row.disabledAt?.toISOString() ?? null,
    createdAt: row.createdAt.toISOString(),
    createdBy: row.createdBy,
    lastLoginAt: row.lastLoginAt?.toISOString() ?? null,
  };
}

export type UserRef = { id: string } | { name: string };

export interface CreateUserInput {
  name: string;
  role: Role;
  /** Omitted: a random one is generated and returned, to be shown once. */
  password?: string | undefined;
  createdBy?: string | null;
}

export interface CreatedUser {
  user: UserSummary;
  /** The generated password, or null when the caller chose it. */
  generatedPassword: string | null;
}

export async function createUser(db: Db, input: CreateUserInput): Promise<CreatedUser> {
  const name = parseUserName(input.name);
  if (input.password !== undefined) {
    const problem = passwordProblem(input.password);
    if (problem) throw new CohortError("BAD_REQUEST", `password ${problem}`);
  }
  const generatedPassword = input.password === undefined ? generatePassword() : null;
  const passwordHash = await hashPassword(input.password ?? generatedPassword!);
  try {
    const row = await db.user.create({
      data: { name, role: input.role, passwordHash, createdBy: input.createdBy ?? null },
      select: userSummarySelect,
    });
    return { user: toUserSummary(row), generatedPassword };
  } catch (err) {
    if (isUniqueViolation(err)) throw new CohortError("CONFLICT", `a user named "${name}" already exists`);
    throw err;
  }
}

export async function listUsers(db: Db): Promise<UserSummary[]> {
  const rows = await db.user.findMany({ select: userSummarySelect, orderBy: { name: "asc" } });
  return rows.map(toUserSummary);
}

export async function countUsers(db: Db): Promise<number> {
  return db.user.count();
}

export async function findUser(db: Db, ref: UserRef): Promise<UserSummary | null> {
  const where = whereOf(ref);
  if (!where) return null;
  const row = await db.user.findUnique({ where, select: userSummarySelect });
  return row ? toUserSummary(row) : null;
}

export async function getUser(db: Db, ref: UserRef): Promise<UserSummary> {
  const user = await findUser(db, ref);
  if (!user) throw new CohortError("NOT_FOUND", `no user ${"name" in ref ? `named "${ref.name}"` : "with that id"}`);
  return user;
}

/** Disabling also ends the user's sessions, so it takes effect on their next request. */
export async function disableUser(prisma: PrismaClient, ref: UserRef): Promise<UserSummary> {
  return prisma.$transaction((tx) => setDisabled(tx, ref, true));
}

export async function enableUser(db: Db, ref: UserRef): Promise<UserSummary> {
  return setDisabled(db, ref, false);
}

/**
 * For callers already inside a SQL transaction (admin actions audit in the same one).
 * Ending the sessions here keeps "disabled" and "signed out" from ever disagreeing.
 */
export async function setDisabled(db: Db, ref: UserRef, disabled: boolean): Promise<UserSummary> {
  const user = await getUser(db, ref);
  if (user.disabled === disabled) return user;
  const row = await db.user.update({
    where: { id: user.id },
    data: { disabledAt: disabled ? new Date() : null },
    select: userSummarySelect,
  });
  if (disabled) await db.session.deleteMany({ where: { userId: user.id } });
  return toUserSummary(row);
}

/** Sessions read the role from the user row on every request, so this applies at once. */
export async function changeRole(db: Db, ref: UserRef, role: Role): Promise<UserSummary> {
  const user = await getUser(db, ref);
  if (user.role === role) return user;
  const row = await db.user.update({ where: { id: user.id }, data: { role }, select: userSummarySelect });
  return toUserSummary(row);
}

/** Sets (or, without a password, generates) a new password and ends the user's sessions. */
export async function resetPassword(prisma: PrismaClient, ref: UserRef, password?: string): Promise<string | null> {
  if (password !== undefined) {
    const problem = passwordProblem(password);
    if (problem) throw new CohortError("BAD_REQUEST", `password ${problem}`);
  }
  const generated = password === undefined ? generatePassword() : null;
  const passwordHash = await hashPassword(password ?? generated!);
  await prisma.$transaction(async (tx) => {
    const user = await getUser(tx, ref);
    await tx.user.update({ where: { id: user.id }, data: { passwordHash } });
    await tx.session.deleteMany({ where: { userId: user.id } });
  });
  return generated;
}

function parseUserName(raw: string): string {
  const parsed = userNameSchema.safeParse(raw);
  if (!parsed.success) throw new CohortError("BAD_REQUEST", `user name ${parsed.error.issues[0]?.message ?? "is invalid"}`);
  return parsed.data;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** null when the reference cannot match any row (a malformed id must not reach the uuid column). */
function whereOf(ref: UserRef): Prisma.UserWhereUniqueInput | null {
  if ("id" in ref) return UUID.test(ref.id) ? { id: ref.id } : null;
  const name = userNameSchema.safeParse(ref.name);
  return name.success ? { name: name.data } : null;
}

function isUniqueViolation(err: unknown): boolean {
  return err instanceof Prisma.PrismaClientKnownRequestError && err.code === "P2002";
}
