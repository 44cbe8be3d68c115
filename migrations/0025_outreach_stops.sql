-- Stopping an address: a bounce, an unsubscribe or a complaint suppresses the address for the organisation.
-- Suppressions are CRM's table; the outreach service and the workers get exactly this function for it, for
-- the organisation of their tenant transaction, and no right on the table itself.
CREATE FUNCTION crm.suppress_addresses(p_emails text[], p_reason text)
  RETURNS TABLE (suppressed_email citext, added boolean)
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
  v_organisation uuid := public.current_organisation_id();
BEGIN
  IF v_organisation IS NULL THEN
    RAISE EXCEPTION 'crm.suppress_addresses runs in a tenant transaction' USING ERRCODE = '42501';
  END IF;
  IF p_reason IS NULL OR p_reason NOT IN ('UNSUBSCRIBED', 'BOUNCED', 'COMPLAINED') THEN
    RAISE EXCEPTION 'p_reason must be UNSUBSCRIBED, BOUNCED or COMPLAINED' USING ERRCODE = '22023';
  END IF;
  IF p_emails IS NULL OR cardinality(p_emails) > 1000 THEN
    RAISE EXCEPTION 'p_emails must hold at most 1000 addresses' USING ERRCODE = '22023';
  END IF;
  RETURN QUERY
  WITH wanted AS (
    SELECT DISTINCT lower(trim(e))::citext AS value FROM unnest(p_emails) AS e
    WHERE e ~ '^[^@\s]+@[^@\s]+$' AND length(e) <= 320
  ), inserted AS (
    INSERT INTO crm.suppressions (organisation_id, id, value, kind, reason)
    SELECT v_organisation, gen_random_uuid(), w.value, 'EMAIL', p_reason FROM wanted w
    ON CONFLICT (organisation_id, value) DO NOTHING
    RETURNING crm.suppressions.value
  )
  SELECT w.value, EXISTS (SELECT 1 FROM inserted i WHERE i.value = w.value) FROM wanted w;
END
$$;
REVOKE ALL ON FUNCTION crm.suppress_addresses(text[], text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crm.suppress_addresses(text[], text) TO prospectflow_outreach, prospectflow_worker;

-- An enrolment paused by an automatic reply (out of office) resumes by itself at resume_at.
ALTER TABLE outreach.campaign_enrollments ADD COLUMN resume_at timestamptz;

-- Why a mailbox needs reconnecting (Google's answer), shown to the user beside its status.
ALTER TABLE outreach.mailboxes ADD COLUMN status_reason text;
