-- The statistics refresh an ingest runs in its own transaction (crm.refresh_statistics, migration 0009) sampled
-- every key column, and its sample grows with the table up to 30,000 rows: 25 ms a table on a new database,
-- 60-90 ms once it holds tens of thousands of rows, paid twice by every large ingest. What an ingest changes is
-- how many rows there are (reltuples, refreshed by any ANALYZE) and how they spread over organisations; the
-- key columns are unique or nearly so, and their statistics (stored as a share of the rows) scale with the
-- count by themselves. A table analysed before is now refreshed on organisation_id alone (5-10 ms); one never
-- analysed still gets every column the planner uses.
CREATE OR REPLACE FUNCTION crm.refresh_statistics(p_tables text[]) RETURNS text[]
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  t text;
  analysed text[] := '{}';
  previous text := current_setting('lock_timeout');
  known boolean;
BEGIN
  FOREACH t IN ARRAY p_tables LOOP
    IF t NOT IN ('companies', 'people', 'positions') THEN
      RAISE EXCEPTION 'crm.refresh_statistics: % is not an ingest table', t;
    END IF;
    -- reltuples is -1 until the first ANALYZE
    SELECT c.reltuples >= 0 INTO known FROM pg_class c
      WHERE c.relnamespace = 'crm'::regnamespace AND c.relname = t;
    BEGIN
      PERFORM set_config('lock_timeout', '200ms', true);
      IF known THEN
        CASE t
          WHEN 'companies' THEN ANALYZE crm.companies (organisation_id);
          WHEN 'people' THEN ANALYZE crm.people (organisation_id);
          WHEN 'positions' THEN ANALYZE crm.positions (organisation_id);
        END CASE;
      ELSE
        CASE t
          WHEN 'companies' THEN ANALYZE crm.companies (organisation_id, id, pharow_company_id, siren);
          WHEN 'people' THEN ANALYZE crm.people (organisation_id, id, linkedin_url);
          WHEN 'positions' THEN
            ANALYZE crm.positions (organisation_id, id, company_id, person_id, email_status, created_at);
        END CASE;
      END IF;
      analysed := analysed || t;
    EXCEPTION WHEN lock_not_available THEN
      NULL;
    END;
  END LOOP;
  PERFORM set_config('lock_timeout', previous, true);
  RETURN analysed;
END $$;
