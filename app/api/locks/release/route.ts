import { z } from "zod";
import { api, reasonSchema } from "@/server/http/api";
import { consoleLockDeps, releaseLock } from "@/server/ops/locks";

const body = z.object({
  key: z.string().min(1, "a lock key is required").max(512),
  expectedToken: z.string().regex(/^\d{1,19}$/, "must be the fencing token shown for the holder"),
  reason: reasonSchema,
});

/**
 * POST /api/locks/release {key, expectedToken, reason} — compare-and-delete of a stuck lock.
 * A refusal's problem+json also carries what the operator needs next: the transaction to
 * resolve (txId, href) or who holds the lock now (holders).
 */
export const POST = api({ role: "operator", body }, ({ user, body }) =>
  releaseLock(consoleLockDeps(), {
    key: body.key,
    expectedToken: body.expectedToken,
    operator: { id: user.id, name: user.name },
    reason: body.reason,
  }),
);
