import type { TxStatus } from "@/server/transactions/types";

const TONE: Record<TxStatus, string> = {
  ACTIVE: "tag",
  PREPARING: "tag tag-warn",
  COMMITTING: "tag tag-warn",
  COMMITTED: "tag tag-ok",
  ABORTING: "tag tag-bad",
  ABORTED: "tag tag-bad",
};

export function StatusTag({ status }: { status: string }) {
  return (
    <span className={TONE[status as TxStatus] ?? "tag"} data-testid="tx-status">
      {status}
    </span>
  );
}
