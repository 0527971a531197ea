import { z } from "zod";
import { api, reasonSchema } from "@/server/http/api";
import { forceAbort, forceCommit, retryNow } from "@/server/ops/actions";
import { consoleOpsDeps } from "@/server/ops/consoleDeps";

const actions = { retry: retryNow, "force-abort": forceAbort, "force-commit": forceCommit } as const;

export const POST = api(
  {
    role: "operator",
    params: z.object({ id: z.uuid("not a transaction id"), action: z.enum(["retry", "force-abort", "force-commit"]) }),
    body: z.object({ reason: reasonSchema }),
  },
  async ({ user, params, body }) =>
    actions[params.action](consoleOpsDeps(), {
      txId: params.id,
      operator: { id: user.id, name: user.name },
      reason: body.reason,
    }),
);
