-- The inbox: what each Gmail mailbox's history was read up to and when, the inbound mail already handled
-- (so a message read twice, by a resync or a redelivery, changes nothing), replies kept as RECEIVED messages,
-- and soft-bounced emails sent once more.

-- ===== Mailboxes: where the inbox stands =====
ALTER TABLE outreach.mailboxes
  -- last time the inbox worker read this mailbox (NULL: never); due again INBOX_POLL_SECONDS later
  ADD COLUMN inbox_checked_at timestamptz,
  ADD COLUMN inbox_leased_by text,
  ADD COLUMN inbox_leased_until timestamptz;
CREATE INDEX mailboxes_inbox_due ON outreach.mailboxes (inbox_checked_at NULLS FIRST)
  WHERE provider = 'GMAIL' AND status = 'ACTIVE' AND credentials_encrypted IS NOT NULL;

-- ===== Messages: received mail and retried sends =====
ALTER TABLE outreach.messages
  -- who wrote a RECEIVED message
  ADD COLUMN from_email text,
  -- a copy written to send a soft-bounced email again: the email it retries (retried once only)
  ADD COLUMN retry_of uuid,
  ADD FOREIGN KEY (organisation_id, retry_of) REFERENCES outreach.messages (organisation_id, id) ON DELETE SET NULL (retry_of);
-- a received email is stored once per mailbox
CREATE UNIQUE INDEX messages_inbound_once ON outreach.messages (organisation_id, mailbox_id, provider_message_id)
  WHERE direction = 'INBOUND';
-- matching inbound mail to what we sent: Gmail's thread, then the Message-ID it answers
CREATE INDEX messages_thread ON outreach.messages (organisation_id, mailbox_id, thread_id)
  WHERE direction = 'OUTBOUND' AND thread_id IS NOT NULL;

-- ===== Inbound mail handled =====
-- Every inbound email the inbox looked at, matched or not, by its mailbox and provider id: ids and the outcome
-- only, never content. Reading it again (history replayed, a full resync, simulateInbound twice) is a no-op.
CREATE TABLE outreach.inbound_receipts (
  organisation_id uuid NOT NULL,
  mailbox_id uuid NOT NULL,
  provider_message_id text NOT NULL CHECK (length(provider_message_id) BETWEEN 1 AND 1000),
  kind text NOT NULL CHECK (kind IN ('reply', 'auto-reply', 'bounce', 'soft-bounce', 'unsubscribe-request')),
  matched_message_id uuid,
  enrollment_id uuid,
  -- the RECEIVED message a reply was stored as
  received_message_id uuid,
  received_at timestamptz NOT NULL,
  handled_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (organisation_id, mailbox_id, provider_message_id),
  FOREIGN KEY (organisation_id, mailbox_id) REFERENCES outreach.mailboxes (organisation_id, id) ON DELETE CASCADE,
  FOREIGN KEY (organisation_id, matched_message_id) REFERENCES outreach.messages (organisation_id, id) ON DELETE SET NULL (matched_message_id),
  FOREIGN KEY (organisation_id, received_message_id) REFERENCES outreach.messages (organisation_id, id) ON DELETE SET NULL (received_message_id),
  FOREIGN KEY (organisation_id, enrollment_id) REFERENCES outreach.campaign_enrollments (organisation_id, id) ON DELETE SET NULL (enrollment_id)
);
SELECT public.enable_tenant_rls('outreach.inbound_receipts');
-- the outreach service (simulateInbound) and the workers: the schema's default privileges already give them DML

-- ===== Claim: Gmail mailboxes whose inbox is due =====
-- ACTIVE Gmail mailboxes with credentials, not read for `p_interval_seconds` and not leased by another inbox
-- worker, least recently read first. Ids and organisation only; the worker reads the mailbox in its tenant.
CREATE FUNCTION outreach.claim_inbox_mailboxes(
  p_limit int, p_lease_seconds int, p_worker text, p_now timestamptz, p_interval_seconds int)
  RETURNS TABLE (organisation_id uuid, id uuid)
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_column
BEGIN
  PERFORM outreach.check_claim(p_limit, p_lease_seconds, p_worker, p_now);
  IF p_interval_seconds IS NULL OR p_interval_seconds NOT BETWEEN 1 AND 86400 THEN
    RAISE EXCEPTION 'p_interval_seconds must be between 1 and 86400' USING ERRCODE = '22023';
  END IF;
  RETURN QUERY
  WITH due AS (
    SELECT m.organisation_id, m.id FROM outreach.mailboxes m
    WHERE m.provider = 'GMAIL' AND m.status = 'ACTIVE' AND m.credentials_encrypted IS NOT NULL
      AND (m.inbox_checked_at IS NULL OR m.inbox_checked_at + make_interval(secs => p_interval_seconds) <= p_now)
      AND (m.inbox_leased_until IS NULL OR m.inbox_leased_until <= p_now)
    ORDER BY m.inbox_checked_at NULLS FIRST, m.id
    LIMIT p_limit
    FOR UPDATE SKIP LOCKED
  )
  UPDATE outreach.mailboxes m
  SET inbox_leased_by = p_worker, inbox_leased_until = p_now + make_interval(secs => p_lease_seconds)
  FROM due
  WHERE m.organisation_id = due.organisation_id AND m.id = due.id
  RETURNING m.organisation_id, m.id;
END $$;
ALTER FUNCTION outreach.claim_inbox_mailboxes(int, int, text, timestamptz, int) SET plan_cache_mode = force_custom_plan;
-- functions in outreach are the outreach service's by default (0008): this one is the workers' only
REVOKE ALL ON FUNCTION outreach.claim_inbox_mailboxes(int, int, text, timestamptz, int) FROM PUBLIC, prospectflow_outreach;
GRANT EXECUTE ON FUNCTION outreach.claim_inbox_mailboxes(int, int, text, timestamptz, int) TO prospectflow_worker;
