import { api } from "@/server/http/api";
import { entryActionSchema } from "@/server/ops/queueInputs";
import { consoleQueueDeps, deadLetterEntry } from "@/server/ops/queues";

/** POST /api/queues/dead-letter {stream, group, id, reason} — a pending entry moves to the dead letters (audited). */
export const POST = api({ role: "operator", body: entryActionSchema }, ({ user, body }) =>
  deadLetterEntry(consoleQueueDeps(), { ...body, operator: { id: user.id, name: user.name } }),
);
