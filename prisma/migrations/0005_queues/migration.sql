-- Transactional outbox (DESIGN.md §4), with Debezium's outbox column names so that a
-- Debezium outbox event router could read this table as well as Cohort's own relay.
-- Rows are written by the COMMIT decision statement and deleted by the relay once they
-- are on the stream: the table holds only what has not been relayed yet.
CREATE TABLE "outbox" (
    "seq" BIGSERIAL NOT NULL,
    "id" UUID NOT NULL,
    "tx_id" UUID NOT NULL,
    "aggregatetype" VARCHAR(255) NOT NULL,
    "aggregateid" VARCHAR(255) NOT NULL,
    "type" VARCHAR(255) NOT NULL,
    "payload" JSONB NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT now(),

    CONSTRAINT "outbox_pkey" PRIMARY KEY ("seq")
);

CREATE UNIQUE INDEX "outbox_id_key" ON "outbox"("id");

-- A branch whose phase-2 queue entry reached the delivery limit: it waits for a person
-- (requeue from the dead-letter stream, or retry now), and the recovery sweeps leave it alone.
ALTER TABLE "branches" ADD COLUMN "dead_lettered_at" TIMESTAMPTZ(3);
