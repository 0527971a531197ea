-- This coordinator database's identity as a deployment (server/engine/deploymentGuard.ts).
-- Engines claim their namespace (COHORT_NAMESPACE) for it on every shard database and in
-- Redis, so a second coordinator database configured with the same namespace by mistake
-- is refused at start instead of reconciling away the first one's prepared branches.
-- It also pins the namespace: the gids of this database's unfinished transactions carry
-- it, so an engine started with another COHORT_NAMESPACE could never finish them.
-- The row is written by the first engine start, not here: databases cloned from a migrated
-- template (tests, scratch environments) must each get an id of their own.
CREATE TABLE "deployment" (
    "singleton" BOOLEAN NOT NULL DEFAULT true,
    "id" UUID NOT NULL,
    "namespace" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT now(),

    CONSTRAINT "deployment_pkey" PRIMARY KEY ("singleton"),
    CONSTRAINT "deployment_singleton_check" CHECK ("singleton")
);
