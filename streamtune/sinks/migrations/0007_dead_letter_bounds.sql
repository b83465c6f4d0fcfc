-- Dead letters of any size: the kept bytes are bounded (a prefix of longer
-- records), and the whole record is described by its length and SHA-256.

ALTER TABLE {db}.dead_letters
    ADD COLUMN IF NOT EXISTS raw_length UInt64 DEFAULT 0 COMMENT 'bytes in the whole record',
    ADD COLUMN IF NOT EXISTS raw_sha256 String DEFAULT '' COMMENT 'SHA-256 of the whole record',
    ADD COLUMN IF NOT EXISTS truncated Bool DEFAULT false COMMENT 'raw_b64 holds a prefix';
