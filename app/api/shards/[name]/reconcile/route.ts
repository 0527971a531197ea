import { z } from "zod";
import { api, reasonSchema } from "@/server/http/api";
import { reconcileShardNow } from "@/server/ops/reconcile";

export const POST = api(
  {
    role: "operator",
    params: z.object({ name: z.string().regex(/^[a-z][a-z0-9_-]{0,30}$/, "not a shard name") }),
    body: z.object({ reason: reasonSchema }),
  },
  async ({ user, params, body }) =>
    reconcileShardNow({ shard: params.name, operator: { id: user.id, name: user.name }, reason: body.reason }),
);
