import { z } from "zod";
import { api, reasonSchema } from "@/server/http/api";
import { bulkResolve } from "@/server/ops/bulk";
import { consoleOpsDeps } from "@/server/ops/consoleDeps";
import { inDoubtFilterSchema } from "@/server/ops/inDoubtFilter";

export const POST = api(
  {
    role: "operator",
    body: z.object({
      filter: inDoubtFilterSchema,
      action: z.enum(["retry", "force-abort"]),
      reason: reasonSchema,
      /** Omit to count; repeat the count to apply. */
      confirmCount: z.number().int().min(0).optional(),
    }),
  },
  async ({ user, body }) => bulkResolve(consoleOpsDeps(), { ...body, operator: { id: user.id, name: user.name } }),
);
