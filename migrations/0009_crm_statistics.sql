-- Fresh planner statistics after bulk ingests: the crm role owns no table, so it cannot ANALYZE; this
-- narrow function does it for the three ingest tables only, and skips a table another ingest is already
-- analysing rather than queue behind it.
CREATE FUNCTION crm.refresh_statistics(p_tables text[]) RETURNS text[]
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  t text;
  analysed text[] := '{}';
  previous text := current_setting('lock_timeout');
BEGIN
  FOREACH t IN ARRAY p_tables LOOP
    IF t NOT IN ('companies', 'people', 'positions') THEN
      RAISE EXCEPTION 'crm.refresh_statistics: % is not an ingest table', t;
    END IF;
    BEGIN
      PERFORM set_config('lock_timeout', '200ms', true);
      EXECUTE format('ANALYZE crm.%I', t);
      analysed := analysed || t;
    EXCEPTION WHEN lock_not_available THEN
      NULL;
    END;
  END LOOP;
  PERFORM set_config('lock_timeout', previous, true);
  RETURN analysed;
END $$;
REVOKE ALL ON FUNCTION crm.refresh_statistics(text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crm.refresh_statistics(text[]) TO prospectflow_crm;
