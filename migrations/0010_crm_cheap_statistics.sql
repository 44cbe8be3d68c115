-- Statistics after a bulk ingest, at a fraction of the cost: only the columns the planner needs for row
-- counts, tenant filters, joins and the listing order. Sorting long accented names and case-insensitive
-- emails with the collation (and computing every expression index's statistics, which only a full ANALYZE
-- does) took most of a second on 10,000 rows; these columns take a few tens of milliseconds. Row counts
-- (reltuples) are refreshed by any ANALYZE, column list or not.
CREATE OR REPLACE FUNCTION crm.refresh_statistics(p_tables text[]) RETURNS text[]
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
