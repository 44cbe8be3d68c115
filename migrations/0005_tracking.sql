-- Tracking: wrapped links, raw events (embedded default; ClickHouse when configured), aggregates.
CREATE SCHEMA IF NOT EXISTS tracking;
GRANT USAGE ON SCHEMA tracking TO prospectflow_app;

CREATE TABLE tracking.links (
  organisation_id uuid NOT NULL,
  id uuid NOT NULL,
  message_id uuid NOT NULL,
  url text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (organisation_id, id),
  FOREIGN KEY (organisation_id, message_id) REFERENCES outreach.messages (organisation_id, id) ON DELETE CASCADE
);
SELECT public.enable_tenant_rls('tracking.links');

CREATE TABLE tracking.events (
  organisation_id uuid NOT NULL,
  id uuid NOT NULL,
  kind text NOT NULL CHECK (kind IN ('OPEN', 'CLICK', 'UNSUBSCRIBE')),
  message_id uuid NOT NULL,
  link_id uuid,
  machine boolean NOT NULL DEFAULT false,
  user_agent text,
  ip_hash text,
  occurred_at timestamptz NOT NULL,
  PRIMARY KEY (organisation_id, id),
  FOREIGN KEY (organisation_id, message_id) REFERENCES outreach.messages (organisation_id, id) ON DELETE CASCADE
);
CREATE INDEX events_message ON tracking.events (organisation_id, message_id, occurred_at);
SELECT public.enable_tenant_rls('tracking.events');

CREATE TABLE tracking.message_stats (
  organisation_id uuid NOT NULL,
  message_id uuid NOT NULL,
  campaign_id uuid NOT NULL,
  step_id uuid,
  variant_id uuid,
  opens int NOT NULL DEFAULT 0,
  human_opens int NOT NULL DEFAULT 0,
  clicks int NOT NULL DEFAULT 0,
  first_opened_at timestamptz,
  first_clicked_at timestamptz,
  last_event_at timestamptz,
  PRIMARY KEY (organisation_id, message_id),
  FOREIGN KEY (organisation_id, message_id) REFERENCES outreach.messages (organisation_id, id) ON DELETE CASCADE
);
CREATE INDEX message_stats_campaign ON tracking.message_stats (organisation_id, campaign_id);
SELECT public.enable_tenant_rls('tracking.message_stats');
