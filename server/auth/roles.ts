// Roles and who may do what (DESIGN.md §7). Free of server imports: client components use
// it to decide what to show, while the server decides what is allowed.

export const ROLES = ["viewer", "operator", "admin"] as const;
export type Role = (typeof ROLES)[number];

/** The signed-in user as route handlers, pages and sockets see it. */
export interface SessionUser {
  id: string;
  name: string;
  role: Role;
}

const RANK: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 };

/** True when `role` is `required` or higher (viewer < operator < admin). */
export function roleAtLeast(role: Role, required: Role): boolean {
  return RANK[role] >= RANK[required];
}

export function isRole(value: unknown): value is Role {
  return typeof value === "string" && (ROLES as readonly string[]).includes(value);
}
