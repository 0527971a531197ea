-- CreateSchema
CREATE SCHEMA IF NOT EXISTS "public";

-- CreateEnum
CREATE TYPE "TxStatus" AS ENUM ('ACTIVE', 'PREPARING', 'COMMITTING', 'COMMITTED', 'ABORTING', 'ABORTED');

-- CreateEnum
CREATE TYPE "BranchStatus" AS ENUM ('ACTIVE', 'PREPARED', 'FAILED', 'COMMITTED', 'ABORTED');

-- CreateEnum
CREATE TYPE "Decision" AS ENUM ('COMMIT', 'ABORT');

-- CreateTable
CREATE TABLE "transactions" (
    "id" UUID NOT NULL,
    "label" TEXT NOT NULL,
    "status" "TxStatus" NOT NULL,
    "decision" "Decision",
    "coordinator_id" UUID,
    "started_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "deadline_at" TIMESTAMPTZ(3) NOT NULL,
    "decided_at" TIMESTAMPTZ(3),
    "ended_at" TIMESTAMPTZ(3),
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "abort_reason" TEXT,
    "outcome" "TxStatus",

    CONSTRAINT "transactions_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "branches" (
    "tx_id" UUID NOT NULL,
    "shard" TEXT NOT NULL,
    "gid" TEXT NOT NULL,
    "status" "BranchStatus" NOT NULL,
    "vote" BOOLEAN,
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "last_error" TEXT,
    "next_retry_at" TIMESTAMPTZ(3),
    "prepared_at" TIMESTAMPTZ(3),
    "resolved_at" TIMESTAMPTZ(3),

    CONSTRAINT "branches_pkey" PRIMARY KEY ("tx_id","shard")
);

-- CreateTable
CREATE TABLE "tx_log" (
    "id" BIGSERIAL NOT NULL,
    "tx_id" UUID NOT NULL,
    "at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "type" TEXT NOT NULL,
    "actor" TEXT NOT NULL,
    "shard" TEXT,
    "data" JSONB,

    CONSTRAINT "tx_log_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "engine_instances" (
    "id" UUID NOT NULL,
    "host" TEXT NOT NULL,
    "pid" INTEGER NOT NULL,
    "started_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "heartbeat_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "lease_expires_at" TIMESTAMPTZ(3) NOT NULL,
    "stopped_at" TIMESTAMPTZ(3),

    CONSTRAINT "engine_instances_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "shards" (
    "name" TEXT NOT NULL,
    "weight" INTEGER NOT NULL DEFAULT 1,
    "added_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "last_seen_at" TIMESTAMPTZ(3),
    "last_error" TEXT,

    CONSTRAINT "shards_pkey" PRIMARY KEY ("name")
);

-- CreateIndex
CREATE INDEX "transactions_started_at_id_idx" ON "transactions"("started_at" DESC, "id" DESC);

-- CreateIndex
CREATE INDEX "transactions_outcome_started_at_id_idx" ON "transactions"("outcome", "started_at" DESC, "id" DESC);

-- CreateIndex
CREATE INDEX "transactions_label_started_at_id_idx" ON "transactions"("label", "started_at" DESC, "id" DESC);


-- CreateIndex
CREATE INDEX "tx_log_tx_id_id_idx" ON "tx_log"("tx_id", "id");

-- CreateIndex
CREATE INDEX "engine_instances_lease_expires_at_idx" ON "engine_instances"("lease_expires_at");

-- AddForeignKey
ALTER TABLE "branches" ADD CONSTRAINT "branches_tx_id_fkey" FOREIGN KEY ("tx_id") REFERENCES "transactions"("id") ON DELETE CASCADE ON UPDATE CASCADE;


-- Hand-written (Prisma cannot express partial indexes or storage parameters).
-- A transaction row and its branch rows are updated several times in a few milliseconds,
-- leaving room on each page and keeping the changing columns out of every index lets
-- PostgreSQL do those updates heap-only (HOT), without writing any index.
ALTER TABLE "transactions" SET (fillfactor = 80);
ALTER TABLE "branches" SET (fillfactor = 80);
-- Unfinished transactions are a tiny share of the log: takeover, the in-flight views and
-- the engine's own sweeps only ever look at them.
CREATE INDEX "transactions_open_idx" ON "transactions"("started_at" DESC, "id" DESC) WHERE "ended_at" IS NULL;
CREATE INDEX "transactions_open_by_coordinator_idx" ON "transactions"("coordinator_id") WHERE "ended_at" IS NULL;
-- Branches still waiting for an outcome, per shard (in-doubt views, shard recovery).
CREATE INDEX "branches_unresolved_idx" ON "branches"("shard") WHERE "resolved_at" IS NULL;
