// Raw tracking events end to end on RabbitMQ: the tracking endpoint answers hits once both queues confirmed
// them, and the events worker writes them to PostgreSQL's monthly partitions, and to ClickHouse when
// CLICKHOUSE_URL is set (.ci/run sets it): every answered hit stored once, also when a batch comes again.
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { MikroORM } from '@mikro-orm/postgresql';
import pg from 'pg';
import { Connection } from 'rabbitmq-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGAGEMENT_QUEUE, HITS_QUEUE } from '../lib/bus/catalog.ts';
import {
  type Bus,
  type Consumer,
  consumeBatch,
  createBus,
  DEFAULT_RETRY_DELAYS_MS,
  queueNames,
  sendBatch,
} from '../lib/bus/index.ts';
import { clickhouseTarget, createClickHouse } from '../lib/clickhouse/client.ts';
import { loadConfig } from '../lib/config.ts';
import { serviceDatabaseUrl } from '../lib/db/roles.ts';
import { createLogger } from '../lib/telemetry/logger.ts';
import type { TrackingHit } from '../lib/tracking/hits.ts';
import { createTokenSigner, trackingUrl } from '../lib/tracking/tokens.ts';
import { hitRoute } from '../subgraphs/tracking/routes/hit.route.ts';
import { startEvents } from '../workers/events/consumer.ts';
import { createWorkerOrm, type RunningWorker } from '../workers/runtime.ts';
import { seedAwaitingMessages, seedDraftCampaign } from './helpers/drafts.ts';
import { type WorkerDatabase, workerDatabase } from './helpers/worker-db.ts';

const AMQP_URL = 'amqp://guest:guest@127.0.0.1:5672';
const STORES = process.env.CLICKHOUSE_URL ? (['postgres', 'clickhouse'] as const) : (['postgres'] as const);
const silent = createLogger('test', 'silent');
const signer = createTokenSigner([randomBytes(32).toString('base64url')]);

let db: WorkerDatabase;
let dataDir: string;
const prefixes: string[] = [];
/** Two organisations, two messages each. */
let messages: Array<{ organisationId: string; messageId: string }>;

beforeAll(async () => {
  db = await workerDatabase('trackingstore');
  dataDir = await mkdtemp(path.join(tmpdir(), 'prospectflow-tracking-store-'));
  messages = [];
  for (let i = 0; i < 2; i++) {
    const seed = await seedDraftCampaign(db.owner, {
      steps: [{ subject: 'Hello', body: 'Hi' }],
      people: [{ firstName: 'Ann' }, { firstName: 'Bob' }],
      requireApproval: true,
    });
    for (const messageId of await seedAwaitingMessages(db.owner, seed, 0))
      messages.push({ organisationId: seed.organisationId, messageId });
  }
});
afterAll(async () => {
  await db?.drop();
  await rm(dataDir, { recursive: true, force: true });
  const conn = new Connection(AMQP_URL);
  try {
    for (const prefix of prefixes)
      for (const queue of [HITS_QUEUE, ENGAGEMENT_QUEUE]) {
        const names = queueNames(prefix, queue.name);
        const delays = [...new Set([...DEFAULT_RETRY_DELAYS_MS, ...queue.retryDelaysMs])];
        for (const name of [names.work, names.dead, ...delays.map(names.retry)])
          await conn.queueDelete({ queue: name }).catch(() => {});
      }
  } finally {
    await conn.close();
  }
});

function hitsFor(count: number, at = () => new Date()): TrackingHit[] {
  return Array.from({ length: count }, (_, i) => {
    const { organisationId, messageId } = messages[i % messages.length]!;
    const click = i % 3 === 0;
    return {
      id: randomUUID(),
      kind: click ? 'CLICK' : 'OPEN',
      organisationId,
      messageId,
      url: click ? `https://example.com/p/${i}` : null,
      at: at().toISOString(),
      machine: i % 5 === 0 ? 'apple-privacy-proxy' : null,
      userAgent: 'Thunderbird/115.0',
      ipHash: signer.hashAddress(`198.51.100.${i % 250}`),
    };
  });
}

for (const store of STORES) {
  describe(`raw events in ${store}`, () => {
    const prefix = `test-tracking-store-${store}-${randomBytes(4).toString('hex')}.`;
    prefixes.push(prefix);
    const database = `prospectflow_test_${process.pid}_${randomBytes(3).toString('hex')}`;
    const clickhouseUrl =
      store === 'clickhouse' ? `${process.env.CLICKHOUSE_URL!.replace(/\/+$/, '')}/${database}` : undefined;
    let orm: MikroORM;
    let bus: Bus;
    let worker: RunningWorker;

    /** Stored hits of these ids, each counted once (uniqExact / the primary key), and every stored row. */
    async function stored(ids: string[]): Promise<{ unique: number; rows: number }> {
      if (store === 'postgres') {
        const { rows } = await db.owner.query<{ n: number }>(
          'SELECT count(*)::int AS n FROM tracking.events WHERE id = ANY ($1::uuid[])',
          [ids],
        );
        return { unique: rows[0]!.n, rows: rows[0]!.n };
      }
      const client = createClickHouse(clickhouseTarget(clickhouseUrl!));
      try {
        // ids are UUIDs made here: nothing to escape
        const list = ids.map((id) => `'${id}'`).join(',');
        const [row] = await (
          await client.query({
            query: `SELECT uniqExact(id) AS unique, (SELECT count() FROM tracking_events FINAL WHERE id IN (${list})) AS rows
                    FROM tracking_events WHERE id IN (${list})`,
            format: 'JSONEachRow',
          })
        ).json<{ unique: string; rows: string }>();
        return { unique: Number(row!.unique), rows: Number(row!.rows) };
      } finally {
        await client.close();
      }
    }

    async function waitStored(ids: string[], expected: number): Promise<void> {
      const started = Date.now();
      while ((await stored(ids)).unique < expected) {
        if (Date.now() - started > 15_000) throw new Error(`only ${(await stored(ids)).unique} stored`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }

    beforeAll(async () => {
      const config = loadConfig({
        NODE_ENV: 'test',
        DATABASE_URL: db.ownerUrl,
        DATA_DIR: dataDir,
        AMQP_URL,
        AMQP_PREFIX: prefix,
        ...(clickhouseUrl ? { CLICKHOUSE_URL: clickhouseUrl } : {}),
      });
      orm = await createWorkerOrm(config);
      bus = await createBus({ amqpUrl: AMQP_URL, prefix, logger: silent });
      worker = await startEvents({ config, orm, bus, log: silent, clock: () => new Date() });
    });
    afterAll(async () => {
      await worker?.stop();
      await bus?.close();
      await orm?.close();
      if (clickhouseUrl) {
        const client = createClickHouse(clickhouseTarget(clickhouseUrl), 'default');
        await client.command({ query: `DROP DATABASE IF EXISTS ${database}` });
        await client.close();
      }
    });

    it('stores every hit of a batch once, also when the same batch is delivered again', async () => {
      const hits = hitsFor(300);
      const ids = hits.map((h) => h.id);
      await sendBatch(bus, HITS_QUEUE, { hits }, { messageId: 'batch-1' });
      await waitStored(ids, 300);
      // the broker hands the batch over again (a consumer died before its ack), and once more in two halves
      await sendBatch(bus, HITS_QUEUE, { hits }, { messageId: 'batch-1' });
      await sendBatch(bus, HITS_QUEUE, { hits: hits.slice(0, 150) }, { messageId: 'batch-1a' });
      await sendBatch(bus, HITS_QUEUE, { hits: hits.slice(150) }, { messageId: 'batch-1b' });
      const marker = hitsFor(1);
      await sendBatch(bus, HITS_QUEUE, { hits: marker }, { messageId: 'batch-2' });
      // the batches are consumed in order: once the marker is in, the repeats were handled too
      await waitStored([marker[0]!.id], 1);
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(await stored(ids)).toEqual({ unique: 300, rows: 300 });
    });

    it('answers each pixel only once its hit is confirmed on both queues, and stores each answered hit', async () => {
      const engagement: string[] = [];
      const counters: Consumer = await consumeBatch(bus, ENGAGEMENT_QUEUE, async ({ hits }) => {
        for (const hit of hits) engagement.push(hit.id);
      });
      const route = hitRoute({ deps: { tokens: signer, bus }, log: silent });
      const server: Server = createServer(async (req, res) => {
        if (!(await route(req, res, randomUUID()))) res.writeHead(418).end();
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
      try {
        const urls = Array.from({ length: 400 }, (_, i) => {
          const { organisationId, messageId } = messages[i % messages.length]!;
          const token = { kind: 'open' as const, organisationId, messageId };
          return trackingUrl(base, token, signer.sign(token));
        });
        const statuses = await Promise.all(
          urls.map(
            async (url) => (await fetch(url, { headers: { 'user-agent': 'Thunderbird/115.0' } })).status,
          ),
        );
        expect(statuses.filter((s) => s === 200)).toHaveLength(400);
        const started = Date.now();
        while (engagement.length < 400 && Date.now() - started < 10_000)
          await new Promise((resolve) => setTimeout(resolve, 50));
        expect(new Set(engagement).size).toBe(400);
        await waitStored(engagement, 400);
        expect((await stored(engagement)).rows).toBe(400);
      } finally {
        await counters.close();
        await new Promise((resolve) => server.close(resolve));
      }
    });

    if (store === 'postgres') {
      it('makes the partition of a month it has none for, under the tenant policy, and keeps tenants apart', async () => {
        const later = hitsFor(4, () => new Date('2029-07-15T08:30:00.250Z'));
        await sendBatch(bus, HITS_QUEUE, { hits: later }, { messageId: 'later' });
        await waitStored(
          later.map((h) => h.id),
          4,
        );
        const { rows: parts } = await db.owner.query<{ relname: string; relrowsecurity: boolean }>(
          `SELECT c.relname, c.relrowsecurity FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
           WHERE i.inhparent = 'tracking.events'::regclass AND c.relname = 'events_2029_07'`,
        );
        expect(parts).toEqual([{ relname: 'events_2029_07', relrowsecurity: true }]);
        const { rows } = await db.owner.query(
          'SELECT occurred_at, kind, url, machine FROM tracking.events WHERE id = $1',
          [later[0]!.id],
        );
        expect(rows[0]).toEqual({
          occurred_at: new Date('2029-07-15T08:30:00.250Z'),
          kind: 'CLICK',
          url: 'https://example.com/p/0',
          machine: 'apple-privacy-proxy',
        });

        // the tracking service reads one organisation's events only, partitions included
        const tracking = new pg.Client({ connectionString: serviceDatabaseUrl(db.ownerUrl, 'tracking') });
        await tracking.connect();
        try {
          const [a, b] = [messages[0]!.organisationId, messages[2]!.organisationId];
          await tracking.query('BEGIN');
          await tracking.query("SELECT set_config('app.organisation_id', $1, true)", [a]);
          const seen = await tracking.query<{ organisation_id: string }>(
            'SELECT DISTINCT organisation_id FROM tracking.events WHERE id = ANY ($1::uuid[])',
            [later.map((h) => h.id)],
          );
          expect(seen.rows).toEqual([{ organisation_id: a }]);
          const direct = await tracking.query(
            'SELECT count(*)::int AS n FROM tracking.events_2029_07 WHERE organisation_id = $1',
            [b],
          );
          expect(direct.rows[0].n).toBe(0);
          await tracking.query('ROLLBACK');
        } finally {
          await tracking.end();
        }
      });
    }
  });
}
