import { z } from "zod";
import { CohortError } from "@/server/errors";
import { api } from "@/server/http/api";
import { getRuntime } from "@/server/runtime";
import { getTransactionDetail } from "@/server/transactions/detail";

/** GET /api/transactions/:id — the transaction, its branches, its timeline and the actions its state allows. */
export const GET = api({ role: "viewer", params: z.object({ id: z.uuid("not a transaction id") }) }, async ({ params }) => {
  const detail = await getTransactionDetail(getRuntime().prisma, params.id);
  if (!detail) throw new CohortError("NOT_FOUND", `no transaction ${params.id} in the coordinator log`);
  return detail;
});
