-- Fresh planner statistics after bulk ingests: the crm role owns no table, so it cannot ANALYZE; this
-- narrow function does it for the three ingest tables only, and skips a table another ingest is already
-- analysing rather than queue behind it. Only the columns the planner needs for row counts, tenant filters, joins and the listing order. Sorting long accented names and case-insensitive
-- emails with the collation (and computing every expression index's statistics, which only a full ANALYZE
-- does) took most of a second on 10,000 rows; these columns take a few tens of milliseconds. Row counts
-- (reltuples) are refreshed by any ANALYZE, column list or not.
CREATE FUNCTION crm.refresh_statistics(p_tables text[]) RETURNS text[]
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
        WHEN 'companies' THEN ANALYZE crm.companies (organisation_id, id, pharow_company_id, siren);
        WHEN 'people' THEN ANALYZE crm.people (organisation_id, id, linkedin_url);
        WHEN 'positions' THEN
          ANALYZE crm.positions (organisation_id, id, company_id, person_id, email_status, created_at);
        ELSE RAISE EXCEPTION 'crm.refresh_statistics: % is not an ingest table', t;
      END CASE;
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
