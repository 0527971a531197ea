import { api } from "@/server/http/api";
import { consoleQueueDeps, queueOverview } from "@/server/ops/queues";

/** GET /api/queues — every Redis stream (length, per-group lag, pending, oldest pending age) and the RabbitMQ queues. */
export const GET = api({ role: "viewer" }, () => queueOverview(consoleQueueDeps()));
