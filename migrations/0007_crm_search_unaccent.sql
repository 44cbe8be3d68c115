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
