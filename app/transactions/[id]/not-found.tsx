import Link from "next/link";

export default function TransactionNotFound() {
  return (
    <section className="panel" data-testid="tx-not-found">
      <h1 className="page-title">No such transaction</h1>
      <p>The coordinator log has no transaction with this id.</p>
      <Link href="/transactions">All transactions</Link>
    </section>
  );
}
