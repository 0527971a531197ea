// POST /api/ring/rebalance {change, expectedVersion, reason}: saves the next ring version
// and starts moving keys to it (admin, audited). 409 when the ring moved on since the
// preview or a rebalance is unfinished.
import { z } from "zod";
import { api, reasonSchema } from "@/server/http/api";
import { consoleRingActions } from "@/server/ring/consoleRing";
import { startRebalance } from "@/server/ring/ringActions";
import { ringChangeSchema } from "@/server/ring/ringChange";

const body = z.object({
  change: ringChangeSchema,
  expectedVersion: z.number({ error: "expectedVersion must be the previewed ring version" }).int().min(1),
  reason: reasonSchema,
});

export const POST = api({ role: "admin", body }, async ({ user, body }) =>
  startRebalance(consoleRingActions(), { ...body, user: { id: user.id, name: user.name } }),
);
