-- One LOGIN role per service: rights on its own schema only, plus the cross-service grants listed below.
-- The owner (who runs this chain) keeps DDL; no service role owns, bypasses or can switch to anything.
-- Passwords are not set here: `npm run migrate` sets them from DB_PASSWORD_<SERVICE>, or the operator
-- runs `ALTER ROLE prospectflow_crm PASSWORD '…'`; trust or certificate authentication needs none.
DO $$
DECLARE
  r text;
BEGIN
  FOREACH r IN ARRAY ARRAY['prospectflow_iam', 'prospectflow_crm', 'prospectflow_outreach',
                           'prospectflow_tracking', 'prospectflow_gateway'] LOOP
    BEGIN
      EXECUTE format('CREATE ROLE %I LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOREPLICATION NOINHERIT', r);
    EXCEPTION WHEN duplicate_object OR unique_violation THEN
      NULL; -- roles are cluster-wide: another database of this cluster (or a concurrent migration) made it
    END;
    -- a role that already existed must not bring more than a service may have
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = r
               AND (rolsuper OR rolbypassrls OR rolcreatedb OR rolcreaterole OR rolreplication)) THEN
      RAISE EXCEPTION 'role % exists with superuser, bypassrls, createdb, createrole or replication rights', r;
    END IF;
    IF EXISTS (SELECT FROM pg_auth_members m JOIN pg_roles u ON u.oid = m.member WHERE u.rolname = r) THEN
      RAISE EXCEPTION 'role % is a member of another role; service roles must not be', r;
    END IF;
  END LOOP;
END $$;

-- Each service's own schema: DML on every table and sequence, now and for tables later migrations add.
DO $$
DECLARE
  s text;
BEGIN
  FOREACH s IN ARRAY ARRAY['iam', 'crm', 'outreach', 'tracking'] LOOP
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO %I', s, 'prospectflow_' || s);
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA %I TO %I', s, 'prospectflow_' || s);
    EXECUTE format('GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA %I TO %I', s, 'prospectflow_' || s);
    EXECUTE format('GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA %I TO %I', s, 'prospectflow_' || s);
    EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO %I',
      s, 'prospectflow_' || s);
    EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO %I',
      s, 'prospectflow_' || s);
    EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT EXECUTE ON FUNCTIONS TO %I', s, 'prospectflow_' || s);
  END LOOP;
END $$;

GRANT EXECUTE ON FUNCTION public.current_organisation_id()
  TO prospectflow_iam, prospectflow_crm, prospectflow_outreach, prospectflow_tracking;

-- ===== Cross-service grants: everything a service may use outside its own schema, and nothing else =====
-- API keys and access tokens are checked by every service and by the gateway, through SECURITY DEFINER
-- look-ups in iam (a key's row; a token holder's current membership).
GRANT USAGE ON SCHEMA iam TO prospectflow_crm, prospectflow_outreach, prospectflow_tracking, prospectflow_gateway;
GRANT EXECUTE ON FUNCTION
    iam.api_key_by_id(uuid),
    iam.touch_api_key(uuid),
    iam.membership_state(uuid, uuid)
  TO prospectflow_crm, prospectflow_outreach, prospectflow_tracking, prospectflow_gateway;
-- ===== end of cross-service grants =====

-- The shared role the services used before: it keeps no rights here (roles are cluster-wide, so it stays).
REVOKE ALL ON ALL TABLES IN SCHEMA iam, crm, outreach, tracking FROM prospectflow_app;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA iam, crm, outreach, tracking FROM prospectflow_app;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA iam, crm, outreach, tracking FROM prospectflow_app;
REVOKE ALL ON FUNCTION public.current_organisation_id() FROM prospectflow_app;
REVOKE USAGE ON SCHEMA iam, crm, outreach, tracking FROM prospectflow_app;

-- Later tenant tables get their schema's service role, not the old shared one. A migration helper only.
CREATE OR REPLACE FUNCTION public.enable_tenant_rls(tbl regclass, col text DEFAULT 'organisation_id') RETURNS void
  LANGUAGE plpgsql AS $$
DECLARE
  service_role text := 'prospectflow_' || (
    SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = tbl);
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = service_role) THEN
    RAISE EXCEPTION 'table % is in a schema without a service role (%)', tbl, service_role;
  END IF;
  EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', tbl);
  EXECUTE format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', tbl);
  EXECUTE format('DROP POLICY IF EXISTS tenant_isolation ON %s', tbl);
  EXECUTE format(
    'CREATE POLICY tenant_isolation ON %s USING (%I = public.current_organisation_id()) WITH CHECK (%I = public.current_organisation_id())',
    tbl, col, col);
  EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %s TO %I', tbl, service_role);
END $$;
REVOKE ALL ON FUNCTION public.enable_tenant_rls(regclass, text) FROM PUBLIC;
