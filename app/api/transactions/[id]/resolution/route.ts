import { z } from "zod";
import { api } from "@/server/http/api";
import { resolutionView } from "@/server/ops/inDoubt";
import { getRuntime } from "@/server/runtime";

export const GET = api({ role: "viewer", params: z.object({ id: z.uuid("not a transaction id") }) }, async ({ params }) => {
  const runtime = getRuntime();
  return resolutionView(runtime.prisma, new Map(runtime.shards.map((s) => [s.name, s])), params.id);
});
