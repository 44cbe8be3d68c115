-- Raw tracking hits: one row per hit id, partitioned by month. A redelivered batch writes its rows again:
-- ReplacingMergeTree folds rows with the same key (the hit id is in it) during merges, and until then readers
-- count uniqExact(id) (or read with FINAL), so a hit counts once either way.
-- DateTime + milliseconds because 18.16 has no DateTime64; Enum8 and Nullable(String) exist in both.
CREATE TABLE IF NOT EXISTS tracking_events (
  organisation_id UUID,
  message_id UUID,
  id UUID,
  kind Enum8('OPEN' = 1, 'CLICK' = 2),
  occurred_at DateTime,
  occurred_ms UInt16,
  url Nullable(String),
  machine Nullable(String),
  user_agent Nullable(String),
  ip_hash Nullable(String)
) ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (organisation_id, message_id, id);
