import { api } from "@/server/http/api";
import { claimSchema } from "@/server/ops/queueInputs";
import { claimEntry, consoleQueueDeps } from "@/server/ops/queues";

/** POST /api/queues/claim {stream, group, id, consumer, reason} — a pending entry goes to another live consumer (audited). */
export const POST = api({ role: "operator", body: claimSchema }, ({ user, body }) =>
  claimEntry(consoleQueueDeps(), { ...body, operator: { id: user.id, name: user.name } }),
);
