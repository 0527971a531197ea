// PATCH /api/users/<id> {role?, disabled?, reason}: changes a user's role or disables and
// re-enables them (admin, audited). Admins cannot demote or disable themselves (409).
import { z } from "zod";
import { ROLES } from "@/server/auth/roles";
import { updateUserAsAdmin } from "@/server/auth/userAdmin";
import { api, reasonSchema } from "@/server/http/api";
import { getRuntime } from "@/server/runtime";

const params = z.object({ id: z.uuid({ error: "not a user id" }) });

const changeBody = z
  .object({
    role: z.enum(ROLES, { error: "choose viewer, operator or admin" }).optional(),
    disabled: z.boolean({ error: "must be true or false" }).optional(),
    reason: reasonSchema,
  })
  .refine((b) => b.role !== undefined || b.disabled !== undefined, { message: "change the role or disabled", path: ["role"] });

export const PATCH = api({ role: "admin", params, body: changeBody }, async ({ user, params, body }) => ({
  user: await updateUserAsAdmin(getRuntime().prisma, user, params.id, body),
}));
