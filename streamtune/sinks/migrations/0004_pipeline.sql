-- The stream pipeline's outputs: augmented training rows with their lineage
-- and quality scores, per-batch quality-gate pass counts, and hourly rollups
-- of the window aggregates.

CREATE TABLE IF NOT EXISTS {db}.augmented (
    augmented_id UUID,
    parent_event_id UUID,
    kind LowCardinality(String),
    family LowCardinality(String),
    technique LowCardinality(String),
    synthetic Bool DEFAULT true,
    event_time DateTime64(3, 'UTC'),
    source LowCardinality(String),
    session_id String,
    raw_input String,
    normalized_input String,
    command_type LowCardinality(String),
    parameters String COMMENT 'JSON object',
    context String COMMENT 'JSON object',
    success Nullable(Bool),
    execution_time Nullable(Float64),
    error_type LowCardinality(String),
    error_message String,
    failed_command String COMMENT 'JSON object',
    correction String COMMENT 'JSON object',
    recovery_steps Array(String),
    success_indicator Nullable(Bool),
    semantic_confidence Float32,
    syntax_ok Bool,
    dry_run_ok Bool,
    ingested_at DateTime64(3, 'UTC') DEFAULT now64(3)
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(event_time)
ORDER BY (technique, augmented_id)
TTL toDateTime(event_time) + INTERVAL 30 DAY;

CREATE TABLE IF NOT EXISTS {db}.augmentation_qc (
    batch_id String COMMENT 'raw topic/partition/first offset of the batch',
    technique LowCardinality(String),
    generated UInt32,
    semantic_passed UInt32,
    syntax_passed UInt32,
    dry_run_passed UInt32,
    accepted UInt32,
    batch_rejected Bool,
    recorded_at DateTime64(3, 'UTC') DEFAULT now64(3)
) ENGINE = ReplacingMergeTree
ORDER BY (batch_id, technique);

CREATE TABLE IF NOT EXISTS {db}.aggregates_hourly (
    hour DateTime('UTC'),
    source LowCardinality(String),
    command_type LowCardinality(String),
    windows UInt64,
    events UInt64,
    successes UInt64,
    success_rate Float64,
    errors_by_type Map(LowCardinality(String), UInt64),
    execution_time_p95_max Float64,
    dlq_count UInt64
) ENGINE = MergeTree
ORDER BY (source, command_type, hour);

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.aggregates_hourly_mv
REFRESH EVERY 1 MINUTE TO {db}.aggregates_hourly AS
SELECT
    hour, source, command_type, windows, events, successes,
    if(events = 0, 0, successes / events) AS success_rate,
    errors_by_type, execution_time_p95_max, dlq_count
FROM (
    SELECT
        toStartOfHour(a.window_start) AS hour,
        a.source AS source,
        a.command_type AS command_type,
        count() AS windows,
        sum(a.events) AS events,
        sum(a.successes) AS successes,
        sumMap(a.errors_by_type) AS errors_by_type,
        max(a.execution_time_p95) AS execution_time_p95_max,
        sum(a.dlq_count) AS dlq_count
    FROM {db}.aggregates AS a FINAL
    GROUP BY hour, source, command_type
);
