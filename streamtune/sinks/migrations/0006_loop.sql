-- The real-time learning loop: inline predictions with their model version,
-- alerts, canary/rollout decisions, continuous evaluations and human reviews.
-- Every table folds replays by identity (query with FINAL).

CREATE TABLE IF NOT EXISTS {db}.predictions (
    event_id UUID,
    session_id String,
    event_time DateTime64(3, 'UTC'),
    kind LowCardinality(String) COMMENT 'command or error',
    command_type LowCardinality(String) COMMENT 'executed type (commands) or failed type (errors)',
    model LowCardinality(String),
    version String,
    role LowCardinality(String) COMMENT 'champion, challenger (serving a rollout share) or shadow',
    served Bool COMMENT 'this answer was the one used for the event',
    label String COMMENT 'first head: its best label',
    confidence Float32,
    outputs String COMMENT 'JSON object: head -> {label, confidence}, or spans',
    truth String COMMENT 'known right answer of the first head, empty until known',
    correct Int8 COMMENT '1, 0, or -1 while the truth is unknown',
    latency_us UInt32 COMMENT 'scoring time of the micro-batch per event',
    worker String,
    scored_at DateTime64(3, 'UTC') DEFAULT now64(3)
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(event_time)
ORDER BY (model, role, event_id)
TTL toDateTime(event_time) + INTERVAL 30 DAY;

CREATE TABLE IF NOT EXISTS {db}.alerts (
    alert_id UUID,
    kind LowCardinality(String),
    severity LowCardinality(String),
    title String,
    summary String,
    signal LowCardinality(String),
    scope String,
    model LowCardinality(String),
    version String,
    raised_at DateTime64(3, 'UTC'),
    source String,
    details String COMMENT 'JSON object',
    stored_at DateTime64(3, 'UTC') DEFAULT now64(3)
) ENGINE = ReplacingMergeTree
ORDER BY (kind, alert_id);

CREATE TABLE IF NOT EXISTS {db}.loop_decisions (
    decision_id String,
    time DateTime64(3, 'UTC'),
    model LowCardinality(String),
    candidate String,
    champion String,
    stage LowCardinality(String) COMMENT 'trigger, offline, canary, rollout_<percent>, evaluation',
    decision LowCardinality(String) COMMENT 'train, advance, promote, rollback, reject, hold',
    reason String,
    metrics String COMMENT 'JSON object: the numbers behind the decision',
    stored_at DateTime64(3, 'UTC') DEFAULT now64(3)
) ENGINE = ReplacingMergeTree
ORDER BY (model, decision_id);

CREATE TABLE IF NOT EXISTS {db}.evaluations (
    evaluation_id String,
    time DateTime64(3, 'UTC'),
    schedule LowCardinality(String) COMMENT 'hourly, daily, on_demand',
    model LowCardinality(String),
    version String,
    metric LowCardinality(String),
    value Float64,
    threshold Float64,
    passed Bool,
    events UInt32,
    details String COMMENT 'JSON object',
    stored_at DateTime64(3, 'UTC') DEFAULT now64(3)
) ENGINE = ReplacingMergeTree
ORDER BY (model, evaluation_id, metric);

CREATE TABLE IF NOT EXISTS {db}.human_reviews (
    review_id String,
    sample_id String,
    event_id UUID,
    model LowCardinality(String),
    version String,
    input String,
    prediction String,
    reviewer String,
    accuracy UInt8 COMMENT '1-5',
    naturalness UInt8 COMMENT '1-5',
    effectiveness UInt8 COMMENT '1-5',
    comment String,
    reviewed_at DateTime64(3, 'UTC'),
    stored_at DateTime64(3, 'UTC') DEFAULT now64(3)
) ENGINE = ReplacingMergeTree
ORDER BY (sample_id, review_id);
