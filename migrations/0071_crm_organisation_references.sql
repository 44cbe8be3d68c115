-- A company's and a person's organisation, checked once per statement rather than once per row (as migration
-- 0070 did for the positions' company and person).
--
-- The foreign keys of migration 0003 looked the organisation up, and locked it, for every row: the 8,605 people
-- of a fresh ingest of 10,000 items spent 54-57 of their 141-154 ms insert on it, the 2,241 companies 12-25 of
-- 59-72 ms (auto_explain). The same rules now hold through triggers over a statement's rows:
-- - companies or people of an organisation that does not exist are refused with foreign_key_violation (23503);
--   the statement locks each of its organisations as the foreign key did (FOR KEY SHARE), so the organisation
--   cannot be deleted before the writing transaction ends;
-- - deleting an organisation deletes its companies and people (as ON DELETE CASCADE did), and with them their
--   positions (migration 0070) and everything that still references those by foreign key.

ALTER TABLE crm.companies DROP CONSTRAINT companies_organisation_id_fkey;
ALTER TABLE crm.people DROP CONSTRAINT people_organisation_id_fkey;

-- SECURITY DEFINER: locking a row takes more than the services' rights on iam.organisations. Row security
-- still applies (the policy is forced): a service writes only its current organisation's rows, and sees that
-- organisation.
CREATE FUNCTION crm.check_organisations() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  missing uuid;
BEGIN
  -- locked first: an organisation deleted meanwhile is then missing below, one deleted later waits
  PERFORM FROM iam.organisations g
  WHERE g.id IN (SELECT DISTINCT n.organisation_id FROM new_rows n)
  ORDER BY g.id
  FOR KEY SHARE;
  SELECT s.o INTO missing
  FROM (SELECT DISTINCT n.organisation_id FROM new_rows n) AS s(o)
  WHERE NOT EXISTS (SELECT FROM iam.organisations g WHERE g.id = s.o)
  LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION USING
      ERRCODE = 'foreign_key_violation',
      MESSAGE = format('insert or update on table "%s" violates foreign key: its organisation does not exist', TG_TABLE_NAME),
      DETAIL = format('Key (organisation_id)=(%s) is not present in table "organisations".', missing);
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER companies_organisation_insert AFTER INSERT ON crm.companies
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION crm.check_organisations();
CREATE TRIGGER companies_organisation_update AFTER UPDATE ON crm.companies
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION crm.check_organisations();
CREATE TRIGGER people_organisation_insert AFTER INSERT ON crm.people
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION crm.check_organisations();
CREATE TRIGGER people_organisation_update AFTER UPDATE ON crm.people
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION crm.check_organisations();

-- Deleting organisations deletes their companies and people. SECURITY DEFINER with each organisation set in
-- turn: the crm tables' policies are forced, and whoever deletes an organisation has no rights on them.
CREATE FUNCTION crm.delete_organisation_rows() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  org uuid;
  previous text := current_setting('app.organisation_id', true);
BEGIN
  FOR org IN SELECT DISTINCT o.id FROM old_rows o ORDER BY 1 LOOP
    PERFORM set_config('app.organisation_id', org::text, true);
    DELETE FROM crm.companies c WHERE c.organisation_id = org;
    DELETE FROM crm.people p WHERE p.organisation_id = org;
  END LOOP;
  PERFORM set_config('app.organisation_id', coalesce(previous, ''), true);
  RETURN NULL;
END $$;

CREATE TRIGGER organisations_crm_delete AFTER DELETE ON iam.organisations
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION crm.delete_organisation_rows();

REVOKE ALL ON FUNCTION crm.check_organisations(), crm.delete_organisation_rows() FROM PUBLIC;
