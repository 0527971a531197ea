import { api } from "@/server/http/api";
import { consoleQueueDeps, purgeDeadLetters } from "@/server/ops/queues";
import { purgeSchema } from "@/server/ops/queueInputs";

/**
 * POST /api/queues/purge {stream, expectedCount, expectedLastId, reason} — admins only:
 * empties a stream's dead letters if they are still what was counted (audited). When they
 * changed, the 409 problem also carries what is there now: `count` and `lastId`.
 */
export const POST = api({ role: "admin", body: purgeSchema }, ({ user, body }) =>
  purgeDeadLetters(consoleQueueDeps(), { ...body, operator: { id: user.id, name: user.name } }),
);
