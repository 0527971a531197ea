import { api } from "@/server/http/api";
import { consoleLockDeps, listLocks, lockListQuerySchema } from "@/server/ops/locks";

/** GET /api/locks?prefix&owner&mode&cursor&limit — held locks in key order, with their holders' transactions. */
export const GET = api({ role: "viewer", query: lockListQuerySchema }, ({ query }) => listLocks(consoleLockDeps(), query));
