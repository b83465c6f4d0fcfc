-- Everything that could not be processed, byte for byte, with the reason and
-- where it came from. Kept longer than raw events: people read it to fix producers.

CREATE TABLE IF NOT EXISTS {db}.dead_letters (
    dead_letter_id UUID,
    raw_b64 String,
    reason String,
    category LowCardinality(String),
    topic LowCardinality(String),
    partition Int32,
    offset Int64,
    failed_at DateTime64(3, 'UTC'),
    ingested_at DateTime64(3, 'UTC') DEFAULT now64(3)
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(failed_at)
ORDER BY (topic, partition, offset, dead_letter_id)
TTL toDateTime(failed_at) + INTERVAL 90 DAY;
