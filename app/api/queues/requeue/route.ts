import { api } from "@/server/http/api";
import { requeueSchema } from "@/server/ops/queueInputs";
import { consoleQueueDeps, requeueDeadLetter } from "@/server/ops/queues";

/**
 * POST /api/queues/requeue {stream, deadId, reason} — a dead letter goes back on its stream
 * (audited). A phase-2 entry only while the coordinator log still wants that delivery: 409
 * when its transaction ended, and DECISION_CONFLICT when the log decided otherwise.
 */
export const POST = api({ role: "operator", body: requeueSchema }, ({ user, body }) =>
  requeueDeadLetter(consoleQueueDeps(), { ...body, operator: { id: user.id, name: user.name } }),
);
