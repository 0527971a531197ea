import { connection } from "next/server";
import { problemResponse } from "@/server/http/problem";
import { getRuntime } from "@/server/runtime";
import { getTransactionCounts } from "@/server/stats/transactionCounts";

export async function GET(request: Request): Promise<Response> {
  // Outside the try: during `next build` it is how prerendering is told to stop here.
  await connection();
  try {
    const counts = await getTransactionCounts(getRuntime().prisma);
    return Response.json(counts, { headers: { "cache-control": "no-store" } });
  } catch (err) {
    return problemResponse(err, new URL(request.url).pathname);
  }
}
