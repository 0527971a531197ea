-- A transaction's outbox events are logged with its PREPARING record, so that whoever logs
-- the COMMIT decision (its coordinator, or an operator's force-commit after the
-- coordinator died) turns the same events into outbox rows in the decision's statement.
-- NULL when the transaction publishes nothing: the common case costs no bytes.
ALTER TABLE "transactions" ADD COLUMN "outbox_events" JSONB;
