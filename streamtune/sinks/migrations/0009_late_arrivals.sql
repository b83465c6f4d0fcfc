-- Events (and dead letters) that came after their window was closed and dropped
-- from the window agent's state: counted here per window and per window delta
-- (raw partition, first offset), so a replay folds away. The events themselves are
-- in their event tables; add these counts to `aggregates` for the whole picture.

CREATE TABLE IF NOT EXISTS {db}.late_arrivals (
    window_start DateTime64(3, 'UTC'),
    source LowCardinality(String),
    command_type LowCardinality(String),
    raw_partition String COMMENT 'topic/partition the events were read from',
    start_offset Int64,
    events UInt64,
    successes UInt64,
    errors UInt64,
    dlq_count UInt64,
    written_at DateTime64(3, 'UTC') DEFAULT now64(3)
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(window_start)
ORDER BY (source, command_type, window_start, raw_partition, start_offset);
