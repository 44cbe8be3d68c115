-- A position's company and person, checked once per statement rather than once per row.
--
-- The two foreign keys of migration 0003 checked each inserted position with a look-up of its company and one
-- of its person, each taking a row lock: 8,605 positions of a fresh ingest of 10,000 items spent 110-140 ms
-- of their 290-320 ms insert in those checks. The same rules now hold through triggers that see a
-- statement's rows together (transition tables):
-- - an insert or update of positions whose company or person (same organisation) does not exist is refused
--   with foreign_key_violation (23503), the whole statement with it;
-- - deleting companies or people deletes their positions (as ON DELETE CASCADE did), and through the
--   foreign keys that still reference positions, their enrollments, messages and search terms;
-- - a company's or person's id cannot change while a position references it (as NO ACTION did).
--
-- A foreign key's row lock kept a referenced row from being deleted before the referencing transaction
-- committed. Here both sides take the organisation's ingest lock (the advisory lock the ingest already holds
-- from its first statement to its commit, ingest.service.ts) for the rest of their transaction: a delete
-- waits for a writer of positions, and its cascade then reads them committed; a writer that comes after the
-- delete waits for it, and finds the rows gone. The cascade therefore needs READ COMMITTED (each statement
-- sees what committed before it); the services use nothing else, and a delete under another isolation level
-- is refused. Only the owner can TRUNCATE these tables, and truncating companies or people leaves their
-- positions: truncate the three together.

ALTER TABLE crm.positions
  DROP CONSTRAINT positions_organisation_id_company_id_fkey,
  DROP CONSTRAINT positions_organisation_id_person_id_fkey;

-- The organisation's ingest lock: the key the ingest takes (ingest.service.ts), once for each organisation.
CREATE FUNCTION crm.lock_organisations(p_organisations uuid[]) RETURNS void
  LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  PERFORM pg_advisory_xact_lock(hashtext('crm.ingest:' || o::text))
  FROM (SELECT DISTINCT o FROM unnest(p_organisations) AS u(o) ORDER BY 1) AS s(o);
END $$;

-- Each company and person the new rows refer to, looked up by key once: a subquery with LIMIT stays a look-up
-- per row (a join could be planned, from statistics that still see the tables as small, as a scan of all the
-- organisation's companies for every position). Static SQL: PL/pgSQL keeps its plans, and a one-row insert
-- costs two index probes more, not a planning. A plan kept from when the tables were a page or two could
-- still read them whole for each row (an insert changes no statistics, and so drops no kept plan): with
-- sequential scans off, each look-up is the primary key's, whatever the statistics or the plan's age.
CREATE FUNCTION crm.check_position_references() RETURNS trigger
  LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp SET enable_seqscan = off AS $$
DECLARE
  org uuid;
  ref uuid;
  kind text;
BEGIN
  PERFORM crm.lock_organisations(ARRAY(SELECT n.organisation_id FROM new_rows n));
  kind := 'company';
  SELECT r.organisation_id, r.company_id INTO org, ref
  FROM (SELECT DISTINCT n.organisation_id, n.company_id FROM new_rows n) r
  WHERE (SELECT 1 FROM crm.companies c
         WHERE c.organisation_id = r.organisation_id AND c.id = r.company_id LIMIT 1) IS NULL
  LIMIT 1;
  IF NOT FOUND THEN
    kind := 'person';
    SELECT n.organisation_id, n.person_id INTO org, ref
    FROM new_rows n
    WHERE (SELECT 1 FROM crm.people p
           WHERE p.organisation_id = n.organisation_id AND p.id = n.person_id LIMIT 1) IS NULL
    LIMIT 1;
  END IF;
  IF FOUND THEN
    RAISE EXCEPTION USING
      ERRCODE = 'foreign_key_violation',
      MESSAGE = format('insert or update on table "positions" violates foreign key: a position refers to a %s that does not exist in its organisation', kind),
      DETAIL = format('Key (organisation_id, %s_id)=(%s, %s) is not present in table "%s".',
        kind, org, ref, CASE kind WHEN 'company' THEN 'companies' ELSE 'people' END);
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER positions_references_insert AFTER INSERT ON crm.positions
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION crm.check_position_references();
CREATE TRIGGER positions_references_update AFTER UPDATE ON crm.positions
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION crm.check_position_references();

-- Deleting companies or people deletes their positions.
CREATE FUNCTION crm.delete_referencing_positions() RETURNS trigger
  LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF current_setting('transaction_isolation') <> 'read committed' THEN
    RAISE EXCEPTION USING
      ERRCODE = 'feature_not_supported',
      MESSAGE = format('deleting from crm.%s needs READ COMMITTED (its positions are deleted by what has committed)', TG_TABLE_NAME);
  END IF;
  PERFORM crm.lock_organisations(ARRAY(SELECT DISTINCT o.organisation_id FROM old_rows o));
  IF TG_TABLE_NAME = 'companies' THEN
    DELETE FROM crm.positions p USING old_rows o
      WHERE p.organisation_id = o.organisation_id AND p.company_id = o.id;
  ELSE
    DELETE FROM crm.positions p USING old_rows o
      WHERE p.organisation_id = o.organisation_id AND p.person_id = o.id;
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER companies_positions_delete AFTER DELETE ON crm.companies
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION crm.delete_referencing_positions();
CREATE TRIGGER people_positions_delete AFTER DELETE ON crm.people
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION crm.delete_referencing_positions();

-- A referenced company's or person's key does not change.
CREATE FUNCTION crm.keep_referenced_key() RETURNS trigger
  LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF TG_TABLE_NAME = 'companies' THEN
    PERFORM FROM crm.positions p WHERE p.organisation_id = OLD.organisation_id AND p.company_id = OLD.id LIMIT 1;
  ELSE
    PERFORM FROM crm.positions p WHERE p.organisation_id = OLD.organisation_id AND p.person_id = OLD.id LIMIT 1;
  END IF;
  IF FOUND THEN
    RAISE EXCEPTION USING
      ERRCODE = 'foreign_key_violation',
      MESSAGE = format('update on table "%s" violates foreign key: positions still refer to %s', TG_TABLE_NAME, OLD.id);
  END IF;
  RETURN NEW;
END $$;

CREATE TRIGGER companies_key_kept BEFORE UPDATE ON crm.companies FOR EACH ROW
  WHEN (OLD.organisation_id IS DISTINCT FROM NEW.organisation_id OR OLD.id IS DISTINCT FROM NEW.id)
  EXECUTE FUNCTION crm.keep_referenced_key();
CREATE TRIGGER people_key_kept BEFORE UPDATE ON crm.people FOR EACH ROW
  WHEN (OLD.organisation_id IS DISTINCT FROM NEW.organisation_id OR OLD.id IS DISTINCT FROM NEW.id)
  EXECUTE FUNCTION crm.keep_referenced_key();

-- The cascades find a company's positions through positions_identity (organisation_id, company_id, …) and a
-- person's through positions_person, as the foreign keys' did.

GRANT EXECUTE ON FUNCTION crm.lock_organisations(uuid[]), crm.check_position_references(),
  crm.delete_referencing_positions(), crm.keep_referenced_key() TO prospectflow_crm;
