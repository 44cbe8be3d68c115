// The unsubscribe worker on a database of its own, as the worker role: what one unsubscribe changes, that doing it
// again changes nothing, that a message not sent to the token's recipient in that organisation is dropped; and
// the production path over RabbitMQ: the tracking route's confirmed publish, the worker consuming it.

import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { MikroORM } from '@mikro-orm/postgresql';
import { Connection } from 'rabbitmq-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UNSUBSCRIBE_QUEUE } from '../lib/bus/catalog.ts';
import {
  type Bus,
  createBus,
  eventsExchangeName,
  PermanentError,
  queueNames,
  sendWork,
} from '../lib/bus/index.ts';
import { loadConfig } from '../lib/config.ts';
import { createLogger } from '../lib/telemetry/logger.ts';
import { createTokenSigner } from '../lib/tracking/tokens.ts';
import { unsubscribeRoute } from '../subgraphs/tracking/routes/unsubscribe.route.ts';
import { createWorkerOrm, type RunningWorker } from '../workers/runtime.ts';
import { startUnsubscribe } from '../workers/unsubscribe/consumer.ts';
import { type Unsubscribe, unsubscribe } from '../workers/unsubscribe/handler.ts';
import { seedDraftCampaign } from './helpers/drafts.ts';
import { eventually } from './helpers/wait.ts';
import { type WorkerDatabase, workerDatabase } from './helpers/worker-db.ts';

const AMQP_URL = 'amqp://guest:guest@127.0.0.1:5672';
const silent = createLogger('test', 'silent');

let db: WorkerDatabase;
let orm: MikroORM;

beforeAll(async () => {
  db = await workerDatabase('unsubscribe');
  orm = await createWorkerOrm(loadConfig({ NODE_ENV: 'test', DATABASE_URL: db.ownerUrl }));
});
afterAll(async () => {
  await orm?.close();
  await db?.drop();
});

/** A SENT email of a running campaign to its first prospect; the second prospect is enrolled too. */
async function sentEmail(organisationId: string = randomUUID()) {
  const seed = await seedDraftCampaign(db.owner, {
    organisationId,
    steps: [{ subject: 'Hello', body: 'Hi' }],
    people: [{ firstName: 'Léa' }, { firstName: 'Paul' }],
  });
  const { id: enrollmentId, positionId } = seed.enrollments[0]!;
  const messageId = randomUUID();
  await db.owner.query(
    `INSERT INTO outreach.messages (organisation_id, id, enrollment_id, step_id, mailbox_id, position_id,
       direction, status, subject, body_text, sent_at)
     VALUES ($1, $2, $3, $4, $5, $6, 'OUTBOUND', 'SENT', 'Hello', 'Hi', now())`,
    [organisationId, messageId, enrollmentId, seed.steps[0]!.id, seed.mailboxId, positionId],
  );
  const request: Unsubscribe = { organisationId, messageId, positionId };
  return { seed, enrollmentId, request, other: seed.enrollments[1]!.id };
}

async function state(organisationId: string) {
  const { rows: enrollments } = await db.owner.query(
    'SELECT id, status, stopped_reason FROM outreach.campaign_enrollments WHERE organisation_id = $1 ORDER BY id',
    [organisationId],
  );
  const { rows: suppressions } = await db.owner.query(
    'SELECT value::text, reason FROM crm.suppressions WHERE organisation_id = $1',
    [organisationId],
  );
  const { rows: events } = await db.owner.query(
    'SELECT topic, payload FROM outreach.outbox WHERE organisation_id = $1 ORDER BY topic',
    [organisationId],
  );
  return { enrollments, suppressions, events };
}

const statusOf = async (organisationId: string, enrollmentId: string) =>
  (await state(organisationId)).enrollments.find((e) => e.id === enrollmentId)?.status;

describe('the unsubscribe handler', () => {
  it('suppresses the recipient and stops their enrolment with one UNSUBSCRIBED event; again changes nothing', async () => {
    const { request, enrollmentId, other, seed } = await sentEmail();
    const first = await unsubscribe(orm, request);
    expect(first.suppressed).toBe(true);
    expect(first.stopped).toEqual([{ enrollmentId, campaignId: seed.campaignId, status: 'UNSUBSCRIBED' }]);
    const after = await state(request.organisationId);
    expect(after.suppressions).toEqual([
      { value: `prospect.${request.positionId}@client.fr`, reason: 'UNSUBSCRIBED' },
    ]);
    expect(after.enrollments.find((e) => e.id === enrollmentId)).toMatchObject({
      status: 'UNSUBSCRIBED',
      stopped_reason: 'UNSUBSCRIBED',
    });
    expect(after.enrollments.find((e) => e.id === other)!.status).toBe('ACTIVE');
    expect(after.events).toEqual([
      { topic: 'ENROLLMENT_CHANGED', payload: { enrollmentId } },
      { topic: 'UNSUBSCRIBED', payload: { enrollmentId, messageId: request.messageId } },
    ]);

    expect(await unsubscribe(orm, request)).toEqual({ stopped: [], suppressed: false });
    expect(await state(request.organisationId)).toEqual(after);
  });

  it('uses the position’s address when the enrolment kept none', async () => {
    const { request, enrollmentId } = await sentEmail();
    await db.owner.query('UPDATE outreach.campaign_enrollments SET email = NULL WHERE id = $1', [
      enrollmentId,
    ]);
    await unsubscribe(orm, request);
    expect((await state(request.organisationId)).suppressions).toEqual([
      { value: `prospect.${request.positionId}@client.fr`, reason: 'UNSUBSCRIBED' },
    ]);
  });

  it('drops, as permanent, a message of another organisation or recipient, and ids that are not UUIDs', async () => {
    const a = await sentEmail();
    const b = await sentEmail();
    const before = { a: await state(a.request.organisationId), b: await state(b.request.organisationId) };
    const refused: Unsubscribe[] = [
      { ...b.request, organisationId: a.request.organisationId },
      { ...b.request, positionId: a.request.positionId },
      { ...b.request, positionId: b.seed.enrollments[1]!.positionId },
      { ...b.request, messageId: randomUUID() },
      { ...b.request, organisationId: 'not-a-uuid' },
    ];
    for (const request of refused) {
      await expect(unsubscribe(orm, request)).rejects.toBeInstanceOf(PermanentError);
    }
    expect(await state(a.request.organisationId)).toEqual(before.a);
    expect(await state(b.request.organisationId)).toEqual(before.b);
  });
});

describe('over RabbitMQ: the tracking route publishes, the worker applies', () => {
  const prefix = `test-${randomBytes(4).toString('hex')}.`;
  let publisher: Bus;
  let consumerBus: Bus;
  let worker: RunningWorker;
  let server: Server;
  let base: string;
  const key = randomBytes(32).toString('base64url');

  beforeAll(async () => {
    // two connections, as the tracking service and the worker are two processes in production
    publisher = await createBus({ amqpUrl: AMQP_URL, prefix, logger: silent });
    consumerBus = await createBus({ amqpUrl: AMQP_URL, prefix, logger: silent });
    const config = loadConfig({ NODE_ENV: 'test', DATABASE_URL: db.ownerUrl });
    worker = await startUnsubscribe({ config, orm, bus: consumerBus, log: silent, clock: () => new Date() });
    const route = unsubscribeRoute({
      deps: { tokens: createTokenSigner([key]), bus: publisher },
      log: silent,
    });
    server = createServer(async (req, res) => {
      if (!(await route(req, res, 'request-1'))) res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server?.close(resolve));
    await worker?.stop();
    await consumerBus?.close();
    await publisher?.close();
    const conn = new Connection(AMQP_URL);
    const names = queueNames(prefix, UNSUBSCRIBE_QUEUE.name);
    for (const queue of [names.work, names.dead, ...UNSUBSCRIBE_QUEUE.retryDelaysMs.map(names.retry)]) {
      await conn.queueDelete({ queue }).catch(() => {});
    }
    await conn.exchangeDelete({ exchange: eventsExchangeName(prefix) }).catch(() => {});
    await conn.close();
  });

  it('a one-click POST answered 200 reaches the worker; a foreign message goes to the dead letters', async () => {
    const { request, enrollmentId } = await sentEmail();
    const token = createTokenSigner([key]).sign({ kind: 'unsubscribe', ...request });
    const res = await fetch(`${base}/t/u/${token}`, { method: 'POST', body: 'List-Unsubscribe=One-Click' });
    expect(res.status).toBe(200);
    await eventually(
      async () => (await statusOf(request.organisationId, enrollmentId)) === 'UNSUBSCRIBED',
      15_000,
    );

    const foreign = { ...request, organisationId: randomUUID() };
    await sendWork(consumerBus, UNSUBSCRIBE_QUEUE, foreign, {
      messageId: `unsubscribe:${foreign.messageId}`,
    });
    await eventually(
      async () =>
        (await consumerBus.deadLetters(UNSUBSCRIBE_QUEUE.name)).some(
          (m) => m.organisationId === foreign.organisationId,
        ),
      15_000,
    );
    expect(
      (await state(request.organisationId)).events.filter((e) => e.topic === 'UNSUBSCRIBED'),
    ).toHaveLength(1);
  });
});
