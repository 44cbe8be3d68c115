-- Outreach: mailboxes, prompts, campaigns and their steps and A/B experiments, enrollments, tasks, messages.
CREATE SCHEMA IF NOT EXISTS outreach;
GRANT USAGE ON SCHEMA outreach TO prospectflow_app;

CREATE TABLE outreach.mailboxes (
  organisation_id uuid NOT NULL REFERENCES iam.organisations (id) ON DELETE CASCADE,
  id uuid NOT NULL,
  email citext NOT NULL,
  display_name text,
  provider text NOT NULL CHECK (provider IN ('GMAIL', 'OUTBOX')),
  daily_limit int NOT NULL DEFAULT 50 CHECK (daily_limit BETWEEN 1 AND 2000),
  min_spacing_seconds int NOT NULL DEFAULT 60 CHECK (min_spacing_seconds >= 0),
  credentials jsonb,
  history_id text,
  created_by uuid,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (organisation_id, id),
  UNIQUE (organisation_id, email)
);
SELECT public.enable_tenant_rls('outreach.mailboxes');

CREATE TABLE outreach.prompts (
  organisation_id uuid NOT NULL REFERENCES iam.organisations (id) ON DELETE CASCADE,
  id uuid NOT NULL,
  name text NOT NULL,
  version int NOT NULL CHECK (version >= 1),
  model text,
  text text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (organisation_id, id),
  UNIQUE (organisation_id, name, version)
);
SELECT public.enable_tenant_rls('outreach.prompts');

CREATE TABLE outreach.campaigns (
  organisation_id uuid NOT NULL REFERENCES iam.organisations (id) ON DELETE CASCADE,
  id uuid NOT NULL,
  name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  status text NOT NULL DEFAULT 'DRAFT' CHECK (status IN ('DRAFT', 'RUNNING', 'PAUSED', 'COMPLETED', 'ARCHIVED')),
  timezone text NOT NULL,
  days int[] NOT NULL CHECK (days <@ ARRAY[1, 2, 3, 4, 5, 6, 7] AND cardinality(days) > 0),
  start_hour int NOT NULL CHECK (start_hour BETWEEN 0 AND 23),
  end_hour int NOT NULL CHECK (end_hour BETWEEN 1 AND 24),
  daily_limit int CHECK (daily_limit > 0),
  track_opens boolean NOT NULL DEFAULT true,
  track_clicks boolean NOT NULL DEFAULT true,
  require_approval boolean NOT NULL DEFAULT false,
  created_by uuid,
  launched_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (organisation_id, id),
  CHECK (start_hour < end_hour)
);
CREATE INDEX campaigns_listing ON outreach.campaigns (organisation_id, created_at);
SELECT public.enable_tenant_rls('outreach.campaigns');

CREATE TABLE outreach.campaign_mailboxes (
  organisation_id uuid NOT NULL,
  campaign_id uuid NOT NULL,
  mailbox_id uuid NOT NULL,
  PRIMARY KEY (organisation_id, campaign_id, mailbox_id),
  FOREIGN KEY (organisation_id, campaign_id) REFERENCES outreach.campaigns (organisation_id, id) ON DELETE CASCADE,
  FOREIGN KEY (organisation_id, mailbox_id) REFERENCES outreach.mailboxes (organisation_id, id) ON DELETE CASCADE
);
SELECT public.enable_tenant_rls('outreach.campaign_mailboxes');

CREATE TABLE outreach.workflow_steps (
  organisation_id uuid NOT NULL,
  id uuid NOT NULL,
  campaign_id uuid NOT NULL,
  index int NOT NULL CHECK (index >= 0),
  delay_days int NOT NULL CHECK (delay_days BETWEEN 0 AND 365),
  subject_template text,
  body_template text,
  prompt_id uuid,
  thread_with_previous boolean NOT NULL DEFAULT true,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (organisation_id, id),
  UNIQUE (organisation_id, campaign_id, index),
  FOREIGN KEY (organisation_id, campaign_id) REFERENCES outreach.campaigns (organisation_id, id) ON DELETE CASCADE,
  FOREIGN KEY (organisation_id, prompt_id) REFERENCES outreach.prompts (organisation_id, id)
);
SELECT public.enable_tenant_rls('outreach.workflow_steps');

CREATE TABLE outreach.step_experiments (
  organisation_id uuid NOT NULL,
  id uuid NOT NULL,
  step_id uuid NOT NULL,
  name text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (organisation_id, id),
  UNIQUE (organisation_id, step_id),
  FOREIGN KEY (organisation_id, step_id) REFERENCES outreach.workflow_steps (organisation_id, id) ON DELETE CASCADE
);
SELECT public.enable_tenant_rls('outreach.step_experiments');

CREATE TABLE outreach.step_experiment_variants (
  organisation_id uuid NOT NULL,
  id uuid NOT NULL,
  experiment_id uuid NOT NULL,
  key text NOT NULL,
  weight int NOT NULL CHECK (weight BETWEEN 0 AND 10000),
  subject_template text,
  body_template text,
  prompt_id uuid,
  PRIMARY KEY (organisation_id, id),
  UNIQUE (organisation_id, experiment_id, key),
  FOREIGN KEY (organisation_id, experiment_id) REFERENCES outreach.step_experiments (organisation_id, id) ON DELETE CASCADE,
  FOREIGN KEY (organisation_id, prompt_id) REFERENCES outreach.prompts (organisation_id, id)
);
SELECT public.enable_tenant_rls('outreach.step_experiment_variants');

CREATE TABLE outreach.campaign_enrollments (
  organisation_id uuid NOT NULL,
  id uuid NOT NULL,
  campaign_id uuid NOT NULL,
  position_id uuid NOT NULL,
  status text NOT NULL DEFAULT 'ACTIVE'
    CHECK (status IN ('ACTIVE', 'PAUSED', 'COMPLETED', 'REPLIED', 'BOUNCED', 'UNSUBSCRIBED', 'FAILED')),
  current_step_index int,
  next_run_at timestamptz,
  stopped_reason text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (organisation_id, id),
  UNIQUE (organisation_id, campaign_id, position_id),
  FOREIGN KEY (organisation_id, campaign_id) REFERENCES outreach.campaigns (organisation_id, id) ON DELETE CASCADE,
  -- across schemas: an enrollment can only point at a position of its own organisation
  FOREIGN KEY (organisation_id, position_id) REFERENCES crm.positions (organisation_id, id) ON DELETE CASCADE
);
CREATE INDEX campaign_enrollments_position ON outreach.campaign_enrollments (organisation_id, position_id);
SELECT public.enable_tenant_rls('outreach.campaign_enrollments');

-- Stable A/B: once a variant is drawn for an enrollment's step, it stays.
CREATE TABLE outreach.enrollment_variant_assignments (
  organisation_id uuid NOT NULL,
  enrollment_id uuid NOT NULL,
  step_id uuid NOT NULL,
  variant_id uuid NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (organisation_id, enrollment_id, step_id),
  FOREIGN KEY (organisation_id, enrollment_id) REFERENCES outreach.campaign_enrollments (organisation_id, id) ON DELETE CASCADE,
  FOREIGN KEY (organisation_id, step_id) REFERENCES outreach.workflow_steps (organisation_id, id) ON DELETE CASCADE,
  FOREIGN KEY (organisation_id, variant_id) REFERENCES outreach.step_experiment_variants (organisation_id, id) ON DELETE CASCADE
);
SELECT public.enable_tenant_rls('outreach.enrollment_variant_assignments');

CREATE TABLE outreach.tasks (
  organisation_id uuid NOT NULL,
  id uuid NOT NULL,
  enrollment_id uuid NOT NULL,
  step_id uuid NOT NULL,
  kind text NOT NULL CHECK (kind IN ('DRAFT', 'SEND')),
  status text NOT NULL DEFAULT 'PENDING' CHECK (status IN ('PENDING', 'QUEUED', 'RUNNING', 'DONE', 'FAILED', 'CANCELLED')),
  scheduled_for timestamptz NOT NULL,
  attempts int NOT NULL DEFAULT 0,
  last_error text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (organisation_id, id),
  FOREIGN KEY (organisation_id, enrollment_id) REFERENCES outreach.campaign_enrollments (organisation_id, id) ON DELETE CASCADE,
  FOREIGN KEY (organisation_id, step_id) REFERENCES outreach.workflow_steps (organisation_id, id) ON DELETE CASCADE
);
CREATE INDEX tasks_due ON outreach.tasks (scheduled_for) WHERE status = 'PENDING';
SELECT public.enable_tenant_rls('outreach.tasks');

CREATE TABLE outreach.messages (
  organisation_id uuid NOT NULL,
  id uuid NOT NULL,
  enrollment_id uuid NOT NULL,
  step_id uuid,
  variant_id uuid,
  mailbox_id uuid,
  position_id uuid NOT NULL,
  direction text NOT NULL DEFAULT 'OUTBOUND' CHECK (direction IN ('OUTBOUND', 'INBOUND')),
  status text NOT NULL
    CHECK (status IN ('DRAFTING', 'AWAITING_APPROVAL', 'QUEUED', 'SENDING', 'SENT', 'FAILED', 'BOUNCED', 'REJECTED', 'RECEIVED')),
  subject text,
  body_text text,
  body_html text,
  prompt_id uuid,
  rfc_message_id text,
  provider_message_id text,
  thread_id text,
  in_reply_to text,
  sent_at timestamptz,
  error text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (organisation_id, id),
  FOREIGN KEY (organisation_id, enrollment_id) REFERENCES outreach.campaign_enrollments (organisation_id, id) ON DELETE CASCADE,
  FOREIGN KEY (organisation_id, step_id) REFERENCES outreach.workflow_steps (organisation_id, id) ON DELETE SET NULL (step_id),
  FOREIGN KEY (organisation_id, variant_id) REFERENCES outreach.step_experiment_variants (organisation_id, id) ON DELETE SET NULL (variant_id),
  FOREIGN KEY (organisation_id, mailbox_id) REFERENCES outreach.mailboxes (organisation_id, id) ON DELETE SET NULL (mailbox_id),
  FOREIGN KEY (organisation_id, position_id) REFERENCES crm.positions (organisation_id, id) ON DELETE CASCADE,
  FOREIGN KEY (organisation_id, prompt_id) REFERENCES outreach.prompts (organisation_id, id)
);
CREATE INDEX messages_enrollment ON outreach.messages (organisation_id, enrollment_id, created_at);
CREATE INDEX messages_review ON outreach.messages (organisation_id, created_at) WHERE status = 'AWAITING_APPROVAL';
CREATE UNIQUE INDEX messages_rfc_id ON outreach.messages (rfc_message_id) WHERE rfc_message_id IS NOT NULL;
SELECT public.enable_tenant_rls('outreach.messages');

-- Transactional outbox: domain events written with the change, published after commit.
CREATE TABLE outreach.outbox (
  organisation_id uuid NOT NULL,
  id uuid NOT NULL,
  topic text NOT NULL,
  payload jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  published_at timestamptz,
  PRIMARY KEY (organisation_id, id)
);
CREATE INDEX outbox_unpublished ON outreach.outbox (created_at) WHERE published_at IS NULL;
SELECT public.enable_tenant_rls('outreach.outbox');
