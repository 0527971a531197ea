// An entry's fields in a table cell: a phase-2 entry as its transaction (linked), shard and
// decision; anything else as key=value pairs, shortened, with the whole text on hover.
import Link from "next/link";
import { fieldsText, phase2Fields } from "./format";
import styles from "./queues.module.css";

export function EntryFields({ fields }: { fields: Record<string, string> | null }) {
  if (!fields) return <span className="muted">deleted from the stream</span>;
  const job = phase2Fields(fields);
  if (!job) {
    return (
      <span className={`mono ${styles.fields}`} title={fieldsText(fields, Infinity)}>
        {fieldsText(fields) || <span className="muted">no fields</span>}
      </span>
    );
  }
  return (
    <span className={styles.fields}>
      <Link href={`/transactions/${job.tx}`} className="mono" title={job.tx}>
        {job.tx.slice(0, 8)}…
      </Link>{" "}
      <span className="tag">{job.shard}</span>{" "}
      <span className={`tag ${job.decision === "COMMIT" ? "tag-ok" : job.decision === "ABORT" ? "tag-bad" : ""}`}>
        {job.decision || "no decision"}
      </span>
      {job.label && <span className="muted"> {job.label}</span>}
    </span>
  );
}
