import { z } from "zod";
import { decodeLockKey } from "@/server/locks/lockKeyInUrl";
import { api } from "@/server/http/api";
import { consoleLockDeps, lockDetail } from "@/server/ops/locks";

// The key is one base64url segment (components/locks/lockKey.ts): keys may hold "/" or be "..".
const params = z.object({
  key: z.string().transform((segment, ctx) => {
    const key = decodeLockKey(segment);
    if (key === null) ctx.addIssue({ code: "custom", message: "not an encoded lock key (base64url of the key's UTF-8)" });
    return key ?? "";
  }),
});

/** GET /api/locks/:key — holders (and whether each may be released), FIFO waiters, the last operator release. */
export const GET = api({ role: "viewer", params }, ({ params }) => lockDetail(consoleLockDeps(), params.key));
