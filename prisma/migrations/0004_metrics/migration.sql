-- Hand-written (Prisma cannot express partial indexes).
-- The Overview charts count commits and aborts and take commit latency percentiles by the
-- time a transaction ended, over the last minutes. Without this index that is a full scan
-- of the coordinator log on every refresh.
-- The end record is already a non-HOT update (it sets outcome and ended_at, which other
-- indexes cover), so this costs one more index entry per transaction and leaves the
-- status changes before it heap-only.
CREATE INDEX "transactions_ended_at_idx" ON "transactions"("ended_at") WHERE "ended_at" IS NOT NULL;
