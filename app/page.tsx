import { connection } from "next/server";
import { OverviewDashboard } from "@/components/overview/OverviewDashboard";
import { requirePageUser } from "@/server/auth/pageAuth";
import { getRuntime } from "@/server/runtime";
import { SHARD_STALE_SECONDS, getOverviewMetrics, type OverviewMetrics } from "@/server/stats/metrics";

// The layout's title template applies to nested segments only, not to its own page.
export const metadata = { title: "Overview · Cohort" };

export default async function OverviewPage() {
  await connection();
  await requirePageUser("/");
  // The first paint shows real numbers; if the database is unavailable the client
  // component fetches (and reports the error) itself instead of failing the page.
  let initial: OverviewMetrics | undefined;
  try {
    initial = await getOverviewMetrics(getRuntime().prisma);
  } catch (err) {
    console.error("[overview] initial metrics failed:", err);
  }
  return (
    <>
      <h1 className="page-title">Overview</h1>
      <OverviewDashboard initial={initial} staleSeconds={SHARD_STALE_SECONDS} />
    </>
  );
}
