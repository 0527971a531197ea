import Link from "next/link";
import { AUDIT_OUTCOMES, type AuditFilter } from "@/server/audit/audit";

/** A plain GET form: filters live in the URL, so a filtered view can be shared as a link. */
export function AuditFilters({ filter }: { filter: AuditFilter }) {
  return (
    <form className="inline-form" method="get" action="/audit" role="search" aria-label="Filter the audit trail">
      <label className="field">
        <span>User</span>
        <input name="user" defaultValue={filter.user ?? ""} size={12} />
      </label>
      <label className="field">
        <span>Action (prefix)</span>
        <input name="action" defaultValue={filter.action ?? ""} size={14} placeholder="user." />
      </label>
      <label className="field">
        <span>Target id</span>
        <input name="targetId" defaultValue={filter.targetId ?? ""} size={24} />
      </label>
      <label className="field">
        <span>Outcome</span>
        <select name="outcome" defaultValue={filter.outcome ?? ""}>
          <option value="">any</option>
          {AUDIT_OUTCOMES.map((o) => (
            <option key={o} value={o}>
              {o}
            </option>
          ))}
        </select>
      </label>
      <button type="submit" className="button">
        Filter
      </button>
      <Link href="/audit" className="button button-quiet">
        Clear
      </Link>
    </form>
  );
}
