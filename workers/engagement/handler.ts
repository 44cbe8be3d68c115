// The engagement worker's work for one organisation's batch: hits and outreach events applied together in one
// tenant transaction (subgraphs/tracking/services/engagement.ts), then the live events for the dashboards.

import type { MikroORM } from '@mikro-orm/postgresql';
import { CLICKED, OPENED, STATS_CHANGED } from '../../lib/bus/catalog.ts';
import { type Bus, PermanentError, type PublishedEvent } from '../../lib/bus/index.ts';
import { groupBy } from '../../lib/collections.ts';
import { isUuid, withTenant } from '../../lib/db/orm.ts';
import type { Logger } from '../../lib/telemetry/logger.ts';
import type { TrackingHit } from '../../lib/tracking/hits.ts';
import {
  type AppliedBatch,
  applyEngagement,
  type OutreachFact,
} from '../../subgraphs/tracking/services/engagement.ts';

/** What one delivery brings: an organisation's hits of one queue message, or one outreach event. */
export type EngagementItem = { hits: TrackingHit[] } | { fact: OutreachFact } | { ignored: true };

export interface EngagementDeps {
  /** Logged in as prospectflow_tracking: the figures are tracking's own tables. */
  orm: MikroORM;
  bus: Bus;
  log: Logger;
}

const FOREIGN_KEY_VIOLATION = '23503';

/** The fact an outreach event states; `{ ignored }` for one with nothing to count. Malformed: PermanentError. */
export function factOf(event: PublishedEvent | Record<string, unknown>): EngagementItem {
  const { type, eventId, campaignId, enrollmentId, at } = event;
  if (!isUuid(eventId) || !isUuid(campaignId) || !isUuid(enrollmentId) || !isUuid(event.messageId)) {
    throw new PermanentError(`${type} event needs eventId, campaignId, enrollmentId and messageId UUIDs`);
  }
  const when = (value: unknown) => {
    if (typeof value !== 'string' || Number.isNaN(Date.parse(value)))
      throw new PermanentError(`${type} event has no valid time`);
    return new Date(value).toISOString();
  };
  const optionalId = (value: unknown) => (isUuid(value) ? value : undefined);
  const base = { eventId, campaignId, enrollmentId };
  switch (type) {
    case 'SENT':
      return {
        fact: {
          type,
          ...base,
          messageId: event.messageId,
          sentAt: when(event.sentAt ?? at),
          stepId: optionalId(event.stepId),
          variantId: optionalId(event.variantId),
        },
      };
    case 'REPLIED':
      // the reply counts for the email it answers; an event that does not say which has nothing to count
      if (!isUuid(event.sentMessageId)) return { ignored: true };
      return { fact: { type, ...base, messageId: event.sentMessageId, at: when(at) } };
    case 'BOUNCED':
    case 'UNSUBSCRIBED':
      return { fact: { type, ...base, messageId: event.messageId, at: when(at) } };
    default:
      return { ignored: true };
  }
}

/**
 * Applies the batch in one transaction; if that fails, each item alone, so one bad item fails only itself.
 * A hit or event of a message that no longer exists (deleted with its campaign) is dropped.
 */
export async function applyBatch(
  deps: EngagementDeps,
  organisationId: string,
  items: readonly EngagementItem[],
): Promise<Array<undefined | Error>> {
  try {
    await applyAndAnnounce(deps, organisationId, items);
    return items.map(() => undefined);
  } catch (error) {
    if (items.length === 1) return [await isolate(deps, organisationId, items[0], error)];
  }
  const results: Array<undefined | Error> = [];
  for (const item of items) {
    try {
      await applyAndAnnounce(deps, organisationId, [item]);
      results.push(undefined);
    } catch (error) {
      results.push(await isolate(deps, organisationId, item, error));
    }
  }
  return results;
}

async function isolate(
  deps: EngagementDeps,
  organisationId: string,
  item: EngagementItem,
  error: unknown,
): Promise<undefined | Error> {
  if ((error as { code?: string }).code !== FOREIGN_KEY_VIOLATION) return error as Error;
  if ('hits' in item) {
    // keep the hits of the messages that still exist
    const byMessage = groupBy(item.hits, (hit) => hit.messageId);
    let dropped = 0;
    for (const hits of byMessage.values()) {
      try {
        await applyAndAnnounce(deps, organisationId, [{ hits }]);
      } catch (err) {
        if ((err as { code?: string }).code !== FOREIGN_KEY_VIOLATION) return err as Error;
        dropped += hits.length;
      }
    }
    deps.log.warn({ organisationId, dropped }, 'hits of messages that no longer exist dropped');
    return undefined;
  }
  deps.log.warn({ organisationId }, 'event of a message that no longer exists dropped');
  return undefined;
}

async function applyAndAnnounce(
  deps: EngagementDeps,
  organisationId: string,
  items: readonly EngagementItem[],
): Promise<void> {
  const hits: TrackingHit[] = [];
  const facts: OutreachFact[] = [];
  for (const item of items) {
    if ('hits' in item) hits.push(...item.hits);
    else if ('fact' in item) facts.push(item.fact);
  }
  if (hits.length === 0 && facts.length === 0) return;
  const applied = await withTenant(deps.orm, organisationId, (em) => applyEngagement(em, { hits, facts }));
  await announce(deps, organisationId, applied);
}

/** Live events after commit; they only refresh dashboards, so a failed publish is logged, not retried. */
async function announce(deps: EngagementDeps, organisationId: string, applied: AppliedBatch): Promise<void> {
  const at = new Date().toISOString();
  try {
    for (const hit of applied.hits) {
      const event = hit.kind === 'OPEN' ? OPENED : CLICKED;
      await deps.bus.publishEvent(event.routingKey(hit.campaignId), {
        type: event.name,
        organisationId,
        at,
        campaignId: hit.campaignId,
        enrollmentId: hit.enrollmentId,
        messageId: hit.messageId,
        ...(hit.machine ? { machine: hit.machine } : {}),
      });
    }
    for (const campaignId of applied.campaigns) {
      await deps.bus.publishEvent(STATS_CHANGED.routingKey(campaignId), {
        type: STATS_CHANGED.name,
        organisationId,
        at,
        campaignId,
      });
    }
  } catch (err) {
    deps.log.warn({ err, organisationId }, 'live figure events not published');
  }
}
