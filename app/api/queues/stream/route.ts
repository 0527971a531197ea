import { streamQuerySchema } from "@/components/queues/queueInputs";
import { api } from "@/server/http/api";
import { consoleQueueDeps, queueDetail } from "@/server/ops/queues";

/** GET /api/queues/stream?name=<stream> — one stream's figures, pending entries per group, dead letters and time series. */
export const GET = api({ role: "viewer", query: streamQuerySchema }, ({ query }) => queueDetail(consoleQueueDeps(), query.name));
