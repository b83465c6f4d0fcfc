-- Closed tumbling windows per source and command type, written once per window
-- by the stream's windowing step. Kept without TTL.

CREATE TABLE IF NOT EXISTS {db}.aggregates (
    window_start DateTime64(3, 'UTC'),
    window_end DateTime64(3, 'UTC'),
    source LowCardinality(String),
    command_type LowCardinality(String),
    events UInt64,
    successes UInt64,
    success_rate Float64,
    errors_by_type Map(LowCardinality(String), UInt64),
    execution_time_p50 Float64,
    execution_time_p95 Float64,
    execution_time_p99 Float64,
    dlq_count UInt64,
    written_at DateTime64(3, 'UTC') DEFAULT now64(3)
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(window_start)
ORDER BY (source, command_type, window_start);
