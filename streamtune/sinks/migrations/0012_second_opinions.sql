-- The teacher's second opinion on the intent answers its inline student served unsure
-- (`streamtune second-opinion`): both answers per event and version; replays fold.

CREATE TABLE IF NOT EXISTS {db}.second_opinions (
    event_id UUID,
    event_time DateTime64(3, 'UTC'),
    session_id String,
    model LowCardinality(String),
    version String,
    student_label String COMMENT 'the answer served inline',
    student_confidence Float32,
    label String COMMENT 'the teacher''s answer',
    confidence Float32,
    out_of_scope Bool COMMENT 'the teacher''s out-of-scope flag',
    agrees Bool COMMENT 'the teacher gave the served answer',
    truth String COMMENT 'the executed command type, when known',
    answered_at DateTime64(3, 'UTC') DEFAULT now64(3)
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(event_time)
ORDER BY (model, version, event_id)
TTL toDateTime(answered_at) + INTERVAL 30 DAY;
