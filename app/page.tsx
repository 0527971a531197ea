import { connection } from "next/server";
import { TransactionCounts } from "@/components/overview/TransactionCounts";
import { getRuntime } from "@/server/runtime";
import { getTransactionCounts, type TransactionCounts as Counts } from "@/server/stats/transactionCounts";

// The layout's title template applies to nested segments only, not to its own page.
export const metadata = { title: "Overview · Cohort" };

export default async function OverviewPage() {
  await connection();
  // The first paint shows real numbers; if the database is unavailable the client
  // component fetches (and reports the error) itself instead of failing the page.
  let initialCounts: Counts | undefined;
  try {
    initialCounts = await getTransactionCounts(getRuntime().prisma);
  } catch (err) {
    console.error("[overview] initial counts failed:", err);
  }
  return (
    <>
      <h1 className="page-title">Overview</h1>
      <TransactionCounts initialCounts={initialCounts} />
    </>
  );
}
