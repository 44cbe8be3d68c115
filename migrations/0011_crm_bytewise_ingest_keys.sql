-- The ingest's identity keys, compared byte by byte. A citext key lower-cases both sides of every comparison
-- and a text key goes through the collation: inserting 10,000 companies spent most of its time in the
-- domain and name keys' comparisons. Lower-casing once per row into a "C"-collated key matches exactly the
-- same values (citext equality is equality of the lower-cased strings) at a fraction of the cost. Only the
-- ingest looks rows up by these keys; it writes the same expressions.
DROP INDEX crm.companies_pharow_id;
CREATE UNIQUE INDEX companies_pharow_id ON crm.companies (organisation_id, pharow_company_id COLLATE "C")
  WHERE pharow_company_id IS NOT NULL;
DROP INDEX crm.companies_siren;
CREATE UNIQUE INDEX companies_siren ON crm.companies (organisation_id, siren COLLATE "C") WHERE siren IS NOT NULL;
DROP INDEX crm.companies_domain;
CREATE INDEX companies_domain ON crm.companies (organisation_id, (lower(domain::text) COLLATE "C"))
  WHERE domain IS NOT NULL;
DROP INDEX crm.companies_name_key;
CREATE INDEX companies_name_key ON crm.companies (organisation_id, (lower(name) COLLATE "C"));

DROP INDEX crm.people_linkedin;
CREATE UNIQUE INDEX people_linkedin ON crm.people (organisation_id, linkedin_url COLLATE "C")
  WHERE linkedin_url IS NOT NULL;

-- Still one position per company, person and email (case-insensitive, a missing email counting as one value).
DROP INDEX crm.positions_identity;
CREATE UNIQUE INDEX positions_identity ON crm.positions
  (organisation_id, company_id, person_id, (lower(email::text) COLLATE "C")) NULLS NOT DISTINCT;
