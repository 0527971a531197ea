import Link from "next/link";
import { TransactionList } from "@/components/transactions/TransactionList";
import { filtersKey } from "@/components/transactions/urlFilters";
import { requirePageUser } from "@/server/auth/pageAuth";
import { getRuntime } from "@/server/runtime";
import { parseListSearchParams } from "@/server/transactions/filters";
import { listTransactions } from "@/server/transactions/list";
import { DEFAULT_LIMIT } from "@/server/transactions/listParams";
import type { TxListPage } from "@/server/transactions/types";

export const metadata = { title: "Transactions" };

type SearchParams = Record<string, string | string[] | undefined>;

export default async function TransactionsPage({ searchParams }: { searchParams: Promise<SearchParams> }) {
  const raw = await searchParams;
  await requirePageUser(`/transactions${queryString(raw)}`);
  const parsed = parseListSearchParams(raw);
  if (!parsed.ok) {
    // A shared link with a typo: say which parameter is wrong instead of guessing.
    return (
      <>
        <h1 className="page-title">Transactions</h1>
        <section className="panel" role="alert" data-testid="tx-bad-filters">
          <p className="alert">This link has filters the list does not understand:</p>
          <ul>
            {parsed.errors.map((e) => (
              <li key={e.field}>
                <strong>{e.field}</strong>: {e.detail}
              </li>
            ))}
          </ul>
          <Link href="/transactions">Show all transactions</Link>
        </section>
      </>
    );
  }
  // The first page always starts at the top with the default size; the browser continues
  // with cursors it keeps itself, so neither belongs in a shared URL.
  const query = { ...parsed.query, cursor: undefined, limit: DEFAULT_LIMIT };
  const { prisma, shardNames } = getRuntime();
  const at = new Date().toISOString();
  let initialPage: TxListPage | undefined;
  try {
    initialPage = await listTransactions(prisma, query);
  } catch (err) {
    console.error("[transactions] first page failed:", err);
  }
  return (
    <>
      <h1 className="page-title">Transactions</h1>
      <TransactionList
        initialKey={filtersKey(query)}
        initialPage={initialPage}
        initialAt={at}
        shardNames={shardNames}
        pageSize={DEFAULT_LIMIT}
      />
    </>
  );
}

function queryString(raw: SearchParams): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(raw)) {
    for (const v of Array.isArray(value) ? value : value === undefined ? [] : [value]) params.append(key, v);
  }
  const text = params.toString();
  return text ? `?${text}` : "";
}
