-- Fresh planner statistics while a campaign runs. A launch writes thousands of tasks and the drafter thousands
-- of messages in seconds; until the next ANALYZE the planner takes the new organisation's rows for none, and
-- turns a claim of 30 tasks into a scan of every task and message of the organisation for each of them
-- (100 ms instead of 1 ms). Autovacuum may be late, or off: the scheduler asks for an ANALYZE of the tables
-- that changed a large share since the last one (workers/scheduler/statistics.ts). The worker roles own no
-- table, so this narrow function does it for the three pipeline tables only, on the columns their statements
-- filter and join on, and skips a table another caller is already analysing rather than queue behind it.
CREATE FUNCTION outreach.refresh_statistics(p_tables text[]) RETURNS text[]
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  t text;
  analysed text[] := '{}';
  previous text := current_setting('lock_timeout');
BEGIN
  FOREACH t IN ARRAY p_tables LOOP
    BEGIN
      PERFORM set_config('lock_timeout', '200ms', true);
      CASE t
        WHEN 'tasks' THEN
          ANALYZE outreach.tasks (organisation_id, id, enrollment_id, step_id, kind, status, message_id,
            mailbox_id, scheduled_for, leased_until, send_at);
        WHEN 'messages' THEN
          ANALYZE outreach.messages (organisation_id, id, enrollment_id, step_id, task_id, mailbox_id, status,
            direction, send_at, sent_at, leased_until);
        WHEN 'campaign_enrollments' THEN
          ANALYZE outreach.campaign_enrollments (organisation_id, id, campaign_id, position_id, status, email,
            next_run_at);
        ELSE RAISE EXCEPTION 'outreach.refresh_statistics: % is not a pipeline table', t;
      END CASE;
      analysed := analysed || t;
    EXCEPTION WHEN lock_not_available THEN
      NULL;
    END;
  END LOOP;
  PERFORM set_config('lock_timeout', previous, true);
  RETURN analysed;
END $$;
REVOKE ALL ON FUNCTION outreach.refresh_statistics(text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION outreach.refresh_statistics(text[]) TO prospectflow_worker;
