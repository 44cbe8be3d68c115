-- An ingest refreshed the statistics only when it changed at least 10% of a table (migration 0066). In a table
-- shared by many organisations, an organisation the statistics do not know yet is estimated at a row or two
-- whatever it holds: with a dozen organisations in the most-common-values list, a new one that ingests 10,000
-- items is 8% of the table, no refresh follows, and its next ingest joins its rows as if each side had one
-- (a nested loop comparing every position with every company: 11 s instead of 0.2 s).
--
-- crm.stale_statistics says which of the tables an ingest wrote need a refresh, in the ingest's own
-- transaction and under its row-level security: those never analysed, those the batch grew by 10% or more,
-- and those where the planner's estimate of this organisation's rows is under half of what the batch alone
-- inserted. It reads the estimate from EXPLAIN, as the queries that follow would get it.
CREATE FUNCTION crm.stale_statistics(p_organisation uuid, p_tables text[], p_inserted int[]) RETURNS text[]
  LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  i int;
  t text;
  inserted int;
  total real;
  plan json;
  stale text[] := '{}';
BEGIN
  FOR i IN 1 .. coalesce(array_length(p_tables, 1), 0) LOOP
    t := p_tables[i];
    inserted := p_inserted[i];
    IF t NOT IN ('companies', 'people', 'positions') THEN
      RAISE EXCEPTION 'crm.stale_statistics: % is not an ingest table', t;
    END IF;
    -- reltuples is -1 until the first ANALYZE
    SELECT c.reltuples INTO total FROM pg_class c WHERE c.relnamespace = 'crm'::regnamespace AND c.relname = t;
    IF total < 0 OR inserted >= 0.1 * total THEN
      stale := stale || t;
      CONTINUE;
    END IF;
    EXECUTE format('EXPLAIN (FORMAT JSON) SELECT 1 FROM crm.%I WHERE organisation_id = %L', t, p_organisation)
      INTO plan;
    IF (plan -> 0 -> 'Plan' ->> 'Plan Rows')::float8 < inserted / 2.0 THEN
      stale := stale || t;
    END IF;
  END LOOP;
  RETURN stale;
END $$;

REVOKE ALL ON FUNCTION crm.stale_statistics(uuid, text[], int[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crm.stale_statistics(uuid, text[], int[]) TO prospectflow_crm;
