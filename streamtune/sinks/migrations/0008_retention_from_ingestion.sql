-- Retention counts from ingestion, not from event time: a history imported
-- today (events dated months ago) is kept for the whole retention period.
-- `streamtune` re-applies the configured number of days at start-up
-- (RAW_RETENTION_HOURS); existing parts take the new rule as they merge.

ALTER TABLE {db}.commands MODIFY TTL toDateTime(ingested_at) + INTERVAL 30 DAY
    SETTINGS materialize_ttl_after_modify = 0;
ALTER TABLE {db}.errors MODIFY TTL toDateTime(ingested_at) + INTERVAL 30 DAY
    SETTINGS materialize_ttl_after_modify = 0;
ALTER TABLE {db}.feedback MODIFY TTL toDateTime(ingested_at) + INTERVAL 30 DAY
    SETTINGS materialize_ttl_after_modify = 0;
ALTER TABLE {db}.corrections MODIFY TTL toDateTime(ingested_at) + INTERVAL 30 DAY
    SETTINGS materialize_ttl_after_modify = 0;
ALTER TABLE {db}.traces MODIFY TTL toDateTime(ingested_at) + INTERVAL 30 DAY
    SETTINGS materialize_ttl_after_modify = 0;
ALTER TABLE {db}.metrics MODIFY TTL toDateTime(ingested_at) + INTERVAL 30 DAY
    SETTINGS materialize_ttl_after_modify = 0;
ALTER TABLE {db}.performance MODIFY TTL toDateTime(ingested_at) + INTERVAL 30 DAY
    SETTINGS materialize_ttl_after_modify = 0;
ALTER TABLE {db}.error_states MODIFY TTL toDateTime(ingested_at) + INTERVAL 30 DAY
    SETTINGS materialize_ttl_after_modify = 0;
ALTER TABLE {db}.augmented MODIFY TTL toDateTime(ingested_at) + INTERVAL 30 DAY
    SETTINGS materialize_ttl_after_modify = 0;
ALTER TABLE {db}.predictions MODIFY TTL toDateTime(scored_at) + INTERVAL 30 DAY
    SETTINGS materialize_ttl_after_modify = 0;
