-- The application role: owns nothing, never bypasses row-level security. Migrations run as the owner.
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'prospectflow_app') THEN
    CREATE ROLE prospectflow_app NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
  END IF;
END $$;

CREATE EXTENSION IF NOT EXISTS citext;
CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- The tenant of the current transaction; NULLIF because a finished set_config leaves ''.
CREATE OR REPLACE FUNCTION public.current_organisation_id() RETURNS uuid
  LANGUAGE sql STABLE PARALLEL SAFE
  AS $$ SELECT NULLIF(current_setting('app.organisation_id', true), '')::uuid $$;
GRANT EXECUTE ON FUNCTION public.current_organisation_id() TO prospectflow_app;

-- Enables RLS on a tenant table with the one policy every tenant table shares, and grants DML.
CREATE OR REPLACE FUNCTION public.enable_tenant_rls(tbl regclass, col text DEFAULT 'organisation_id') RETURNS void
  LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', tbl);
  EXECUTE format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', tbl);
  EXECUTE format('DROP POLICY IF EXISTS tenant_isolation ON %s', tbl);
  EXECUTE format(
    'CREATE POLICY tenant_isolation ON %s USING (%I = public.current_organisation_id()) WITH CHECK (%I = public.current_organisation_id())',
    tbl, col, col);
  EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %s TO prospectflow_app', tbl);
END $$;
