-- CRM: companies, people, positions (a person at a company, with an email), suppressions.
CREATE SCHEMA IF NOT EXISTS crm;
GRANT USAGE ON SCHEMA crm TO prospectflow_app;

CREATE TABLE crm.companies (
  organisation_id uuid NOT NULL REFERENCES iam.organisations (id) ON DELETE CASCADE,
  id uuid NOT NULL,
  pharow_company_id text,
  siren text CHECK (siren ~ '^[0-9]{9}$'),
  hq_siret text CHECK (hq_siret ~ '^[0-9]{14}$'),
  name text NOT NULL,
  brand_name text,
  linkedin_name text,
  linkedin_url text,
  website_url text,
  domain citext,
  main_phone text,
  generic_email citext,
  naf_sector text,
  naf_code text,
  activity text,
  founding_year int,
  founding_date date,
  growing boolean,
  employee_count int,
  employee_range text,
  employee_min int,
  employee_max int,
  hq_address text,
  annual_revenue_eur bigint,
  annual_revenue_year int,
  -- fingerprint of the last ingested version: a repeat ingest recognises unchanged rows without reading them
  source_hash text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (organisation_id, id)
);
CREATE UNIQUE INDEX companies_pharow_id ON crm.companies (organisation_id, pharow_company_id) WHERE pharow_company_id IS NOT NULL;
CREATE UNIQUE INDEX companies_siren ON crm.companies (organisation_id, siren) WHERE siren IS NOT NULL;
CREATE INDEX companies_domain ON crm.companies (organisation_id, domain) WHERE domain IS NOT NULL;
CREATE INDEX companies_name_trgm ON crm.companies USING gin (name gin_trgm_ops);
CREATE INDEX companies_name_key ON crm.companies (organisation_id, lower(name));
SELECT public.enable_tenant_rls('crm.companies');

CREATE TABLE crm.people (
  organisation_id uuid NOT NULL REFERENCES iam.organisations (id) ON DELETE CASCADE,
  id uuid NOT NULL,
  first_name text,
  last_name text,
  salutation text,
  linkedin_url text,
  mobile_phone text,
  location text,
  -- normalised "first last" used to match a person without LinkedIn URL at the same company
  name_key text,
  source_hash text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (organisation_id, id)
);
CREATE UNIQUE INDEX people_linkedin ON crm.people (organisation_id, linkedin_url) WHERE linkedin_url IS NOT NULL;
CREATE INDEX people_name_trgm ON crm.people USING gin ((coalesce(first_name, '') || ' ' || coalesce(last_name, '')) gin_trgm_ops);
SELECT public.enable_tenant_rls('crm.people');

-- organisation_id needs no foreign key of its own here: the composite keys to companies and people imply it.
CREATE TABLE crm.positions (
  organisation_id uuid NOT NULL,
  id uuid NOT NULL,
  company_id uuid NOT NULL,
  person_id uuid NOT NULL,
  job_title text,
  email citext,
  email_status text NOT NULL DEFAULT 'UNKNOWN' CHECK (email_status IN ('VALID', 'RISKY', 'INVALID', 'UNKNOWN')),
  email_reliability smallint CHECK (email_reliability BETWEEN 0 AND 100),
  pharow_list_name text,
  source_hash text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (organisation_id, id),
  FOREIGN KEY (organisation_id, company_id) REFERENCES crm.companies (organisation_id, id) ON DELETE CASCADE,
  FOREIGN KEY (organisation_id, person_id) REFERENCES crm.people (organisation_id, id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX positions_identity ON crm.positions (organisation_id, company_id, person_id, email) NULLS NOT DISTINCT;
CREATE INDEX positions_email_trgm ON crm.positions USING gin ((email::text) gin_trgm_ops);
CREATE INDEX positions_listing ON crm.positions (organisation_id, created_at, id);
SELECT public.enable_tenant_rls('crm.positions');

CREATE TABLE crm.suppressions (
  organisation_id uuid NOT NULL REFERENCES iam.organisations (id) ON DELETE CASCADE,
  id uuid NOT NULL,
  value citext NOT NULL,
  kind text NOT NULL CHECK (kind IN ('EMAIL', 'DOMAIN')),
  reason text NOT NULL CHECK (reason IN ('UNSUBSCRIBED', 'BOUNCED', 'COMPLAINED', 'MANUAL')),
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (organisation_id, id),
  UNIQUE (organisation_id, value)
);
SELECT public.enable_tenant_rls('crm.suppressions');
