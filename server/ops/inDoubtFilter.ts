import { z } from "zod";
import { wholeNumber } from "../http/inputs";

/** The in-doubt filter as it arrives in a query string or a bulk request body. */
export const inDoubtFilterSchema = z.object({
  shard: z
    .string()
    .regex(/^[a-z][a-z0-9_-]{0,30}$/, "not a shard name")
    .optional(),
  decision: z.enum(["COMMIT", "ABORT", "none"]).optional(),
  olderThanSeconds: wholeNumber(0, 31 * 24 * 3600, "a number of seconds").optional(),
});
