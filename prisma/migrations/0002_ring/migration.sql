-- CreateEnum
CREATE TYPE "RebalanceStatus" AS ENUM ('RUNNING', 'CANCELLED', 'FAILED', 'DONE');

-- CreateTable
CREATE TABLE "ring_versions" (
    "version" INTEGER NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "created_by" TEXT NOT NULL,
    "reason" TEXT NOT NULL,
    "members" JSONB NOT NULL,
    "vnodes_per_weight" INTEGER NOT NULL,

    CONSTRAINT "ring_versions_pkey" PRIMARY KEY ("version")
);

-- CreateTable
CREATE TABLE "rebalance_runs" (
    "id" UUID NOT NULL,
    "from_version" INTEGER NOT NULL,
    "to_version" INTEGER NOT NULL,
    "status" "RebalanceStatus" NOT NULL DEFAULT 'RUNNING',
    "total" INTEGER,
    "moved" INTEGER NOT NULL DEFAULT 0,
    "skipped" INTEGER NOT NULL DEFAULT 0,
    "cursor" TEXT,
    "owner_id" TEXT,
    "lease_expires_at" TIMESTAMPTZ(3),
    "last_error" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "created_by" TEXT NOT NULL,
    "reason" TEXT NOT NULL,
    "started_at" TIMESTAMPTZ(3),
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "finished_at" TIMESTAMPTZ(3),
    "status_by" TEXT,
    "status_note" TEXT,

    CONSTRAINT "rebalance_runs_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "rebalance_runs_to_version_key" ON "rebalance_runs"("to_version");

-- CreateIndex
CREATE INDEX "rebalance_runs_created_at_idx" ON "rebalance_runs"("created_at" DESC);

-- AddForeignKey
ALTER TABLE "rebalance_runs" ADD CONSTRAINT "rebalance_runs_from_version_fkey" FOREIGN KEY ("from_version") REFERENCES "ring_versions"("version") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "rebalance_runs" ADD CONSTRAINT "rebalance_runs_to_version_fkey" FOREIGN KEY ("to_version") REFERENCES "ring_versions"("version") ON DELETE RESTRICT ON UPDATE CASCADE;


-- Hand-written (Prisma cannot express partial indexes): routing during a rebalance knows
-- exactly two rings, so at most one run may be unfinished at a time. ring/ringStore.ts
-- checks this before writing a version, the index makes it hold even against a race.
CREATE UNIQUE INDEX "rebalance_runs_one_unfinished_idx" ON "rebalance_runs"((true))
  WHERE "status" <> 'DONE';
