import { api } from "@/server/http/api";
import { getRuntime } from "@/server/runtime";
import { listQuerySchema, toListQuery } from "@/server/transactions/filters";
import { listTransactions } from "@/server/transactions/list";

/** GET /api/transactions?state&label&shard&olderThan&id&sort&limit&cursor — one keyset page, newest first by default. */
export const GET = api({ role: "viewer", query: listQuerySchema }, ({ query }) =>
  listTransactions(getRuntime().prisma, toListQuery(query)),
);
