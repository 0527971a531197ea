import { api } from "@/server/http/api";
import { entryActionSchema } from "@/server/ops/queueInputs";
import { consoleQueueDeps, retryEntry } from "@/server/ops/queues";

/** POST /api/queues/retry {stream, group, id, reason} — a pending entry is delivered again now (audited). */
export const POST = api({ role: "operator", body: entryActionSchema }, ({ user, body }) =>
  retryEntry(consoleQueueDeps(), { ...body, operator: { id: user.id, name: user.name } }),
);
