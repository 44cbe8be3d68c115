-- IAM accounts: password resets, ending every session of an account, and the current state of a membership.

-- Every access token carries the account's session generation when it was issued; ending every session
-- (a password reset) moves it on, and tokens of an older generation are refused. A counter, not a time:
-- no clock between the signer and the database, and no second shared by a token and the reset.
ALTER TABLE iam.users ADD COLUMN session_generation integer NOT NULL DEFAULT 0;

-- Password reset links: single use, short-lived, stored hashed. Not a tenant table (an account spans
-- organisations): no grant to any service; only the functions below reach it.
CREATE TABLE iam.password_resets (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id uuid NOT NULL REFERENCES iam.users (id) ON DELETE CASCADE,
  token_hash text NOT NULL UNIQUE,
  expires_at timestamptz NOT NULL,
  used_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX password_resets_user ON iam.password_resets (user_id, created_at);
ALTER TABLE iam.password_resets ENABLE ROW LEVEL SECURITY;

-- A membership's role and status now, and when the account's sessions were last ended. Every service
-- checks verified access tokens against it (through a short cache), so role changes apply at once.
CREATE FUNCTION iam.membership_state(p_user_id uuid, p_organisation_id uuid)
  RETURNS TABLE (role text, status text, session_generation integer)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT m.role, m.status, u.session_generation
    FROM iam.organisation_users m JOIN iam.users u ON u.id = m.user_id
    WHERE m.user_id = p_user_id AND m.organisation_id = p_organisation_id
  $$;

-- Records a reset link for the account with this email, at most p_max_per_hour an hour. The answer only
-- says whether to send a mail; the caller answers the client the same either way.
CREATE FUNCTION iam.create_password_reset(p_email citext, p_token_hash text, p_expires_at timestamptz,
                                          p_max_per_hour integer)
  RETURNS boolean
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
  v_user uuid;
BEGIN
  -- the row lock serialises concurrent requests for one account, so the count below holds
  SELECT id INTO v_user FROM iam.users WHERE email = p_email FOR UPDATE;
  IF v_user IS NULL THEN
    RETURN false;
  END IF;
  IF (SELECT count(*) FROM iam.password_resets
      WHERE user_id = v_user AND created_at > now() - interval '1 hour') >= p_max_per_hour THEN
    RETURN false;
  END IF;
  INSERT INTO iam.password_resets (user_id, token_hash, expires_at) VALUES (v_user, p_token_hash, p_expires_at);
  RETURN true;
END $$;

-- Uses a reset link once: sets the new password, ends every session of the account in every organisation
-- (refresh token families now, access tokens through the session generation) and kills the other open links.
-- Returns the account's id, or NULL when the link is unknown, used or expired.
CREATE FUNCTION iam.complete_password_reset(p_token_hash text, p_password_hash text)
  RETURNS uuid
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
  v_user uuid;
BEGIN
  UPDATE iam.password_resets SET used_at = now()
  WHERE token_hash = p_token_hash AND used_at IS NULL AND expires_at > now()
  RETURNING user_id INTO v_user;
  IF v_user IS NULL THEN
    RETURN NULL;
  END IF;
  UPDATE iam.password_resets SET used_at = now() WHERE user_id = v_user AND used_at IS NULL;
  -- whole seconds, as in a token's iat: a token issued in the same second after the reset stays valid
  UPDATE iam.users SET password_hash = p_password_hash, session_generation = session_generation + 1
  WHERE id = v_user;
  UPDATE iam.refresh_tokens SET revoked_at = now() WHERE user_id = v_user AND revoked_at IS NULL;
  RETURN v_user;
END $$;

REVOKE ALL ON FUNCTION iam.membership_state(uuid, uuid), iam.create_password_reset(citext, text, timestamptz, integer),
  iam.complete_password_reset(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION iam.membership_state(uuid, uuid), iam.create_password_reset(citext, text, timestamptz, integer),
  iam.complete_password_reset(text, text) TO prospectflow_app;
