import Link from "next/link";
import { AuditFilters } from "@/components/audit/AuditFilters";
import { AuditTable } from "@/components/audit/AuditTable";
import { auditFilterSchema, listAudit, type AuditFilter } from "@/server/audit/audit";
import { requirePageUser } from "@/server/auth/pageAuth";
import { getRuntime } from "@/server/runtime";

export const metadata = { title: "Audit" };

type SearchParams = Record<string, string | string[] | undefined>;

export default async function AuditPage({ searchParams }: { searchParams: Promise<SearchParams> }) {
  await requirePageUser("/audit");
  const raw = await searchParams;
  // Empty form fields arrive as "", which means "no filter", not "match the empty string".
  const given = Object.fromEntries(
    Object.entries(raw).filter((e): e is [string, string] => typeof e[1] === "string" && e[1] !== ""),
  );
  const parsed = auditFilterSchema.safeParse(given);
  const filter: AuditFilter = parsed.success ? parsed.data : {};
  const page = await listAudit(getRuntime().prisma, filter);
  const filtersOnly = { ...filter, cursor: undefined };

  return (
    <>
      <h1 className="page-title">Audit</h1>
      <section className="panel stack">
        <AuditFilters filter={filter} />
        {!parsed.success && (
          <p className="alert" role="alert" data-testid="bad-filters">
            This link has filters that are not valid, so none is applied:{" "}
            {parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}
          </p>
        )}
        <AuditTable entries={page.entries} />
        <nav className="pager" aria-label="Pages">
          {filter.cursor && <Link href={auditHref(filtersOnly)}>← Newest</Link>}
          {page.nextCursor && <Link href={auditHref({ ...filtersOnly, cursor: page.nextCursor })}>Older entries →</Link>}
        </nav>
      </section>
    </>
  );
}

function auditHref(filter: AuditFilter): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(filter))
    if (value !== undefined && value !== null && value !== "") params.set(key, String(value));
  const query = params.toString();
  return query ? `/audit?${query}` : "/audit";
}
