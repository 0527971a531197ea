import { purgeSchema } from "@/components/queues/queueInputs";
import { api } from "@/server/http/api";
import { problemResponse } from "@/server/http/problem";
import { isCohortError } from "@/server/errors";
import { consoleQueueDeps, purgeDeadLetters } from "@/server/ops/queues";

/**
 * POST /api/queues/purge {stream, expectedCount, expectedLastId, reason} — admins only:
 * empties a stream's dead letters if they are still what was counted (audited). When they
 * changed, the 409 problem also carries what is there now: `count` and `lastId`.
 */
export const POST = api({ role: "admin", body: purgeSchema }, async ({ user, body, request }) => {
  try {
    return await purgeDeadLetters(consoleQueueDeps(), { ...body, operator: { id: user.id, name: user.name } });
  } catch (err) {
    const now = isCohortError(err, "CONFLICT") ? err.details : undefined;
    if (typeof now?.count !== "number") throw err;
    const problem = problemResponse(err, `${request.method} ${new URL(request.url).pathname}`);
    return Response.json(
      { count: now.count, lastId: String(now.lastId ?? ""), ...((await problem.json()) as object) },
      { status: problem.status, headers: problem.headers },
    );
  }
});
