import { api } from "@/server/http/api";
import { DEFAULT_IN_DOUBT_MS, listHeuristicIncidents, listInDoubt, listOrphans } from "@/server/ops/inDoubt";
import { inDoubtFilterSchema } from "@/server/ops/inDoubtFilter";
import { getRuntime } from "@/server/runtime";

export const GET = api({ role: "viewer", query: inDoubtFilterSchema }, async ({ query }) => {
  const { prisma, shards } = getRuntime();
  const [transactions, orphans, incidents] = await Promise.all([
    listInDoubt(prisma, query),
    listOrphans(prisma, shards),
    listHeuristicIncidents(prisma),
  ]);
  return { thresholdMs: DEFAULT_IN_DOUBT_MS, transactions, orphans: orphans.orphans, shardErrors: orphans.errors, incidents };
});
