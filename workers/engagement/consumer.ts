// The engagement worker: counts the tracking hits (ENGAGEMENT_QUEUE) and outreach's SENT, REPLIED, BOUNCED and
// UNSUBSCRIBED events (a durable subscription: none is missed while the worker is down) into the figures, one
// transaction per organisation's batch (handler.ts), and publishes OPENED, CLICKED and STATS_CHANGED.

import {
  BOUNCED,
  ENGAGEMENT_QUEUE,
  OUTREACH_EVENTS_SUBSCRIPTION,
  REPLIED,
  SENT,
  UNSUBSCRIBED,
} from '../../lib/bus/catalog.ts';
import { PermanentError, subscribeToEvents } from '../../lib/bus/index.ts';
import { groupBy } from '../../lib/collections.ts';
import { createOrm, isUuid } from '../../lib/db/orm.ts';
import { serviceDatabaseUrl } from '../../lib/db/roles.ts';
import { MessageStats } from '../../subgraphs/tracking/entities/message-stats.entity.ts';
import { parseHit } from '../../subgraphs/tracking/services/engagement.ts';
import { createBatcher } from '../drafter/batcher.ts';
import type { RunningWorker, WorkerDefinition, WorkerRuntime } from '../runtime.ts';
import { applyBatch, type EngagementItem, factOf } from './handler.ts';

/** Items of one organisation applied in one transaction at most. */
const MAX_BATCH = 500;
/** Hits in one queue message: the endpoint sends at most 500. */
const MAX_HITS_PER_MESSAGE = 5000;

export async function startEngagement(runtime: WorkerRuntime): Promise<RunningWorker> {
  const { config, bus, log } = runtime;
  if (!config.databaseUrl) throw new Error('databaseUrl must be resolved before starting a worker');
  // tracking's tables, as tracking's own role: this worker reads nothing of outreach
  const orm = await createOrm({
    databaseUrl: serviceDatabaseUrl(config.databaseUrl, 'tracking', config.databasePasswords.tracking),
    schema: 'tracking',
    entities: [MessageStats],
    tenantEntities: ['MessageStats'],
    poolMax: 4,
  });
  const deps = { orm, bus, log };
  const submit = createBatcher<EngagementItem, undefined>(
    (organisationId, items) => applyBatch(deps, organisationId, items),
    MAX_BATCH,
  );

  const hitsConsumer = await bus.consume<{ hits?: unknown }>(
    ENGAGEMENT_QUEUE.name,
    async (message) => {
      if (!Array.isArray(message.hits) || message.hits.length > MAX_HITS_PER_MESSAGE)
        throw new PermanentError(`a hit batch carries a list of at most ${MAX_HITS_PER_MESSAGE} hits`);
      const hits = message.hits.map(parseHit).filter((hit) => hit !== null);
      const malformed = message.hits.length - hits.length;
      if (malformed > 0) log.warn({ malformed }, 'malformed hits dropped');
      const byOrganisation = groupBy(hits, (hit) => hit.organisationId);
      await Promise.all(
        [...byOrganisation].map(([organisationId, hits]) => submit(organisationId, { hits })),
      );
    },
    { prefetch: ENGAGEMENT_QUEUE.prefetch, retryDelaysMs: [...ENGAGEMENT_QUEUE.retryDelaysMs] },
  );
  const eventsConsumer = await subscribeToEvents(
    bus,
    [SENT, REPLIED, BOUNCED, UNSUBSCRIBED],
    async (event) => {
      if (!isUuid(event.organisationId)) throw new PermanentError('an event needs an organisation UUID');
      const item = factOf(event);
      if ('ignored' in item) return;
      await submit(event.organisationId, item);
    },
    OUTREACH_EVENTS_SUBSCRIPTION,
  );
  return {
    name: 'engagement',
    stop: async () => {
      await hitsConsumer.close();
      await eventsConsumer.close();
      await orm.close();
    },
  };
}

export const engagementWorker: WorkerDefinition = { name: 'engagement', start: startEngagement };
