import Link from "next/link";

export default function TransactionNotFound() {
  return (
    <section className="panel" data-testid="tx-not-found">
      <h1 className="page-title">No such transaction</h1>
      <p>The coordinator log has no transaction with this id.</p>
      <p className="muted">
        A transaction is recorded when its commit begins: one that is still running (holding locks, doing its work) is not in the
        log yet, and one that never reached its commit leaves nothing behind. Reload once it commits.
      </p>
      <Link href="/transactions">All transactions</Link>
    </section>
  );
}
