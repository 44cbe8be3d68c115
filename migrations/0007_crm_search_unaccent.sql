-- Prospect search ignores accents as well as case ("societe" finds "Société Générale"), still index-backed.
CREATE EXTENSION IF NOT EXISTS unaccent SCHEMA public;

-- unaccent() is only STABLE (it finds its dictionary through search_path), so it cannot appear in an index.
-- Naming the dictionary makes the result depend on the argument alone. A SQL function declared IMMUTABLE
-- around a STABLE call is never inlined, so queries and indexes both keep the call to f_unaccent itself.
CREATE OR REPLACE FUNCTION public.f_unaccent(text) RETURNS text
  LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
  AS $$ SELECT public.unaccent('public.unaccent'::regdictionary, $1) $$;

-- The search query (positions(filter: { search })) writes exactly these expressions.
DROP INDEX crm.companies_name_trgm;
CREATE INDEX companies_name_unaccent_trgm ON crm.companies USING gin (public.f_unaccent(name) gin_trgm_ops);

DROP INDEX crm.people_name_trgm;
CREATE INDEX people_name_unaccent_trgm ON crm.people
  USING gin (public.f_unaccent(coalesce(first_name, '') || ' ' || coalesce(last_name, '')) gin_trgm_ops);

-- Search finds positions through matching people as well as matching companies.
CREATE INDEX positions_person ON crm.positions (organisation_id, person_id);

-- The suppression list pages newest first on (created_at, id).
CREATE INDEX suppressions_listing ON crm.suppressions (organisation_id, created_at, id);

-- Row-level security keeps a non-leakproof condition such as ILIKE from being used as an index condition,
-- so under the tenant policy every search would scan the whole organisation. This narrow SECURITY DEFINER
-- function runs the search with the same tenant condition written out (the organisation of the current
-- transaction; none set, no rows) and returns position ids only. Custom plans: the pattern decides the plan.
CREATE FUNCTION crm.search_positions(p_pattern text) RETURNS TABLE (id uuid)
  LANGUAGE plpgsql STABLE SECURITY DEFINER ROWS 100
  SET search_path = pg_catalog, public SET plan_cache_mode = force_custom_plan AS $$
BEGIN
  RETURN QUERY
    SELECT e.id FROM crm.positions e
      WHERE e.organisation_id = public.current_organisation_id() AND e.email::text ILIKE p_pattern
    UNION
    SELECT c.id FROM crm.companies sc
      JOIN crm.positions c ON c.organisation_id = sc.organisation_id AND c.company_id = sc.id
      WHERE sc.organisation_id = public.current_organisation_id()
        AND public.f_unaccent(sc.name) ILIKE public.f_unaccent(p_pattern)
    UNION
    SELECT n.id FROM crm.people sp
      JOIN crm.positions n ON n.organisation_id = sp.organisation_id AND n.person_id = sp.id
      WHERE sp.organisation_id = public.current_organisation_id()
        AND public.f_unaccent(coalesce(sp.first_name, '') || ' ' || coalesce(sp.last_name, ''))
          ILIKE public.f_unaccent(p_pattern);
END $$;

-- It reveals no more than crm.positions itself: callable by exactly the roles that may read that table.
REVOKE ALL ON FUNCTION crm.search_positions(text) FROM PUBLIC;
DO $$
DECLARE reader text;
BEGIN
  FOR reader IN
    SELECT DISTINCT r.rolname FROM pg_class c, aclexplode(c.relacl) a JOIN pg_roles r ON r.oid = a.grantee
    WHERE c.oid = 'crm.positions'::regclass AND a.privilege_type = 'SELECT' AND a.grantee <> c.relowner
  LOOP
    EXECUTE format('GRANT EXECUTE ON FUNCTION crm.search_positions(text) TO %I', reader);
  END LOOP;
END $$;
