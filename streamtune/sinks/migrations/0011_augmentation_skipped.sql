-- The augment stage's budget: command and error events it chose not to augment are
-- counted per batch and reason (and command type, for errors, failures, new and rare
-- types): technique 'skipped: <reason>', `skipped` events, no generated rows.

ALTER TABLE {db}.augmentation_qc
    ADD COLUMN IF NOT EXISTS skipped UInt32 DEFAULT 0;
