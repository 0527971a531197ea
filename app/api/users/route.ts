// GET /api/users: every console user (admin). POST /api/users {name, role, reason}: creates
// one with a generated password, returned once in this response and stored only as a hash.
import { z } from "zod";
import { ROLES } from "@/server/auth/roles";
import { createUserAsAdmin } from "@/server/auth/userAdmin";
import { listUsers, userNameSchema } from "@/server/auth/users";
import { api, reasonSchema } from "@/server/http/api";
import { getRuntime } from "@/server/runtime";

export const GET = api({ role: "admin" }, async () => ({ users: await listUsers(getRuntime().prisma) }));

const createBody = z.object({
  name: userNameSchema,
  role: z.enum(ROLES, { error: "choose viewer, operator or admin" }),
  reason: reasonSchema,
});

export const POST = api({ role: "admin", body: createBody }, async ({ user, body }) => {
  const created = await createUserAsAdmin(getRuntime().prisma, user, body);
  return Response.json(created, { status: 201, headers: { "cache-control": "no-store" } });
});
