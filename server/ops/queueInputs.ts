// What the queue routes and the Queues page accept (zod: imported by server code only, never
// by the browser bundle). Stream names hold colons ("cohort:q:phase2"), so they travel in the
// query string or a JSON body, never as a path segment.
import { z } from "zod";
import { reasonSchema } from "../http/api";

/** Queue streams and consumer groups are named with these characters only. */
const QUEUE_NAME_PATTERN = /^[A-Za-z0-9_.:-]+$/;
/** A Redis stream id: "<ms>-<seq>", each part a 64-bit unsigned number. */
const STREAM_ID_PATTERN = /^\d{1,20}-\d{1,20}$/;
const MAX_ID_PART = 2n ** 64n - 1n;

export const streamNameSchema = z
  .string({ error: "a stream name is required" })
  .min(1, "a stream name is required")
  .max(200, "a stream name is at most 200 characters")
  .regex(QUEUE_NAME_PATTERN, "a stream name has only letters, digits and _ . : -");

const groupSchema = z
  .string({ error: "a consumer group is required" })
  .min(1, "a consumer group is required")
  .max(200, "a consumer group is at most 200 characters")
  .regex(QUEUE_NAME_PATTERN, "a consumer group has only letters, digits and _ . : -");

const streamIdSchema = z
  .string({ error: "an entry id is required" })
  .regex(STREAM_ID_PATTERN, "must be a stream id (<ms>-<seq>)")
  // Redis refuses a part past 2^64 - 1 with an error of its own, which would be a 500.
  // Refinements run even after a failed regex, so this one must not assume the digits.
  .refine(
    (id) => !STREAM_ID_PATTERN.test(id) || id.split("-").every((part) => BigInt(part) <= MAX_ID_PART),
    "must be a stream id (<ms>-<seq>, each part below 2^64)",
  );

/** GET /api/queues/stream?name= */
export const streamQuerySchema = z.object({ name: streamNameSchema });

/** POST /api/queues/retry and /api/queues/dead-letter */
export const entryActionSchema = z.object({
  stream: streamNameSchema,
  group: groupSchema,
  id: streamIdSchema,
  reason: reasonSchema,
});

/** POST /api/queues/claim */
export const claimSchema = z.object({
  stream: streamNameSchema,
  group: groupSchema,
  id: streamIdSchema,
  consumer: z
    .string({ error: "a consumer is required" })
    .min(1, "a consumer is required")
    .max(200, "a consumer name is at most 200 characters")
    .regex(QUEUE_NAME_PATTERN, "a consumer name has only letters, digits and _ . : -"),
  reason: reasonSchema,
});

/** POST /api/queues/requeue */
export const requeueSchema = z.object({ stream: streamNameSchema, deadId: streamIdSchema, reason: reasonSchema });

/** POST /api/queues/purge: what the operator was shown (newest dead letter id; "" only with none). */
export const purgeSchema = z
  .object({
    stream: streamNameSchema,
    expectedCount: z
      .number({ error: "the number of dead letters shown is required" })
      .int("must be a whole number")
      .min(0, "must not be negative")
      .max(Number.MAX_SAFE_INTEGER),
    expectedLastId: z.union([z.literal(""), streamIdSchema], { error: "must be the newest dead letter's id, or empty" }),
    reason: reasonSchema,
  })
  .refine((b) => (b.expectedCount === 0) === (b.expectedLastId === ""), {
    path: ["expectedLastId"],
    message: "must be the newest dead letter's id when there are any, and empty when there are none",
  });
