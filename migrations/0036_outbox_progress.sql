-- The outbox's progress is its stream's published_sequence (what claim_outbox reads): marking every event
-- published as well doubled the relay's writes (one more row version and index entry per event) and told
-- nothing the sequence does not. An event is published when its sequence is at most its stream's.
ALTER TABLE outreach.outbox DROP COLUMN published_at;
