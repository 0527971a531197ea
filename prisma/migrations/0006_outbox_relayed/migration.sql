-- The relay keeps a row after putting its event on the stream (DESIGN.md section 4): a Redis
-- without persistence can lose the stream, and the row is what re-publishes the event then.
-- relayed_at marks a row as on the stream, stream_id is the entry id it got there and
-- relay_epoch the marker value of the Redis it went to (the marker is a random key the relay
-- writes: a Redis without it lost its data, and every kept row is marked unrelayed again
-- and goes out once more). A row is deleted once every consumer group of that Redis has
-- acknowledged its entry, or after a retention window while Redis persists (AOF).
ALTER TABLE "outbox" ADD COLUMN "relayed_at" TIMESTAMPTZ(3);
ALTER TABLE "outbox" ADD COLUMN "stream_id" TEXT;
ALTER TABLE "outbox" ADD COLUMN "relay_epoch" TEXT;

-- The relay's hot read: the oldest rows not relayed yet.
CREATE INDEX "outbox_unrelayed_idx" ON "outbox"("seq") WHERE "relayed_at" IS NULL;
