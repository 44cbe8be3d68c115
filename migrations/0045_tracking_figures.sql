-- Tracking figures: the facts of each message (from outreach's events and the tracking hits), roll-ups per
-- campaign, step and variant kept by a trigger in the same transaction, and the dedupe of applied events.
-- The engagement worker writes these as prospectflow_tracking, in the organisation's tenant transaction.

-- ===== Per-message facts =====
-- A hit can arrive before its message's SENT event: the row is then made by the hit, without a campaign yet.
ALTER TABLE tracking.message_stats
  ALTER COLUMN campaign_id DROP NOT NULL,
  ADD COLUMN enrollment_id uuid,
  ADD COLUMN sent_at timestamptz,
  ADD COLUMN first_human_opened_at timestamptz,
  ADD COLUMN human_clicks int NOT NULL DEFAULT 0,
  ADD COLUMN first_human_clicked_at timestamptz,
  ADD COLUMN replied_at timestamptz,
  ADD COLUMN bounced_at timestamptz,
  ADD COLUMN unsubscribed_at timestamptz;
-- timelines read one campaign's facts by time
CREATE INDEX message_stats_campaign_sent ON tracking.message_stats (organisation_id, campaign_id, sent_at);

-- Every open and click hit of a message, once (the hit's id): the message's figures are recomputed from these,
-- so a machine rule that needs the send time or the other clicks holds whatever order things arrive in.
CREATE TABLE tracking.message_hits (
  organisation_id uuid NOT NULL,
  id uuid NOT NULL,
  message_id uuid NOT NULL,
  kind text NOT NULL CHECK (kind IN ('OPEN', 'CLICK')),
  url text CHECK (length(url) <= 4096),
  at timestamptz NOT NULL,
  -- why the endpoint already knew it was a machine ('head', 'scanner-ua', 'apple-privacy-proxy'), else null
  machine text CHECK (length(machine) <= 100),
  PRIMARY KEY (organisation_id, id),
  FOREIGN KEY (organisation_id, message_id) REFERENCES outreach.messages (organisation_id, id) ON DELETE CASCADE
);
CREATE INDEX message_hits_message ON tracking.message_hits (organisation_id, message_id, at);
SELECT public.enable_tenant_rls('tracking.message_hits');

-- ===== Roll-ups =====
-- scope: 'campaign' (scope_id = the campaign), 'step', 'variant'. A message counts once it is sent.
CREATE TABLE tracking.stats_rollups (
  organisation_id uuid NOT NULL,
  campaign_id uuid NOT NULL,
  scope text NOT NULL CHECK (scope IN ('campaign', 'step', 'variant')),
  scope_id uuid NOT NULL,
  sent int NOT NULL DEFAULT 0,
  opened int NOT NULL DEFAULT 0,
  human_opened int NOT NULL DEFAULT 0,
  clicked int NOT NULL DEFAULT 0,
  replied int NOT NULL DEFAULT 0,
  bounced int NOT NULL DEFAULT 0,
  unsubscribed int NOT NULL DEFAULT 0,
  PRIMARY KEY (organisation_id, scope, scope_id),
  FOREIGN KEY (organisation_id, campaign_id) REFERENCES outreach.campaigns (organisation_id, id) ON DELETE CASCADE
);
CREATE INDEX stats_rollups_campaign ON tracking.stats_rollups (organisation_id, campaign_id);
SELECT public.enable_tenant_rls('tracking.stats_rollups');

-- Adds what the `added` rows count and takes off what the `removed` rows counted (a message counts once it is
-- sent and has its campaign), summed per roll-up row first and applied in key order, so two batches touching
-- the same campaigns lock their rows in the same order: one upsert per campaign, step and variant per
-- statement, not one per message.
CREATE FUNCTION tracking.add_to_rollups(added tracking.message_stats[], removed tracking.message_stats[])
  RETURNS void LANGUAGE sql AS $$
  WITH changes AS (
    SELECT a.*, 1 AS sign FROM unnest(added) a
    UNION ALL
    SELECT r.*, -1 AS sign FROM unnest(removed) r
  ), counted AS (
    SELECT organisation_id, campaign_id, step_id, variant_id,
           sign AS sent,
           sign * (opens > 0)::int AS opened,
           sign * (human_opens > 0)::int AS human_opened,
           sign * (human_clicks > 0)::int AS clicked,
           sign * (replied_at IS NOT NULL)::int AS replied,
           sign * (bounced_at IS NOT NULL)::int AS bounced,
           sign * (unsubscribed_at IS NOT NULL)::int AS unsubscribed
    FROM changes WHERE sent_at IS NOT NULL AND campaign_id IS NOT NULL
  ), scoped AS (
    SELECT c.*, 'campaign' AS scope, campaign_id AS scope_id FROM counted c
    UNION ALL
    SELECT c.*, 'step', step_id FROM counted c WHERE step_id IS NOT NULL
    UNION ALL
    SELECT c.*, 'variant', variant_id FROM counted c WHERE variant_id IS NOT NULL
  ), summed AS (
    SELECT organisation_id, (array_agg(campaign_id))[1] AS campaign_id, scope, scope_id,
           sum(sent) AS sent, sum(opened) AS opened, sum(human_opened) AS human_opened, sum(clicked) AS clicked,
           sum(replied) AS replied, sum(bounced) AS bounced, sum(unsubscribed) AS unsubscribed
    FROM scoped GROUP BY organisation_id, scope, scope_id
  )
  INSERT INTO tracking.stats_rollups AS r
    (organisation_id, campaign_id, scope, scope_id, sent, opened, human_opened, clicked, replied, bounced,
     unsubscribed)
  SELECT organisation_id, campaign_id, scope, scope_id, sent, opened, human_opened, clicked, replied, bounced,
         unsubscribed
  FROM summed
  WHERE (sent, opened, human_opened, clicked, replied, bounced, unsubscribed) <> (0, 0, 0, 0, 0, 0, 0)
  ORDER BY organisation_id, scope, scope_id
  ON CONFLICT (organisation_id, scope, scope_id) DO UPDATE SET
    sent = r.sent + EXCLUDED.sent,
    opened = r.opened + EXCLUDED.opened,
    human_opened = r.human_opened + EXCLUDED.human_opened,
    clicked = r.clicked + EXCLUDED.clicked,
    replied = r.replied + EXCLUDED.replied,
    bounced = r.bounced + EXCLUDED.bounced,
    unsubscribed = r.unsubscribed + EXCLUDED.unsubscribed
$$;

-- Transition tables need one trigger per kind of statement (an INSERT ... ON CONFLICT DO UPDATE fires both).
CREATE FUNCTION tracking.rollup_inserted_stats() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM tracking.add_to_rollups(ARRAY(SELECT ROW(n.*)::tracking.message_stats FROM new_rows n), '{}');
  RETURN NULL;
END $$;
CREATE FUNCTION tracking.rollup_updated_stats() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM tracking.add_to_rollups(ARRAY(SELECT ROW(n.*)::tracking.message_stats FROM new_rows n),
                                  ARRAY(SELECT ROW(o.*)::tracking.message_stats FROM old_rows o));
  RETURN NULL;
END $$;
CREATE TRIGGER message_stats_rollup_insert AFTER INSERT ON tracking.message_stats
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION tracking.rollup_inserted_stats();
CREATE TRIGGER message_stats_rollup_update AFTER UPDATE ON tracking.message_stats
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION tracking.rollup_updated_stats();

-- ===== Applied events =====
-- Outreach events the worker has counted, written in the same transaction: a redelivery counts nothing. Kept
-- 7 days (far past the longest redelivery: the queue's retries end after ~1 h 13 min, a relay's lease after
-- minutes); the worker deletes older rows of an organisation as it applies that organisation's batches.
CREATE TABLE tracking.applied_events (
  organisation_id uuid NOT NULL REFERENCES iam.organisations (id) ON DELETE CASCADE,
  event_id uuid NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (organisation_id, event_id)
);
CREATE INDEX applied_events_age ON tracking.applied_events (organisation_id, applied_at);
SELECT public.enable_tenant_rls('tracking.applied_events');
