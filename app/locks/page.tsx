import { LocksView } from "@/components/locks/LocksView";
import { requirePageUser } from "@/server/auth/pageAuth";
import { roleAtLeast } from "@/server/auth/roles";
import { lockListQuerySchema } from "@/server/ops/locks";

export const metadata = { title: "Locks" };
export const dynamic = "force-dynamic";

type SearchParams = Record<string, string | string[] | undefined>;

export default async function LocksPage({ searchParams }: { searchParams: Promise<SearchParams> }) {
  const raw = await searchParams;
  const given = Object.fromEntries(Object.entries(raw).filter((e): e is [string, string] => typeof e[1] === "string"));
  const { user } = await requirePageUser(`/locks${queryString(given)}`);
  // Only the filters belong in a shared link; paging is the browser's own state.
  const parsed = lockListQuerySchema.pick({ prefix: true, owner: true, mode: true }).safeParse(given);
  const filters = parsed.success ? parsed.data : {};
  return (
    <>
      <h1 className="page-title">Locks</h1>
      <p className="muted">
        Leases in Redis held by transactions, with fencing tokens. A stuck lock is released by compare-and-delete against the
        token shown; a holder whose prepared branch still holds its rows in PostgreSQL has to be resolved as a transaction
        instead.
      </p>
      {!parsed.success && (
        <p className="alert" role="alert" data-testid="bad-filters">
          This link has filters that are not valid, so none is applied:{" "}
          {parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}
        </p>
      )}
      <LocksView filters={filters} canRelease={roleAtLeast(user.role, "operator")} />
    </>
  );
}

function queryString(given: Record<string, string>): string {
  const text = new URLSearchParams(given).toString();
  return text ? `?${text}` : "";
}
