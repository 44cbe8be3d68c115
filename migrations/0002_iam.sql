-- IAM: organisations, users, memberships, sessions (refresh tokens), invitations, API keys.
CREATE SCHEMA IF NOT EXISTS iam;
GRANT USAGE ON SCHEMA iam TO prospectflow_app;

CREATE TABLE iam.organisations (
  id uuid PRIMARY KEY,
  name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  created_at timestamptz NOT NULL DEFAULT now()
);
SELECT public.enable_tenant_rls('iam.organisations', 'id');

-- A person who can log in; global (one login, several organisations), reached through memberships.
CREATE TABLE iam.users (
  id uuid PRIMARY KEY,
  email citext NOT NULL UNIQUE,
  password_hash text,
  first_name text,
  last_name text,
  created_at timestamptz NOT NULL DEFAULT now()
);
GRANT SELECT, INSERT, UPDATE ON iam.users TO prospectflow_app;

CREATE TABLE iam.organisation_users (
  organisation_id uuid NOT NULL REFERENCES iam.organisations (id) ON DELETE CASCADE,
  user_id uuid NOT NULL REFERENCES iam.users (id) ON DELETE CASCADE,
  role text NOT NULL CHECK (role IN ('OWNER', 'ADMIN', 'MEMBER', 'VIEWER')),
  status text NOT NULL DEFAULT 'ACTIVE' CHECK (status IN ('ACTIVE', 'INVITED', 'DISABLED')),
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (organisation_id, user_id)
);
-- At most one owner per organisation (the application keeps at least one).
CREATE UNIQUE INDEX organisation_users_one_owner ON iam.organisation_users (organisation_id) WHERE role = 'OWNER';
CREATE INDEX organisation_users_user ON iam.organisation_users (user_id);
SELECT public.enable_tenant_rls('iam.organisation_users');

CREATE TABLE iam.invitations (
  organisation_id uuid NOT NULL REFERENCES iam.organisations (id) ON DELETE CASCADE,
  id uuid NOT NULL,
  user_id uuid NOT NULL REFERENCES iam.users (id) ON DELETE CASCADE,
  token_hash text NOT NULL UNIQUE,
  invited_by uuid REFERENCES iam.users (id),
  expires_at timestamptz NOT NULL,
  accepted_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (organisation_id, id),
  FOREIGN KEY (organisation_id, user_id) REFERENCES iam.organisation_users (organisation_id, user_id) ON DELETE CASCADE
);
SELECT public.enable_tenant_rls('iam.invitations');

-- Rotating refresh tokens: one family per login; reuse of a rotated token revokes the family.
CREATE TABLE iam.refresh_tokens (
  organisation_id uuid NOT NULL REFERENCES iam.organisations (id) ON DELETE CASCADE,
  id uuid NOT NULL,
  user_id uuid NOT NULL REFERENCES iam.users (id) ON DELETE CASCADE,
  family_id uuid NOT NULL,
  token_hash text NOT NULL UNIQUE,
  expires_at timestamptz NOT NULL,
  rotated_at timestamptz,
  revoked_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (organisation_id, id)
);
CREATE INDEX refresh_tokens_family ON iam.refresh_tokens (organisation_id, family_id);
SELECT public.enable_tenant_rls('iam.refresh_tokens');

CREATE TABLE iam.api_keys (
  organisation_id uuid NOT NULL REFERENCES iam.organisations (id) ON DELETE CASCADE,
  id uuid NOT NULL,
  name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  scopes text[] NOT NULL CHECK (scopes <@ ARRAY['INGEST', 'READ', 'WRITE'] AND cardinality(scopes) > 0),
  secret_hash text NOT NULL,
  created_by uuid REFERENCES iam.users (id),
  created_at timestamptz NOT NULL DEFAULT now(),
  last_used_at timestamptz,
  revoked_at timestamptz,
  PRIMARY KEY (organisation_id, id),
  UNIQUE (id)
);
SELECT public.enable_tenant_rls('iam.api_keys');

-- Look-ups that must happen before the tenant is known (login, refresh, API key, invitation).
-- Narrow SECURITY DEFINER functions: each returns only what authentication needs.
CREATE FUNCTION iam.login_candidates(p_email citext)
  RETURNS TABLE (user_id uuid, password_hash text, organisation_id uuid, role text, status text, joined_at timestamptz)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT u.id, u.password_hash, m.organisation_id, m.role, m.status, m.created_at
    FROM iam.users u JOIN iam.organisation_users m ON m.user_id = u.id
    WHERE u.email = p_email
    ORDER BY m.created_at
  $$;

CREATE FUNCTION iam.refresh_token_by_hash(p_hash text)
  RETURNS TABLE (id uuid, organisation_id uuid, user_id uuid, family_id uuid, expires_at timestamptz,
                 rotated_at timestamptz, revoked_at timestamptz)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT id, organisation_id, user_id, family_id, expires_at, rotated_at, revoked_at
    FROM iam.refresh_tokens WHERE token_hash = p_hash
  $$;

CREATE FUNCTION iam.api_key_by_id(p_id uuid)
  RETURNS TABLE (organisation_id uuid, secret_hash text, scopes text[], revoked_at timestamptz, created_by uuid)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT organisation_id, secret_hash, scopes, revoked_at, created_by FROM iam.api_keys WHERE id = p_id
  $$;

CREATE FUNCTION iam.invitation_by_hash(p_hash text)
  RETURNS TABLE (id uuid, organisation_id uuid, user_id uuid, expires_at timestamptz, accepted_at timestamptz)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT id, organisation_id, user_id, expires_at, accepted_at FROM iam.invitations WHERE token_hash = p_hash
  $$;

-- Keeps lastUsedAt without a write per request: at most one update a minute per key.
CREATE FUNCTION iam.touch_api_key(p_id uuid) RETURNS void
  LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    UPDATE iam.api_keys SET last_used_at = now()
    WHERE id = p_id AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')
  $$;

REVOKE ALL ON FUNCTION iam.login_candidates(citext), iam.refresh_token_by_hash(text), iam.api_key_by_id(uuid),
  iam.invitation_by_hash(text), iam.touch_api_key(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION iam.login_candidates(citext), iam.refresh_token_by_hash(text), iam.api_key_by_id(uuid),
  iam.invitation_by_hash(text), iam.touch_api_key(uuid) TO prospectflow_app;
