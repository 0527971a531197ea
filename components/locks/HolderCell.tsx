// Who holds (or waits for) a lock: the transaction, linked, with what the coordinator log
// says about it. Owners that are not transaction ids, or have no log row (a vanished
// process, the stuck-lock drill), are shown as they are.
import Link from "next/link";
import type { HolderTx } from "@/server/ops/locks";
import { isTxId, shortOwner } from "./format";

const TONE: Record<string, string> = {
  PREPARING: "tag tag-warn",
  COMMITTING: "tag tag-warn",
  ABORTING: "tag tag-bad",
  COMMITTED: "tag tag-ok",
  ABORTED: "tag tag-bad",
};

export function HolderCell({ owner, tx }: { owner: string; tx: HolderTx | null }) {
  if (!isTxId(owner)) return <span className="mono">{owner}</span>;
  return (
    <>
      <Link href={`/transactions/${owner}`} className="mono" title={owner} data-testid="holder-link">
        {shortOwner(owner)}
      </Link>{" "}
      {tx ? (
        <>
          <span className={TONE[tx.status] ?? "tag"}>{tx.status}</span> <span className="muted">{tx.label}</span>
        </>
      ) : (
        <span
          className="muted"
          title="The coordinator log records a transaction when its commit begins: this one is still running, or is not a Cohort transaction"
        >
          not in the log yet
        </span>
      )}
    </>
  );
}
