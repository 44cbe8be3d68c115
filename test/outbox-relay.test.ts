// The transactional outbox end to end: events written with a change are relayed after commit (and never for a
// rolled-back change), in order per campaign, at least once; a consumer handles each event once.
import { randomBytes, randomUUID } from 'node:crypto';
import type { MikroORM } from '@mikro-orm/postgresql';
import { Connection } from 'rabbitmq-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DRAFTED, ENROLLMENT_CHANGED } from '../lib/bus/catalog.ts';
import { type Bus, createBus, type PublishedEvent, subscribeToEvents } from '../lib/bus/index.ts';
import { loadConfig } from '../lib/config.ts';
import { createOrm, withTenant } from '../lib/db/orm.ts';
import { serviceDatabaseUrl } from '../lib/db/roles.ts';
import { consumeOnce } from '../lib/outbox/consume-once.ts';
import { recordEvent } from '../lib/outbox/outbox.ts';
import { createLogger } from '../lib/telemetry/logger.ts';
import { createRelay, type Relay } from '../workers/relay/index.ts';
import { createWorkerOrm, WORKER_ENTITIES, WORKER_TENANT_ENTITIES } from '../workers/runtime.ts';
import { eventually } from './helpers/wait.ts';
import { seedCampaign, type WorkerDatabase, workerDatabase } from './helpers/worker-db.ts';

const AMQP_URL = 'amqp://guest:guest@127.0.0.1:5672';
const silent = createLogger('test', 'silent');

let db: WorkerDatabase;
let workerOrm: MikroORM;
// the outreach service's own role writes events as a resolver would
let outreachOrm: MikroORM;

beforeAll(async () => {
  db = await workerDatabase('outbox');
  workerOrm = await createWorkerOrm(loadConfig({ NODE_ENV: 'test', DATABASE_URL: db.ownerUrl }));
  outreachOrm = await createOrm({
    databaseUrl: serviceDatabaseUrl(db.ownerUrl, 'outreach'),
    schema: 'outreach',
    entities: WORKER_ENTITIES,
    tenantEntities: WORKER_TENANT_ENTITIES,
  });
});
afterAll(async () => {
  await workerOrm?.close();
  await outreachOrm?.close();
  await db?.drop();
});

function relay(bus: Bus, options: { name?: string; leaseSeconds?: number; batchSize?: number } = {}): Relay {
  return createRelay(
    { orm: workerOrm, bus, workerId: options.name ?? `relay-${randomUUID()}`, clock: () => new Date() },
    silent,
    { leaseSeconds: options.leaseSeconds ?? 30, batchSize: options.batchSize, idleMs: 20 },
  );
}

/** Runs relay rounds until check() holds. */
async function relayUntil(r: Relay, check: () => boolean, withinMs = 10_000): Promise<void> {
  const deadline = Date.now() + withinMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('relay did not deliver in time');
    await r.runOnce();
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe.each([{ kind: 'memory' }, { kind: 'rabbitmq' }] as const)('outbox relay ($kind bus)', ({ kind }) => {
  let bus: Bus;
  const prefix = `test-${randomBytes(4).toString('hex')}.`;
  beforeAll(async () => {
    bus = await createBus({ amqpUrl: kind === 'rabbitmq' ? AMQP_URL : undefined, prefix, logger: silent });
  });
  afterAll(async () => {
    await bus?.close();
    if (kind === 'rabbitmq') {
      const conn = new Connection(AMQP_URL);
      await conn.exchangeDelete({ exchange: `${prefix}prospectflow.events` }).catch(() => {});
      await conn.close();
    }
  });

  it('publishes an event of a committed transaction, never one of a rolled-back transaction', async () => {
    const seed = await seedCampaign(db.owner);
    const received: PublishedEvent[] = [];
    const sub = await subscribeToEvents(bus, [DRAFTED, ENROLLMENT_CHANGED], (e) => {
      if (e.campaignId === seed.campaignId) received.push(e);
    });
    const messageId = randomUUID();
    await withTenant(outreachOrm, seed.organisationId, (em) =>
      recordEvent(em, DRAFTED, {
        campaignId: seed.campaignId,
        payload: { enrollmentId: seed.enrollmentId, messageId },
      }),
    );
    await expect(
      withTenant(outreachOrm, seed.organisationId, async (em) => {
        await recordEvent(em, ENROLLMENT_CHANGED, {
          campaignId: seed.campaignId,
          payload: { enrollmentId: seed.enrollmentId },
        });
        throw new Error('the change failed');
      }),
    ).rejects.toThrow('the change failed');
    // a later event of the same campaign: had the rolled-back one been relayed, it would have come first
    await withTenant(outreachOrm, seed.organisationId, (em) =>
      recordEvent(em, DRAFTED, {
        campaignId: seed.campaignId,
        payload: { enrollmentId: seed.enrollmentId, messageId: randomUUID() },
      }),
    );
    const r = relay(bus);
    await relayUntil(r, () => received.length >= 2);
    await sub.close();

    expect(received.map((e) => [e.type, e.sequence])).toEqual([
      ['DRAFTED', 1],
      ['DRAFTED', 2],
    ]);
    expect(received[0]).toMatchObject({
      type: 'DRAFTED',
      organisationId: seed.organisationId,
      campaignId: seed.campaignId,
      enrollmentId: seed.enrollmentId,
      messageId,
    });
    const { rows } = await db.owner.query(
      `SELECT o.topic, o.sequence <= s.published_sequence AS published
       FROM outreach.outbox o JOIN outreach.outbox_streams s ON s.campaign_id = o.campaign_id
       WHERE o.campaign_id = $1 ORDER BY o.sequence`,
      [seed.campaignId],
    );
    expect(rows).toEqual([
      { topic: 'DRAFTED', published: true },
      { topic: 'DRAFTED', published: true },
    ]);
  });

  it('keeps each campaign in order with concurrent writers and two relays', async () => {
    const a = await seedCampaign(db.owner);
    const b = await seedCampaign(db.owner, a.organisationId);
    const c = await seedCampaign(db.owner);
    const campaigns = [a, b, c];
    const byCampaign = new Map<string, PublishedEvent[]>(campaigns.map((s) => [s.campaignId, []]));
    const sub = await subscribeToEvents(bus, [ENROLLMENT_CHANGED], (e) => {
      byCampaign.get(e.campaignId)?.push(e);
    });
    const relays = [relay(bus, { batchSize: 3 }), relay(bus, { batchSize: 3 })];
    for (const r of relays) r.start();
    // 8 writers per campaign at once, 5 events each, while the relays run
    await Promise.all(
      campaigns.flatMap((seed) =>
        Array.from({ length: 8 }, () =>
          withTenant(outreachOrm, seed.organisationId, async (em) => {
            for (let i = 0; i < 5; i++) {
              await recordEvent(em, ENROLLMENT_CHANGED, {
                campaignId: seed.campaignId,
                payload: { enrollmentId: seed.enrollmentId },
              });
            }
          }),
        ),
      ),
    );
    await eventually(async () => [...byCampaign.values()].every((list) => list.length >= 40), 20_000);
    for (const r of relays) await r.stop();
    await sub.close();

    for (const [campaignId, list] of byCampaign) {
      expect({ campaignId, sequences: list.map((e) => e.sequence) }).toEqual({
        campaignId,
        sequences: Array.from({ length: 40 }, (_, i) => i + 1),
      });
    }
  });

  it('republishes after a relay dies between publish and mark; the consumer handles the event once', async () => {
    const seed = await seedCampaign(db.owner);
    const deliveries: string[] = [];
    const handled: string[] = [];
    const sub = await subscribeToEvents(bus, [DRAFTED], async (e) => {
      if (e.campaignId !== seed.campaignId) return;
      deliveries.push(e.eventId);
      await consumeOnce(workerOrm, 'test-consumer', e, async () => {
        handled.push(e.eventId);
      });
    });
    const { eventId } = await withTenant(outreachOrm, seed.organisationId, (em) =>
      recordEvent(em, DRAFTED, {
        campaignId: seed.campaignId,
        payload: { enrollmentId: seed.enrollmentId, messageId: randomUUID() },
      }),
    );

    // this relay's process stops right after the broker confirmed the event, before it marks it published
    let revive!: () => void;
    const frozen = new Promise<void>((resolve) => {
      revive = resolve;
    });
    const dying: Bus = Object.create(bus, {
      publishEvent: {
        value: async (...args: Parameters<Bus['publishEvent']>) => {
          await bus.publishEvent(...args);
          await frozen;
        },
      },
    });
    const first = relay(dying, { name: 'relay-that-dies', leaseSeconds: 1 });
    const firstRound = first.runOnce();
    await eventually(async () => deliveries.length === 1, 10_000);

    // while its lease runs, nobody else takes the campaign's stream
    const second = relay(bus, { name: 'relay-that-survives', leaseSeconds: 30 });
    expect(await second.runOnce()).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    await relayUntil(second, () => deliveries.length === 2);
    await eventually(async () => handled.length === 1, 5000);
    revive();
    await firstRound;
    await sub.close();

    expect(deliveries).toEqual([eventId, eventId]);
    expect(handled).toEqual([eventId]);
    const consumed = await db.owner.query(
      "SELECT count(*)::int AS n FROM outreach.consumed_events WHERE consumer = 'test-consumer' AND event_id = $1",
      [eventId],
    );
    expect(consumed.rows[0].n).toBe(1);
    const stream = await db.owner.query(
      'SELECT published_sequence, leased_by FROM outreach.outbox_streams WHERE campaign_id = $1',
      [seed.campaignId],
    );
    // the late relay recorded its progress but did not take the stream back
    expect(stream.rows).toEqual([{ published_sequence: '1', leased_by: null }]);
  });
});

describe('recording events', () => {
  it('refuses to record outside a transaction, or without the tenant setting', async () => {
    const seed = await seedCampaign(db.owner);
    const em = outreachOrm.em.fork();
    await expect(
      recordEvent(em, ENROLLMENT_CHANGED, {
        campaignId: seed.campaignId,
        payload: { enrollmentId: seed.enrollmentId },
      }),
    ).rejects.toThrow(/inside the tenant transaction/);
    await expect(
      withTenant(outreachOrm, randomUUID(), (scoped) =>
        recordEvent(scoped, ENROLLMENT_CHANGED, {
          campaignId: seed.campaignId,
          payload: { enrollmentId: seed.enrollmentId },
        }),
      ),
    ).rejects.toThrow(/violates/);
    await expect(
      withTenant(outreachOrm, seed.organisationId, (scoped) =>
        recordEvent(scoped, ENROLLMENT_CHANGED, {
          campaignId: seed.campaignId,
          payload: { enrollmentId: seed.enrollmentId, email: 'x@example.fr' } as never,
        }),
      ),
    ).rejects.toThrow(/ids only/);
    const { rows } = await db.owner.query(
      'SELECT count(*)::int AS n FROM outreach.outbox WHERE campaign_id = $1',
      [seed.campaignId],
    );
    expect(rows[0].n).toBe(0);
  });
});
