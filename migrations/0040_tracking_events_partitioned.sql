-- Raw tracking events when no ClickHouse is configured: one row per answered hit, partitioned by month so a
-- month is written, read and dropped as one table. The events worker inserts (ON CONFLICT DO NOTHING: a
-- redelivered batch adds nothing) and asks for the partitions its hits need through ensure_event_partitions.
-- The first, unpartitioned table held no data worth keeping; its opens and clicks move across all the same.
ALTER TABLE tracking.events RENAME TO events_unpartitioned;
ALTER TABLE tracking.events_unpartitioned RENAME CONSTRAINT events_pkey TO events_unpartitioned_pkey;
ALTER INDEX tracking.events_message RENAME TO events_unpartitioned_message;

CREATE TABLE tracking.events (
  organisation_id uuid NOT NULL,
  id uuid NOT NULL,
  kind text NOT NULL CHECK (kind IN ('OPEN', 'CLICK')),
  message_id uuid NOT NULL,
  -- the clicked URL; null for an open
  url text,
  -- why the endpoint took it for a machine ('head', 'scanner-ua', 'apple-privacy-proxy'); null: a person
  machine text,
  user_agent text,
  -- a keyed hash of the client address, never the address
  ip_hash text,
  occurred_at timestamptz NOT NULL,
  -- a partitioned table's keys include the partition key; a hit's time never changes, so the id stays unique
  PRIMARY KEY (organisation_id, id, occurred_at),
  FOREIGN KEY (organisation_id, message_id) REFERENCES outreach.messages (organisation_id, id) ON DELETE CASCADE
) PARTITION BY RANGE (occurred_at);
CREATE INDEX events_message ON tracking.events (organisation_id, message_id, occurred_at);
SELECT public.enable_tenant_rls('tracking.events');

-- Creates the monthly partitions (UTC months) covering [p_from, p_to] that do not exist yet, each with the
-- tenant policy, and returns how many it made. The events worker has no DDL rights: this is its only way in.
CREATE FUNCTION tracking.ensure_event_partitions(p_from timestamptz, p_to timestamptz) RETURNS int
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
  month timestamp := date_trunc('month', p_from AT TIME ZONE 'UTC');
  last timestamp := date_trunc('month', p_to AT TIME ZONE 'UTC');
  part text;
  made int := 0;
BEGIN
  IF p_from IS NULL OR p_to IS NULL OR p_to < p_from OR p_to - p_from > interval '400 days' THEN
    RAISE EXCEPTION 'ensure_event_partitions needs p_from <= p_to, at most 400 days apart' USING ERRCODE = '22023';
  END IF;
  WHILE month <= last LOOP
    part := 'events_' || to_char(month, 'YYYY_MM');
    IF to_regclass('tracking.' || part) IS NULL THEN
      BEGIN
        EXECUTE format('CREATE TABLE tracking.%I PARTITION OF tracking.events FOR VALUES FROM (%L) TO (%L)',
          part, month AT TIME ZONE 'UTC', (month + interval '1 month') AT TIME ZONE 'UTC');
        PERFORM public.enable_tenant_rls(('tracking.' || part)::regclass);
        made := made + 1;
      EXCEPTION WHEN duplicate_table OR unique_violation THEN
        NULL; -- another worker made it meanwhile
      END;
    END IF;
    month := month + interval '1 month';
  END LOOP;
  RETURN made;
END $$;
-- functions in tracking are the tracking service's by default (0008): this one is the workers' only
REVOKE ALL ON FUNCTION tracking.ensure_event_partitions(timestamptz, timestamptz) FROM PUBLIC, prospectflow_tracking;

-- partitions for the old rows, last month and the coming ones; later months are made as hits need them
SELECT tracking.ensure_event_partitions(
  least(now() - interval '1 month', (SELECT min(occurred_at) FROM tracking.events_unpartitioned)),
  greatest(now() + interval '3 months', (SELECT max(occurred_at) FROM tracking.events_unpartitioned)));
INSERT INTO tracking.events (organisation_id, id, kind, message_id, machine, user_agent, ip_hash, occurred_at)
SELECT organisation_id, id, kind, message_id, CASE WHEN machine THEN 'scanner-ua' END, user_agent, ip_hash,
  occurred_at
FROM tracking.events_unpartitioned WHERE kind IN ('OPEN', 'CLICK');
DROP TABLE tracking.events_unpartitioned;

-- the events worker writes raw events (and nothing else here) in each organisation's tenant transaction
GRANT USAGE ON SCHEMA tracking TO prospectflow_worker;
GRANT INSERT ON tracking.events TO prospectflow_worker;
GRANT EXECUTE ON FUNCTION tracking.ensure_event_partitions(timestamptz, timestamptz) TO prospectflow_worker;
