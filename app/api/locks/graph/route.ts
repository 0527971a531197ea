import { api } from "@/server/http/api";
import { consoleLockDeps, lockGraph } from "@/server/ops/locks";

/** GET /api/locks/graph — who waits for whom (merged per pair of transactions) and the cycles in it. */
export const GET = api({ role: "viewer" }, () => lockGraph(consoleLockDeps()));
