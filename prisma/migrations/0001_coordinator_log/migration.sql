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
CREATE INDEX "transactions_status_started_at_id_idx" ON "transactions"("status", "started_at" DESC, "id" DESC);

-- CreateIndex
CREATE INDEX "transactions_label_started_at_id_idx" ON "transactions"("label", "started_at" DESC, "id" DESC);

-- CreateIndex
CREATE INDEX "branches_shard_status_idx" ON "branches"("shard", "status");

-- CreateIndex
CREATE INDEX "tx_log_tx_id_id_idx" ON "tx_log"("tx_id", "id");

-- CreateIndex
CREATE INDEX "engine_instances_lease_expires_at_idx" ON "engine_instances"("lease_expires_at");

-- AddForeignKey
ALTER TABLE "branches" ADD CONSTRAINT "branches_tx_id_fkey" FOREIGN KEY ("tx_id") REFERENCES "transactions"("id") ON DELETE CASCADE ON UPDATE CASCADE;


-- Hand-written (Prisma cannot express partial indexes): takeover and the in-flight
-- views only ever look at unfinished transactions, which are a tiny share of the log.
CREATE INDEX "transactions_open_by_coordinator_idx" ON "transactions"("coordinator_id", "started_at")
  WHERE "status" NOT IN ('COMMITTED', 'ABORTED');
