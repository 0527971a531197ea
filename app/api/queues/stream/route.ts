import { api } from "@/server/http/api";
import { streamQuerySchema } from "@/server/ops/queueInputs";
import { consoleQueueDeps, queueDetail } from "@/server/ops/queues";

/** GET /api/queues/stream?name=<stream> — one stream's figures, pending entries per group, dead letters and time series. */
export const GET = api({ role: "viewer", query: streamQuerySchema }, ({ query }) => queueDetail(consoleQueueDeps(), query.name));
