-- One table per event kind. Rows are identified by event_id: a replayed event
-- has the same sorting key, so ReplacingMergeTree folds it away (query with FINAL
-- for exact counts before merges). Raw events expire after 30 days.

CREATE TABLE IF NOT EXISTS {db}.commands (
    event_id UUID,
    schema_version UInt8,
    event_time DateTime64(3, 'UTC'),
    source LowCardinality(String),
    session_id String,
    raw_input String,
    normalized_input String,
    command_type LowCardinality(String),
    parameters String COMMENT 'JSON object',
    context String COMMENT 'JSON object',
    success Bool,
    execution_time Float64 COMMENT 'seconds',
    intent_labels Array(LowCardinality(String)),
    parameter_boundaries String COMMENT 'JSON array of {name,start,end,value}',
    entity_tags String COMMENT 'JSON array of {label,start,end,text}',
    complexity_score Nullable(Float32),
    kafka_topic LowCardinality(String) DEFAULT '',
    kafka_partition Int32 DEFAULT -1,
    kafka_offset Int64 DEFAULT -1,
    ingested_at DateTime64(3, 'UTC') DEFAULT now64(3)
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(event_time)
ORDER BY (command_type, event_time, event_id)
TTL toDateTime(event_time) + INTERVAL 30 DAY;

CREATE TABLE IF NOT EXISTS {db}.errors (
    event_id UUID,
    schema_version UInt8,
    event_time DateTime64(3, 'UTC'),
    source LowCardinality(String),
    session_id String,
    failed_command String COMMENT 'JSON object',
    error_type LowCardinality(String),
    error_message String,
    correction String COMMENT 'JSON object',
    recovery_steps Array(String),
    success_indicator Bool,
    error_category LowCardinality(String),
    severity_level LowCardinality(String),
    recovery_complexity Nullable(Float32),
    root_cause String,
    kafka_topic LowCardinality(String) DEFAULT '',
    kafka_partition Int32 DEFAULT -1,
    kafka_offset Int64 DEFAULT -1,
    ingested_at DateTime64(3, 'UTC') DEFAULT now64(3)
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(event_time)
ORDER BY (error_type, event_time, event_id)
TTL toDateTime(event_time) + INTERVAL 30 DAY;

CREATE TABLE IF NOT EXISTS {db}.feedback (
    event_id UUID,
    schema_version UInt8,
    event_time DateTime64(3, 'UTC'),
    source LowCardinality(String),
    session_id String,
    refers_to UUID,
    user_id String,
    rating Nullable(UInt8),
    helpful Nullable(Bool),
    comment String,
    actual_command_type LowCardinality(String),
    kafka_topic LowCardinality(String) DEFAULT '',
    kafka_partition Int32 DEFAULT -1,
    kafka_offset Int64 DEFAULT -1,
    ingested_at DateTime64(3, 'UTC') DEFAULT now64(3)
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(event_time)
ORDER BY (event_time, event_id)
TTL toDateTime(event_time) + INTERVAL 30 DAY;

CREATE TABLE IF NOT EXISTS {db}.corrections (
    event_id UUID,
    schema_version UInt8,
    event_time DateTime64(3, 'UTC'),
    source LowCardinality(String),
    session_id String,
    refers_to UUID,
    original_input String,
    corrected_input String,
    original_command_type LowCardinality(String),
    corrected_command_type LowCardinality(String),
    corrected_parameters String COMMENT 'JSON object',
    kafka_topic LowCardinality(String) DEFAULT '',
    kafka_partition Int32 DEFAULT -1,
    kafka_offset Int64 DEFAULT -1,
    ingested_at DateTime64(3, 'UTC') DEFAULT now64(3)
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(event_time)
ORDER BY (event_time, event_id)
TTL toDateTime(event_time) + INTERVAL 30 DAY;

CREATE TABLE IF NOT EXISTS {db}.traces (
    event_id UUID,
    schema_version UInt8,
    event_time DateTime64(3, 'UTC'),
    source LowCardinality(String),
    session_id String,
    trace_id String,
    span_id String,
    parent_span_id String,
    command_event_id Nullable(UUID),
    operation LowCardinality(String),
    duration_ms Float64,
    status LowCardinality(String),
    attributes String COMMENT 'JSON object',
    kafka_topic LowCardinality(String) DEFAULT '',
    kafka_partition Int32 DEFAULT -1,
    kafka_offset Int64 DEFAULT -1,
    ingested_at DateTime64(3, 'UTC') DEFAULT now64(3)
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(event_time)
ORDER BY (operation, event_time, event_id)
TTL toDateTime(event_time) + INTERVAL 30 DAY;

CREATE TABLE IF NOT EXISTS {db}.metrics (
    event_id UUID,
    schema_version UInt8,
    event_time DateTime64(3, 'UTC'),
    source LowCardinality(String),
    session_id String,
    host LowCardinality(String),
    metric LowCardinality(String),
    value Float64,
    unit LowCardinality(String),
    labels Map(LowCardinality(String), String),
    kafka_topic LowCardinality(String) DEFAULT '',
    kafka_partition Int32 DEFAULT -1,
    kafka_offset Int64 DEFAULT -1,
    ingested_at DateTime64(3, 'UTC') DEFAULT now64(3)
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(event_time)
ORDER BY (metric, host, event_time, event_id)
TTL toDateTime(event_time) + INTERVAL 30 DAY;

CREATE TABLE IF NOT EXISTS {db}.performance (
    event_id UUID,
    schema_version UInt8,
    event_time DateTime64(3, 'UTC'),
    source LowCardinality(String),
    session_id String,
    command_type LowCardinality(String),
    interval_s Float64,
    count UInt32,
    latency_p50_ms Float64,
    latency_p95_ms Float64,
    latency_p99_ms Float64,
    throughput_per_s Float64,
    kafka_topic LowCardinality(String) DEFAULT '',
    kafka_partition Int32 DEFAULT -1,
    kafka_offset Int64 DEFAULT -1,
    ingested_at DateTime64(3, 'UTC') DEFAULT now64(3)
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(event_time)
ORDER BY (command_type, event_time, event_id)
TTL toDateTime(event_time) + INTERVAL 30 DAY;

CREATE TABLE IF NOT EXISTS {db}.error_states (
    event_id UUID,
    schema_version UInt8,
    event_time DateTime64(3, 'UTC'),
    source LowCardinality(String),
    session_id String,
    component LowCardinality(String),
    state LowCardinality(String),
    previous_state LowCardinality(String),
    error_code LowCardinality(String),
    message String,
    severity_level LowCardinality(String),
    kafka_topic LowCardinality(String) DEFAULT '',
    kafka_partition Int32 DEFAULT -1,
    kafka_offset Int64 DEFAULT -1,
    ingested_at DateTime64(3, 'UTC') DEFAULT now64(3)
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(event_time)
ORDER BY (component, event_time, event_id)
TTL toDateTime(event_time) + INTERVAL 30 DAY;
