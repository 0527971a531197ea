import { z } from "zod";

/** The in-doubt filter as it arrives in a query string or a bulk request body. */
export const inDoubtFilterSchema = z.object({
  shard: z
    .string()
    .regex(/^[a-z][a-z0-9_-]{0,30}$/, "not a shard name")
    .optional(),
  decision: z.enum(["COMMIT", "ABORT", "none"]).optional(),
  olderThanSeconds: z.coerce
    .number()
    .int()
    .min(0)
    .max(31 * 24 * 3600)
    .optional(),
});
