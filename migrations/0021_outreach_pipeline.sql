-- Outreach pipeline: what authoring, the scheduler and the drafter share. Mailbox limits and credentials
-- held encrypted, campaign options, the mailbox an enrolment keeps, what a claimed task was given (mailbox,
-- variant, send slot) and what a drafted message records (its task, model and tokens, its review).

-- ===== Mailboxes =====
ALTER TABLE outreach.mailboxes RENAME COLUMN min_spacing_seconds TO min_interval_seconds;
ALTER TABLE outreach.mailboxes
  ALTER COLUMN min_interval_seconds SET DEFAULT 90,
  ALTER COLUMN daily_limit SET DEFAULT 200,
  DROP COLUMN credentials,
  -- AES-256-GCM envelope of the provider credentials (lib/secrets); never returned, never logged
  ADD COLUMN credentials_encrypted text,
  ADD COLUMN auth_kind text NOT NULL DEFAULT 'NONE' CHECK (auth_kind IN ('NONE', 'OAUTH', 'DELEGATED')),
  ADD COLUMN status text NOT NULL DEFAULT 'ACTIVE' CHECK (status IN ('ACTIVE', 'NEEDS_RECONNECT')),
  -- a mailbox's day (its daily limit) runs from its local midnight
  ADD COLUMN timezone text NOT NULL DEFAULT 'UTC',
  ADD CHECK (min_interval_seconds BETWEEN 0 AND 86400);

-- ===== Campaigns =====
ALTER TABLE outreach.campaigns
  ADD COLUMN use_prospect_timezone boolean NOT NULL DEFAULT false,
  -- what a rejected draft does to its enrolment: go on with the next step, or stop
  ADD COLUMN on_reject text NOT NULL DEFAULT 'NEXT_STEP' CHECK (on_reject IN ('NEXT_STEP', 'STOP')),
  ADD COLUMN paused_at timestamptz,
  ADD COLUMN completed_at timestamptz,
  ADD COLUMN archived_at timestamptz;

-- ===== Enrolments =====
ALTER TABLE outreach.campaign_enrollments
  -- the mailbox of the prospect's first message: every later message of the sequence leaves from it
  ADD COLUMN mailbox_id uuid,
  -- the address enrolled, as it was: one running campaign per address in an organisation
  ADD COLUMN email citext,
  ADD FOREIGN KEY (organisation_id, mailbox_id) REFERENCES outreach.mailboxes (organisation_id, id) ON DELETE SET NULL (mailbox_id);
CREATE INDEX campaign_enrollments_email ON outreach.campaign_enrollments (organisation_id, email) WHERE status = 'ACTIVE';
CREATE INDEX campaign_enrollments_campaign ON outreach.campaign_enrollments (organisation_id, campaign_id, status);

-- ===== Tasks =====
ALTER TABLE outreach.tasks
  -- given by the scheduler when it dispatches the task: which mailbox, which A/B variant, which send slot
  ADD COLUMN mailbox_id uuid,
  ADD COLUMN variant_id uuid,
  ADD COLUMN send_at timestamptz,
  -- the message the task produced
  ADD COLUMN message_id uuid,
  ADD FOREIGN KEY (organisation_id, mailbox_id) REFERENCES outreach.mailboxes (organisation_id, id) ON DELETE SET NULL (mailbox_id),
  ADD FOREIGN KEY (organisation_id, variant_id) REFERENCES outreach.step_experiment_variants (organisation_id, id) ON DELETE SET NULL (variant_id);
-- one task of each kind per enrolment and step: a redelivered schedule never doubles a step
CREATE UNIQUE INDEX tasks_once ON outreach.tasks (organisation_id, enrollment_id, step_id, kind);

-- ===== Messages =====
ALTER TABLE outreach.messages
  -- the task that drafted it: a redelivered draft finds its message instead of writing a second one
  ADD COLUMN task_id uuid,
  ADD COLUMN step_index int,
  -- not before: the mailbox's spacing and the campaign's window, decided by the scheduler
  ADD COLUMN send_at timestamptz,
  ADD COLUMN model text,
  ADD COLUMN prompt_tokens int CHECK (prompt_tokens >= 0),
  ADD COLUMN completion_tokens int CHECK (completion_tokens >= 0),
  ADD COLUMN reviewed_by uuid,
  ADD COLUMN reviewed_at timestamptz,
  ADD UNIQUE (organisation_id, task_id);
CREATE INDEX messages_mailbox_send ON outreach.messages (organisation_id, mailbox_id, send_at)
  WHERE direction = 'OUTBOUND';
CREATE INDEX messages_queued ON outreach.messages (send_at) WHERE status = 'QUEUED';

-- ===== What outreach may know of a prospect =====
-- Enrolment checks and previews need a position's address, its person and company, and whether the address
-- or its domain is suppressed. The outreach role has no right on crm tables: it gets exactly this, for the
-- organisation of its tenant transaction.
CREATE FUNCTION crm.prospects_for_outreach(p_ids uuid[])
  RETURNS TABLE (position_id uuid, email text, email_status text, suppressed text,
                 position_row jsonb, person_row jsonb, company_row jsonb)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
  SELECT p.id, p.email::text, p.email_status,
    (SELECT s.reason FROM crm.suppressions s
      WHERE s.organisation_id = p.organisation_id
        AND (s.value = p.email OR (s.kind = 'DOMAIN' AND s.value = split_part(p.email::text, '@', 2)::citext))
      ORDER BY s.kind LIMIT 1),
    to_jsonb(p) - 'organisation_id' - 'source_hash',
    to_jsonb(pe) - 'organisation_id' - 'source_hash' - 'name_key',
    to_jsonb(c) - 'organisation_id' - 'source_hash'
  FROM crm.positions p
  JOIN crm.people pe ON pe.organisation_id = p.organisation_id AND pe.id = p.person_id
  JOIN crm.companies c ON c.organisation_id = p.organisation_id AND c.id = p.company_id
  WHERE p.organisation_id = public.current_organisation_id() AND p.id = ANY (p_ids)
    AND cardinality(p_ids) <= 10000
$$;
REVOKE ALL ON FUNCTION crm.prospects_for_outreach(uuid[]) FROM PUBLIC;
-- usage of the schema only: the tables stay out of reach
GRANT USAGE ON SCHEMA crm TO prospectflow_outreach;
GRANT EXECUTE ON FUNCTION crm.prospects_for_outreach(uuid[]) TO prospectflow_outreach, prospectflow_worker;
