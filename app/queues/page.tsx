import { QueuesView } from "@/components/queues/QueuesView";
import { streamNameSchema } from "@/server/ops/queueInputs";
import { requirePageUser } from "@/server/auth/pageAuth";
import { roleAtLeast } from "@/server/auth/roles";
import { consoleQueueDeps, queueOverview, type QueueOverview } from "@/server/ops/queues";

export const metadata = { title: "Queues" };
export const dynamic = "force-dynamic";

type SearchParams = Record<string, string | string[] | undefined>;

export default async function QueuesPage({ searchParams }: { searchParams: Promise<SearchParams> }) {
  const raw = (await searchParams).stream;
  const given = typeof raw === "string" ? raw : null;
  const { user } = await requirePageUser(given ? `/queues?${new URLSearchParams({ stream: given }).toString()}` : "/queues");
  const parsed = given === null ? null : streamNameSchema.safeParse(given);
  // The first paint has the figures; the browser takes over from the cache afterwards. A
  // failure here is shown by the client's own fetch, with its message.
  const initial: QueueOverview | null = await Promise.resolve()
    .then(() => queueOverview(consoleQueueDeps()))
    .catch(() => null);
  return (
    <>
      <h1 className="page-title">Queues</h1>
      <p className="muted">
        Redis streams carry phase-2 deliveries and the outbox, with a consumer group per kind of worker. An entry a worker fails
        on stays pending and is retried with backoff; after its delivery limit it moves to the stream&apos;s dead letters with its
        last error. Every action here is guarded on the server and recorded in the audit trail with your reason.
      </p>
      {parsed && !parsed.success && (
        <p className="alert" role="alert" data-testid="bad-stream">
          The stream in this link is not a valid name and is ignored: {parsed.error.issues.map((i) => i.message).join("; ")}.
        </p>
      )}
      <QueuesView
        initial={initial}
        selected={parsed?.success ? parsed.data : null}
        canOperate={roleAtLeast(user.role, "operator")}
        canPurge={roleAtLeast(user.role, "admin")}
      />
    </>
  );
}
