-- The lean commit path (server/engine/coordinatorLog.ts): the row is first written with
-- PREPARING (prepared_at), one-phase commits are marked, and the row keeps room on its page
-- so that the COMMIT decision's update stays heap-only (HOT: no index entries).
ALTER TABLE "transactions" ADD COLUMN "prepared_at" TIMESTAMPTZ(3);
ALTER TABLE "transactions" ADD COLUMN "one_phase" BOOLEAN NOT NULL DEFAULT false;
ALTER TABLE "transactions" SET (fillfactor = 80);
