-- Fencing epochs (server/locks/fencingEpoch.ts). A fencing token is epoch * 10^9 + a
-- counter kept in Redis. The lock service takes a new epoch from this sequence only when
-- Redis has none (it lost its data) or the counter ran out, so tokens keep growing across
-- Redis data loss and clock steps alike, with no database round trip per grant.
CREATE SEQUENCE "cohort_fencing_epoch" AS BIGINT MINVALUE 1 NO CYCLE;

-- Tokens used to be the Redis clock in microseconds, and shards keep the highest token per
-- row: start above every such token (epoch * 10^9 above now in microseconds), with a margin
-- of 1000 epochs (about 11 days) for a Redis clock ahead of this database's.
SELECT setval('cohort_fencing_epoch', floor(extract(epoch FROM clock_timestamp()) / 1000)::bigint + 1000, false);
