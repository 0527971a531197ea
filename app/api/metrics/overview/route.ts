import { api } from "@/server/http/api";
import { getRuntime } from "@/server/runtime";
import { getOverviewMetrics } from "@/server/stats/metrics";

/** GET /api/metrics/overview — throughput and latency series, in-flight and in-doubt counts, shard health. */
export const GET = api({ role: "viewer" }, () => getOverviewMetrics(getRuntime().prisma));
