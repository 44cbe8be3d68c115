-- Workers: their own LOGIN role, leases on tasks, the outbox's per-campaign streams, processed events, and
-- the narrow SECURITY DEFINER functions through which a worker finds due work across organisations.
-- Every further read and write of a worker runs in one organisation's tenant transaction, like a request.
DO $$
BEGIN
  BEGIN
    CREATE ROLE prospectflow_worker LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOREPLICATION NOINHERIT;
  EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL; -- roles are cluster-wide: another database of this cluster (or a concurrent migration) made it
  END;
  -- a role that already existed must not bring more than a service may have
  IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'prospectflow_worker'
             AND (rolsuper OR rolbypassrls OR rolcreatedb OR rolcreaterole OR rolreplication)) THEN
    RAISE EXCEPTION 'role prospectflow_worker exists with superuser, bypassrls, createdb, createrole or replication rights';
  END IF;
  IF EXISTS (SELECT FROM pg_auth_members m JOIN pg_roles u ON u.oid = m.member WHERE u.rolname = 'prospectflow_worker') THEN
    RAISE EXCEPTION 'role prospectflow_worker is a member of another role; service roles must not be';
  END IF;
END $$;

-- ===== Task leases =====
-- A claimed task carries who holds it and until when; an expired lease is claimed again by the next worker.
ALTER TABLE outreach.tasks
  ADD COLUMN leased_by text,
  ADD COLUMN leased_until timestamptz;
CREATE INDEX tasks_lease_expiry ON outreach.tasks (leased_until) WHERE status IN ('QUEUED', 'RUNNING');

-- ===== Outbox: one ordered stream of events per campaign =====
-- `sequence` is gapless per campaign: the stream row is updated by every writer, so writers of one campaign
-- commit in sequence order and a relay never sees event n+1 before event n.
ALTER TABLE outreach.outbox
  ADD COLUMN campaign_id uuid NOT NULL,
  ADD COLUMN sequence bigint NOT NULL CHECK (sequence >= 1),
  ADD COLUMN attempts int NOT NULL DEFAULT 0,
  ADD COLUMN last_error text,
  ADD FOREIGN KEY (organisation_id, campaign_id) REFERENCES outreach.campaigns (organisation_id, id) ON DELETE CASCADE,
  ADD UNIQUE (organisation_id, campaign_id, sequence);
DROP INDEX outreach.outbox_unpublished;

CREATE TABLE outreach.outbox_streams (
  organisation_id uuid NOT NULL,
  campaign_id uuid NOT NULL,
  last_sequence bigint NOT NULL DEFAULT 0,
  published_sequence bigint NOT NULL DEFAULT 0,
  leased_by text,
  leased_until timestamptz,
  last_claimed_at timestamptz,
  PRIMARY KEY (organisation_id, campaign_id),
  FOREIGN KEY (organisation_id, campaign_id) REFERENCES outreach.campaigns (organisation_id, id) ON DELETE CASCADE,
  CHECK (published_sequence <= last_sequence)
);
-- streams with events to relay, least recently claimed first
CREATE INDEX outbox_streams_pending ON outreach.outbox_streams (last_claimed_at NULLS FIRST)
  WHERE published_sequence < last_sequence;
SELECT public.enable_tenant_rls('outreach.outbox_streams');

-- Events a consumer has handled, written in the same transaction as the handling: a redelivery is a no-op.
CREATE TABLE outreach.consumed_events (
  organisation_id uuid NOT NULL REFERENCES iam.organisations (id) ON DELETE CASCADE,
  consumer text NOT NULL CHECK (length(consumer) BETWEEN 1 AND 100),
  event_id uuid NOT NULL,
  consumed_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (organisation_id, consumer, event_id)
);
SELECT public.enable_tenant_rls('outreach.consumed_events');

-- ===== Claims across organisations: ids and organisation only =====
-- The arguments every claim takes: how many, for how long, by whom, as of when.
CREATE FUNCTION outreach.check_claim(p_limit int, p_lease_seconds int, p_worker text, p_now timestamptz)
  RETURNS void LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF p_limit IS NULL OR p_limit NOT BETWEEN 1 AND 10000 THEN
    RAISE EXCEPTION 'p_limit must be between 1 and 10000' USING ERRCODE = '22023';
  END IF;
  IF p_lease_seconds IS NULL OR p_lease_seconds NOT BETWEEN 1 AND 86400 THEN
    RAISE EXCEPTION 'p_lease_seconds must be between 1 and 86400' USING ERRCODE = '22023';
  END IF;
  IF p_worker IS NULL OR length(p_worker) NOT BETWEEN 1 AND 200 OR p_now IS NULL THEN
    RAISE EXCEPTION 'p_worker (1-200 characters) and p_now are required' USING ERRCODE = '22023';
  END IF;
END $$;
-- Due PENDING tasks, and tasks whose lease expired (a scheduler or worker that died), oldest first. Rows
-- locked by a concurrent claim are skipped, so two claimers never get the same task.
CREATE FUNCTION outreach.claim_due_tasks(p_limit int, p_lease_seconds int, p_worker text, p_now timestamptz)
  RETURNS TABLE (organisation_id uuid, id uuid, kind text)
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_column
BEGIN
  PERFORM outreach.check_claim(p_limit, p_lease_seconds, p_worker, p_now);
  RETURN QUERY
  WITH due AS (
    SELECT t.organisation_id, t.id FROM outreach.tasks t
    WHERE (t.status = 'PENDING' AND t.scheduled_for <= p_now AND (t.leased_until IS NULL OR t.leased_until <= p_now))
       OR (t.status IN ('QUEUED', 'RUNNING') AND t.leased_until <= p_now)
    ORDER BY t.scheduled_for, t.id
    LIMIT p_limit
    FOR UPDATE SKIP LOCKED
  )
  UPDATE outreach.tasks t
  SET leased_by = p_worker, leased_until = p_now + make_interval(secs => p_lease_seconds), updated_at = now()
  FROM due
  WHERE t.organisation_id = due.organisation_id AND t.id = due.id
  RETURNING t.organisation_id, t.id, t.kind;
END $$;

-- Campaign streams with unpublished events whose lease is free or expired. One holder per stream at a time,
-- so a campaign's events leave in order; the relay reads the events themselves in the tenant's transaction.
CREATE FUNCTION outreach.claim_outbox(p_limit int, p_lease_seconds int, p_worker text, p_now timestamptz)
  RETURNS TABLE (organisation_id uuid, campaign_id uuid, published_sequence bigint)
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_column
BEGIN
  PERFORM outreach.check_claim(p_limit, p_lease_seconds, p_worker, p_now);
  RETURN QUERY
  WITH pending AS (
    SELECT s.organisation_id, s.campaign_id FROM outreach.outbox_streams s
    WHERE s.published_sequence < s.last_sequence AND (s.leased_until IS NULL OR s.leased_until <= p_now)
    ORDER BY s.last_claimed_at NULLS FIRST
    LIMIT p_limit
    FOR UPDATE SKIP LOCKED
  )
  UPDATE outreach.outbox_streams s
  SET leased_by = p_worker, leased_until = p_now + make_interval(secs => p_lease_seconds), last_claimed_at = p_now
  FROM pending
  WHERE s.organisation_id = pending.organisation_id AND s.campaign_id = pending.campaign_id
  RETURNING s.organisation_id, s.campaign_id, s.published_sequence;
END $$;

-- Functions in outreach are executable by the outreach service by default (0008): these are the workers' only.
REVOKE ALL ON FUNCTION outreach.claim_due_tasks(int, int, text, timestamptz),
  outreach.claim_outbox(int, int, text, timestamptz) FROM PUBLIC, prospectflow_outreach;

-- ===== Worker grants: everything the workers may use, and nothing else =====
-- outreach: DML on every table, now and for tables later migrations add; the claim functions.
GRANT USAGE ON SCHEMA outreach TO prospectflow_worker;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA outreach TO prospectflow_worker;
GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA outreach TO prospectflow_worker;
ALTER DEFAULT PRIVILEGES IN SCHEMA outreach GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO prospectflow_worker;
ALTER DEFAULT PRIVILEGES IN SCHEMA outreach GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO prospectflow_worker;
GRANT EXECUTE ON FUNCTION outreach.claim_due_tasks(int, int, text, timestamptz),
  outreach.claim_outbox(int, int, text, timestamptz) TO prospectflow_worker;
-- the tenant policies call it
GRANT EXECUTE ON FUNCTION public.current_organisation_id() TO prospectflow_worker;
-- crm, read-only: what a draft is written from and what a send is checked against
GRANT USAGE ON SCHEMA crm TO prospectflow_worker;
GRANT SELECT ON crm.positions, crm.people, crm.companies, crm.suppressions TO prospectflow_worker;
-- ===== end of worker grants =====
