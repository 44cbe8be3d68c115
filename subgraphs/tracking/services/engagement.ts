// Applies one organisation's batch of engagement facts in its tenant transaction: outreach's events (SENT,
// REPLIED, BOUNCED, UNSUBSCRIBED) and the tracking hits become per-message facts (tracking.message_stats,
// tracking.message_hits); the roll-ups per campaign, step and variant follow by trigger in the same transaction.
//
// Machine rules, applied here where the send time is known (and applied again whenever it becomes known):
// - a hit the endpoint marked (HEAD request, scanner user agent, Apple's privacy proxy) is a machine's;
// - an open or click within 10 s of sending is a machine's ('too-soon');
// - a click within 1 s of a click on another URL of the same message is a link scanner's ('link-scan'),
//   and so is that other click.
// A message is `opened` with any open, `humanOpened` with a human open, `clicked` with a human click.
import type { EntityManager } from '../../../lib/db/orm.ts';
import { rawQuery } from '../../../lib/db/orm.ts';
import { assertHit, type TrackingHit } from '../../../lib/tracking/hits.ts';

export const TOO_SOON_SECONDS = 10;
export const LINK_SCAN_SECONDS = 1;
/** Applied event ids are kept this long to recognise a redelivery (the retries end after ~1 h 13 min). */
export const APPLIED_EVENTS_KEPT_DAYS = 7;
const PRUNE_PER_BATCH = 1000;

export type OutreachFact =
  | {
      type: 'SENT';
      eventId: string;
      campaignId: string;
      enrollmentId: string;
      messageId: string;
      sentAt: string;
      stepId?: string;
      variantId?: string;
    }
  | {
      type: 'REPLIED';
      eventId: string;
      campaignId: string;
      enrollmentId: string;
      messageId: string;
      at: string;
    }
  | {
      type: 'BOUNCED' | 'UNSUBSCRIBED';
      eventId: string;
      campaignId: string;
      enrollmentId: string;
      messageId: string;
      at: string;
    };

export interface LiveHit {
  kind: 'OPEN' | 'CLICK';
  campaignId: string;
  enrollmentId: string;
  messageId: string;
  /** Why it is a machine's, or null for a human hit. */
  machine: string | null;
}

export interface AppliedBatch {
  /** Campaigns whose figures may have changed. */
  campaigns: string[];
  /** The batch's new hits on messages whose campaign is known, classified. */
  hits: LiveHit[];
  /** Events and hits that had been applied before (redeliveries). */
  duplicates: number;
}

interface MessageFacts {
  messageId: string;
  campaignId: string | null;
  enrollmentId: string | null;
  stepId: string | null;
  variantId: string | null;
  sentAt: string | null;
  repliedAt: string | null;
  bouncedAt: string | null;
  unsubscribedAt: string | null;
}

const earliest = (a: string | null, b: string | null) => (a === null ? b : b === null || a <= b ? a : b);

/** Runs in the organisation's tenant transaction (`em`); every row written carries that organisation. */
export async function applyEngagement(
  em: EntityManager,
  input: { hits: readonly TrackingHit[]; facts: readonly OutreachFact[] },
): Promise<AppliedBatch> {
  let duplicates = 0;
  // events first: a redelivered one counts nothing
  let facts = input.facts;
  if (facts.length > 0) {
    const fresh = await rawQuery<{ event_id: string }>(
      em,
      `INSERT INTO tracking.applied_events (organisation_id, event_id)
       SELECT public.current_organisation_id(), e FROM unnest(?::uuid[]) AS e
       ON CONFLICT DO NOTHING RETURNING event_id`,
      [[...new Set(facts.map((f) => f.eventId))]],
    );
    const kept = new Set(fresh.map((r) => r.event_id));
    duplicates += facts.length - kept.size;
    facts = facts.filter((f) => kept.delete(f.eventId));
  }

  // one row of facts per message: a statement may not update the same row twice
  const byMessage = new Map<string, MessageFacts>();
  const factsOf = (messageId: string) => {
    let row = byMessage.get(messageId);
    if (!row) {
      row = {
        messageId,
        campaignId: null,
        enrollmentId: null,
        stepId: null,
        variantId: null,
        sentAt: null,
        repliedAt: null,
        bouncedAt: null,
        unsubscribedAt: null,
      };
      byMessage.set(messageId, row);
    }
    return row;
  };
  for (const f of facts) {
    const row = factsOf(f.messageId);
    row.campaignId = f.campaignId;
    row.enrollmentId = f.enrollmentId;
    if (f.type === 'SENT') {
      row.stepId = f.stepId ?? null;
      row.variantId = f.variantId ?? null;
      row.sentAt = earliest(row.sentAt, f.sentAt);
    } else if (f.type === 'REPLIED') row.repliedAt = earliest(row.repliedAt, f.at);
    else if (f.type === 'BOUNCED') row.bouncedAt = earliest(row.bouncedAt, f.at);
    else row.unsubscribedAt = earliest(row.unsubscribedAt, f.at);
  }

  let newHits: Array<{ id: string; message_id: string }> = [];
  if (input.hits.length > 0) {
    const hits = input.hits;
    newHits = await rawQuery<{ id: string; message_id: string }>(
      em,
      `INSERT INTO tracking.message_hits (organisation_id, id, message_id, kind, url, at, machine)
       SELECT public.current_organisation_id(), h.id, h.message_id, h.kind, h.url, h.at, h.machine
       FROM unnest(?::uuid[], ?::uuid[], ?::text[], ?::text[], ?::timestamptz[], ?::text[])
         AS h(id, message_id, kind, url, at, machine)
       ON CONFLICT DO NOTHING RETURNING id, message_id`,
      [
        hits.map((h) => h.id),
        hits.map((h) => h.messageId),
        hits.map((h) => h.kind),
        hits.map((h) => h.url),
        hits.map((h) => h.at),
        hits.map((h) => h.machine),
      ],
    );
    duplicates += hits.length - newHits.length;
    for (const h of newHits) factsOf(h.message_id);
  }
  if (byMessage.size === 0) {
    await pruneAppliedEvents(em);
    return { campaigns: [], hits: [], duplicates };
  }

  const rows = [...byMessage.values()];
  const column = <K extends keyof MessageFacts>(key: K) => rows.map((r) => r[key]);
  // the facts first (a hit before its SENT makes a row without a campaign), then the figures from the hits
  await rawQuery(
    em,
    `INSERT INTO tracking.message_stats AS s (organisation_id, message_id, campaign_id, enrollment_id, step_id,
       variant_id, sent_at, replied_at, bounced_at, unsubscribed_at)
     SELECT public.current_organisation_id(), f.* FROM unnest(?::uuid[], ?::uuid[], ?::uuid[], ?::uuid[],
       ?::uuid[], ?::timestamptz[], ?::timestamptz[], ?::timestamptz[], ?::timestamptz[])
       AS f(message_id, campaign_id, enrollment_id, step_id, variant_id, sent_at, replied_at, bounced_at,
            unsubscribed_at)
     ORDER BY f.message_id
     ON CONFLICT (organisation_id, message_id) DO UPDATE SET
       campaign_id = coalesce(s.campaign_id, EXCLUDED.campaign_id),
       enrollment_id = coalesce(s.enrollment_id, EXCLUDED.enrollment_id),
       step_id = coalesce(s.step_id, EXCLUDED.step_id),
       variant_id = coalesce(s.variant_id, EXCLUDED.variant_id),
       sent_at = coalesce(s.sent_at, EXCLUDED.sent_at),
       replied_at = coalesce(s.replied_at, EXCLUDED.replied_at),
       bounced_at = coalesce(s.bounced_at, EXCLUDED.bounced_at),
       unsubscribed_at = coalesce(s.unsubscribed_at, EXCLUDED.unsubscribed_at)
     WHERE EXCLUDED.campaign_id IS NOT NULL OR EXCLUDED.sent_at IS NOT NULL OR EXCLUDED.replied_at IS NOT NULL
       OR EXCLUDED.bounced_at IS NOT NULL OR EXCLUDED.unsubscribed_at IS NOT NULL`,
    [
      column('messageId'),
      column('campaignId'),
      column('enrollmentId'),
      column('stepId'),
      column('variantId'),
      column('sentAt'),
      column('repliedAt'),
      column('bouncedAt'),
      column('unsubscribedAt'),
    ],
  );
  // a new hit, or a send time now known, can change what every hit of the message counts as
  const classified = await rawQuery<{
    id: string;
    message_id: string;
    kind: 'OPEN' | 'CLICK';
    machine: string | null;
    campaign_id: string | null;
    enrollment_id: string | null;
  }>(
    em,
    `WITH classified AS (
       SELECT h.id, h.message_id, h.kind, h.at, m.campaign_id, m.enrollment_id,
         CASE
           WHEN h.machine IS NOT NULL THEN h.machine
           WHEN m.sent_at IS NOT NULL AND h.at < m.sent_at + make_interval(secs => ?) THEN 'too-soon'
           WHEN h.kind = 'CLICK' AND EXISTS (
             SELECT FROM tracking.message_hits o
             WHERE o.organisation_id = h.organisation_id AND o.message_id = h.message_id AND o.kind = 'CLICK' AND o.url IS DISTINCT FROM h.url
               AND o.at BETWEEN h.at - make_interval(secs => ?) AND h.at + make_interval(secs => ?)
           ) THEN 'link-scan'
         END AS machine
       FROM tracking.message_hits h
       JOIN tracking.message_stats m ON m.organisation_id = h.organisation_id AND m.message_id = h.message_id
       WHERE h.organisation_id = public.current_organisation_id() AND h.message_id = ANY (?::uuid[])
     ), figures AS (
       SELECT message_id,
         count(*) FILTER (WHERE kind = 'OPEN')::int AS opens,
         count(*) FILTER (WHERE kind = 'OPEN' AND machine IS NULL)::int AS human_opens,
         count(*) FILTER (WHERE kind = 'CLICK')::int AS clicks,
         count(*) FILTER (WHERE kind = 'CLICK' AND machine IS NULL)::int AS human_clicks,
         min(at) FILTER (WHERE kind = 'OPEN') AS first_opened_at,
         min(at) FILTER (WHERE kind = 'OPEN' AND machine IS NULL) AS first_human_opened_at,
         min(at) FILTER (WHERE kind = 'CLICK') AS first_clicked_at,
         min(at) FILTER (WHERE kind = 'CLICK' AND machine IS NULL) AS first_human_clicked_at,
         max(at) AS last_event_at
       FROM classified GROUP BY message_id
     ), updated AS (
       -- runs whether or not the final SELECT reads it, as every data-modifying WITH does
       UPDATE tracking.message_stats s SET opens = f.opens, human_opens = f.human_opens, clicks = f.clicks,
         human_clicks = f.human_clicks, first_opened_at = f.first_opened_at,
         first_human_opened_at = f.first_human_opened_at, first_clicked_at = f.first_clicked_at,
         first_human_clicked_at = f.first_human_clicked_at, last_event_at = f.last_event_at
       FROM figures f
       WHERE s.organisation_id = public.current_organisation_id() AND s.message_id = f.message_id
         AND (s.opens, s.human_opens, s.clicks, s.human_clicks, s.first_opened_at, s.first_human_opened_at,
              s.first_clicked_at, s.first_human_clicked_at, s.last_event_at)
           IS DISTINCT FROM (f.opens, f.human_opens, f.clicks, f.human_clicks, f.first_opened_at,
              f.first_human_opened_at, f.first_clicked_at, f.first_human_clicked_at, f.last_event_at)
       RETURNING s.message_id
     )
     SELECT c.id, c.message_id, c.kind, c.machine, c.campaign_id, c.enrollment_id
     FROM classified c WHERE c.id = ANY (?::uuid[])`,
    [TOO_SOON_SECONDS, LINK_SCAN_SECONDS, LINK_SCAN_SECONDS, [...byMessage.keys()], newHits.map((h) => h.id)],
  );
  await pruneAppliedEvents(em);

  const campaigns = await rawQuery<{ campaign_id: string }>(
    em,
    `SELECT DISTINCT campaign_id FROM tracking.message_stats
     WHERE message_id = ANY (?::uuid[]) AND campaign_id IS NOT NULL`,
    [[...byMessage.keys()]],
  );
  return {
    campaigns: campaigns.map((c) => c.campaign_id),
    hits: classified
      .filter((c) => c.campaign_id !== null && c.enrollment_id !== null)
      .map((c) => ({
        kind: c.kind,
        campaignId: c.campaign_id!,
        enrollmentId: c.enrollment_id!,
        messageId: c.message_id,
        machine: c.machine,
      })),
    duplicates,
  };
}

/** Deletes a bounded number of the organisation's applied-event marks older than the redelivery window. */
async function pruneAppliedEvents(em: EntityManager): Promise<void> {
  await rawQuery(
    em,
    `DELETE FROM tracking.applied_events WHERE event_id IN (
       SELECT event_id FROM tracking.applied_events
       WHERE organisation_id = public.current_organisation_id() AND applied_at < now() - make_interval(days => ?)
       LIMIT ?)`,
    [APPLIED_EVENTS_KEPT_DAYS, PRUNE_PER_BATCH],
  );
}

/** A hit as the endpoint published it, checked field by field (assertHit); null for anything malformed. */
export function parseHit(value: unknown): TrackingHit | null {
  try {
    assertHit(value);
    return value;
  } catch {
    return null;
  }
}
