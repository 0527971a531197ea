// POST /api/ring/runs/<id>/cancel|resume {reason}: stops a running rebalance between two
// keys, or resumes a cancelled or failed one (admin, audited).
import { z } from "zod";
import { api, reasonSchema } from "@/server/http/api";
import { consoleRingActions } from "@/server/ring/consoleRing";
import { cancelRun, resumeRun } from "@/server/ring/ringActions";

const actions = { cancel: cancelRun, resume: resumeRun } as const;

export const POST = api(
  {
    role: "admin",
    params: z.object({ id: z.uuid("not a rebalance run id"), action: z.enum(["cancel", "resume"]) }),
    body: z.object({ reason: reasonSchema }),
  },
  async ({ user, params, body }) =>
    actions[params.action](consoleRingActions(), {
      runId: params.id,
      reason: body.reason,
      user: { id: user.id, name: user.name },
    }),
);
