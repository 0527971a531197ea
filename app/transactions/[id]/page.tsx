import { notFound } from "next/navigation";
import { TransactionDetailView } from "@/components/transactions/TransactionDetail";
import { requirePageUser } from "@/server/auth/pageAuth";
import { roleAtLeast } from "@/server/auth/roles";
import { getRuntime } from "@/server/runtime";
import { getTransactionDetail } from "@/server/transactions/detail";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export async function generateMetadata({ params }: { params: Promise<{ id: string }> }) {
  const { id } = await params;
  return { title: `Transaction ${id.slice(0, 8)}` };
}

export default async function TransactionPage({ params }: { params: Promise<{ id: string }> }) {
  const { id } = await params;
  const { user } = await requirePageUser(`/transactions/${encodeURIComponent(id)}`);
  // Anything that is not a uuid cannot be in the log; asking PostgreSQL would only fail the cast.
  if (!UUID.test(id)) notFound();
  const detail = await getTransactionDetail(getRuntime().prisma, id.toLowerCase());
  if (!detail) notFound();
  return <TransactionDetailView initial={detail} canAct={roleAtLeast(user.role, "operator")} />;
}
