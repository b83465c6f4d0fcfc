-- The model registry's metadata, imported from its outbox
-- (<data_dir>/models/outbox.jsonl) by the process that owns the store.
-- Files stay under the data directory; these tables say what exists and
-- which version was champion when. Replays of the outbox fold away: versions
-- by (name, version), events by their record_id (query with FINAL).

CREATE TABLE IF NOT EXISTS {db}.model_versions (
    name LowCardinality(String),
    version String,
    sha256 String COMMENT 'of model.onnx',
    created_at DateTime64(3, 'UTC'),
    dataset_name String,
    dataset_id String,
    hyperparameters String COMMENT 'JSON object',
    metrics String COMMENT 'JSON object of name -> float',
    architecture String COMMENT 'JSON object',
    parent String COMMENT 'version it was warm-started from, or empty',
    path String COMMENT 'folder holding model.onnx and MODEL_CARD.md',
    imported_at DateTime64(3, 'UTC') DEFAULT now64(3)
) ENGINE = ReplacingMergeTree
ORDER BY (name, version);

CREATE TABLE IF NOT EXISTS {db}.model_events (
    record_id String,
    time DateTime64(3, 'UTC'),
    name LowCardinality(String),
    version String,
    event LowCardinality(String) COMMENT 'registered, promoted, rolled_back, challenger',
    previous_version String COMMENT 'champion (or challenger) before, or empty',
    reason String,
    imported_at DateTime64(3, 'UTC') DEFAULT now64(3)
) ENGINE = ReplacingMergeTree
ORDER BY (name, record_id);
