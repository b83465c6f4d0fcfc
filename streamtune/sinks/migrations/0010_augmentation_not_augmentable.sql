-- Selected events no augmentation technique could augment are counted per batch,
-- command type and reason: technique 'not augmentable: <reason>', `not_augmentable`
-- events, no generated rows. The per-technique rows keep command_type ''.

ALTER TABLE {db}.augmentation_qc
    ADD COLUMN IF NOT EXISTS command_type LowCardinality(String),
    ADD COLUMN IF NOT EXISTS not_augmentable UInt32 DEFAULT 0,
    MODIFY ORDER BY (batch_id, technique, command_type);
