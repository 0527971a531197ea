import { RingView } from "@/components/ring/RingView";
import { requirePageUser } from "@/server/auth/pageAuth";
import { roleAtLeast } from "@/server/auth/roles";
import { consoleRingView } from "@/server/ring/consoleRing";
import { ringOverview, type RingOverview } from "@/server/ring/ringView";

export const metadata = { title: "Ring" };
export const dynamic = "force-dynamic";

export default async function RingPage() {
  const { user } = await requirePageUser("/ring");
  // The first paint has the ring; the browser takes over from the cache afterwards. A
  // failure here is shown by the client's own fetch, with its message.
  const initial: RingOverview | null = await consoleRingView()
    .then(ringOverview)
    .catch(() => null);
  return (
    <>
      <h1 className="page-title">Ring</h1>
      <p className="muted">
        Accounts are placed on shards by a consistent-hash ring of weighted virtual nodes. A change of members or weights is
        applied by a rebalance that moves each affected account in its own Cohort transaction, while routing reads every account
        from where it is.
      </p>
      <RingView initial={initial} canAdmin={roleAtLeast(user.role, "admin")} />
    </>
  );
}
