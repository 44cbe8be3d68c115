-- No JIT compilation for the services' statements. PostgreSQL compiles a statement to machine code once its
-- estimated cost passes jit_above_cost (100,000 by default), whatever it will really take; the services' large
-- statements are short ones over many rows, and the compiling costs them more than it saves. The repeat
-- ingest's known-item look-up over 10,000 fingerprints: 93 ms with JIT (21 ms of it compiling, the rest
-- running compiled expressions it ran once each), 52 ms without.
--
-- Role settings are cluster-wide, like the roles (migrations 0008 and 0020), and apply from a session's start.
DO $$
DECLARE
  r text;
BEGIN
  FOREACH r IN ARRAY ARRAY['prospectflow_iam', 'prospectflow_crm', 'prospectflow_outreach',
                           'prospectflow_tracking', 'prospectflow_gateway', 'prospectflow_worker'] LOOP
    EXECUTE format('ALTER ROLE %I SET jit = off', r);
  END LOOP;
END $$;
