import { InDoubtView } from "@/components/inDoubt/InDoubtView";
import { roleAtLeast } from "@/server/auth/roles";
import { requirePageUser } from "@/server/auth/pageAuth";

export const dynamic = "force-dynamic";

export default async function InDoubtPage() {
  const { user } = await requirePageUser("/in-doubt");
  return (
    <>
      <h1 className="page-title">In doubt</h1>
      <p className="muted">
        Transactions with prepared branches and no outcome delivered for a while. Their prepared branches hold row locks and hold
        back VACUUM on their shards until they are resolved.
      </p>
      <InDoubtView canAct={roleAtLeast(user.role, "operator")} />
    </>
  );
}
