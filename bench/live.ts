// `npm run bench:live`: graphql-ws subscribers on one gateway (one organisation, 100 campaigns), fed by
// events published to RabbitMQ: time from publish to receipt at every subscriber (single events, then a
// burst of one event on each of the 100 campaigns), and the gateway's memory per subscriber. A run with
// 1,000 subscribers is the baseline for the 10,000 one. The platform runs in this process on a throwaway
// database; the subscribers live in one child process. `--quick` (or BENCH_QUICK=1) runs 200 and 2,000.
import { type ChildProcess, fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from 'graphql-ws';
import pg from 'pg';
import WebSocket from 'ws';
import { OUTREACH_EVENTS_SUBSCRIPTION, QUEUES } from '../lib/bus/catalog.ts';
import { eventRoutingKey } from '../lib/bus/index.ts';
import { loadConfig } from '../lib/config.ts';
import { startStack } from '../stack.ts';
import { deleteBrokerQueues } from '../test/helpers/broker.ts';
import { seedDraftCampaign } from '../test/helpers/drafts.ts';
import { seedSent } from '../test/helpers/inbound-mail.ts';
import { createDatabase, databaseUrl, dropDatabase } from './lib/platform.ts';
import { markdownTable, verdict } from './lib/report.ts';

const QUICK = process.argv.includes('--quick') || process.env.BENCH_QUICK === '1';
const CAMPAIGNS = 100;
const RUNS = QUICK ? [200, 2_000] : [1_000, 10_000];
const SINGLE_EVENTS = 20;
const TARGET_P99_MS = 250;
const TARGET_BURST_MS = 500;
const AMQP_URL = process.env.BENCH_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
/** Where to write a CPU profile of the platform's process during the last run's burst (to see where it goes). */
const PROFILE = process.env.BENCH_LIVE_PROFILE;

const SUBSCRIPTION = `subscription Live($id: ID!) {
  campaignActivity(campaignId: $id) {
    kind at
    campaign { name }
    message { subject opens }
    enrollment { position { email company { name } } }
  }
}`;

// ---------------------------------------------------------------- the subscribers' process
interface ClientSetup {
  url: string;
  /** one READ API key for all: subscribers of one identity share resolutions */
  key: string;
  campaigns: { id: string }[];
  perCampaign: number;
}
type ToClient =
  | { type: 'connect'; setup: ClientSetup }
  | { type: 'collect' }
  | { type: 'reset' }
  | { type: 'cpu' };
type FromClient =
  | { type: 'connected'; sockets: number; failed: number }
  | { type: 'received'; count: number; latencies: number[] }
  | { type: 'progress'; count: number }
  | { type: 'cpu'; ms: number };

async function runClients() {
  let latencies: number[] = [];
  const send = (m: FromClient) => process.send!(m);
  process.on('message', async (m: ToClient) => {
    if (m.type === 'connect') {
      const { url, key, campaigns, perCampaign } = m.setup;
      let connected = 0;
      let failed = 0;
      const opening: Promise<void>[] = [];
      for (const campaign of campaigns) {
        for (let i = 0; i < perCampaign; i++) {
          opening.push(
            new Promise<void>((resolve) => {
              const client = createClient({
                url,
                webSocketImpl: WebSocket,
                connectionParams: { authorization: `Bearer ${key}` },
                retryAttempts: 0,
                lazy: false,
                keepAlive: 0,
              });
              let first = true;
              client.subscribe(
                { query: SUBSCRIPTION, variables: { id: campaign.id } },
                {
                  next: (r: any) => {
                    const at = r.data?.campaignActivity?.at;
                    if (at) latencies.push(Date.now() - Date.parse(at));
                  },
                  error: () => {
                    failed++;
                    resolve();
                  },
                  complete: () => {},
                },
              );
              // subscribed once the gateway acknowledged the socket; the hub count confirms it upstream
              client.on('connected', () => {
                if (!first) return;
                first = false;
                connected++;
                resolve();
              });
            }),
          );
          // a steady opening pace: the handshakes are CPU on both sides of one box
          if (opening.length % 200 === 0) await Promise.all(opening.slice(-200));
        }
      }
      await Promise.all(opening);
      send({ type: 'connected', sockets: connected, failed });
    } else if (m.type === 'reset') {
      latencies = [];
    } else if (m.type === 'cpu') {
      send({ type: 'cpu', ms: cpuMs() });
    } else if (m.type === 'collect') {
      send({ type: 'received', count: latencies.length, latencies });
    }
  });
}

// ---------------------------------------------------------------- the gateway's process
/** CPU time (user + system) of this process so far, in ms. */
function cpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function graphql(url: string, query: string, variables: unknown, token?: string) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await res.json()) as { data?: any; errors?: unknown[] };
  if (body.errors) throw new Error(`GraphQL errors: ${JSON.stringify(body.errors)}`);
  return body.data;
}

function ask(child: ChildProcess, message: ToClient, answer: FromClient['type']): Promise<any> {
  return new Promise((resolve) => {
    const on = (m: FromClient) => {
      if (m.type !== answer) return;
      child.off('message', on);
      resolve(m);
    };
    child.on('message', on);
    child.send(message);
  });
}

function heap() {
  globalThis.gc?.();
  globalThis.gc?.();
  const m = process.memoryUsage();
  return { heap: m.heapUsed, rss: m.rss };
}

interface RunResult {
  subscribers: number;
  groups: number;
  single: number[];
  burstLatencies: number[];
  burstAllMs: number;
  /** CPU ms per single event and for the whole burst: the platform's process, then the subscribers' */
  singleCpu: { platform: number; clients: number };
  burstCpu: { platform: number; clients: number };
  received: number;
  expected: number;
  heapPerSubscriber: number;
  rssPerSubscriber: number;
}

async function main() {
  const dbName = `prospectflow_bench_live_${process.pid}`;
  await createDatabase(dbName);
  const config = loadConfig({
    DATABASE_URL: databaseUrl(dbName),
    DATA_DIR: join(tmpdir(), `prospectflow-bench-live-${process.pid}`),
    AMQP_URL,
    AMQP_PREFIX: `bench-live-${randomUUID().slice(0, 8)}.`,
    LOG_LEVEL: 'error',
    PORT: '0',
    RATE_LIMITS: 'signUp=100000/60,write=1000000/60,read=1000000000/60',
    ACCESS_TOKEN_SECONDS: '86400',
  });
  const stack = await startStack(config, {
    ephemeralPorts: true,
    // every subscriber comes from 127.0.0.1 with the same API key
    live: { maxSocketsPerIp: 20_000, maxSocketsPerIdentity: 20_000 },
  });
  const child = fork(new URL(import.meta.url).pathname, ['--clients'], {
    execArgv: ['--import', 'tsx', '--max-old-space-size=4096'],
  });
  try {
    const url = stack.gateway.url;
    const session = await graphql(
      url,
      'mutation($input: SignUpInput!) { signUp(input: $input) { accessToken organisation { id } } }',
      {
        input: {
          organisationName: 'Bench live',
          email: `owner.${randomUUID().slice(0, 8)}@bench.example`,
          password: 'correct horse battery staple',
        },
      },
    );
    const organisationId: string = session.signUp.organisation.id;
    const owner = new pg.Client({ connectionString: databaseUrl(dbName) });
    await owner.connect();
    const created = await graphql(
      url,
      'mutation { createApiKey(name: "live bench", scopes: [READ]) { secret } }',
      {},
      session.signUp.accessToken,
    );
    const key: string = created.createApiKey.secret;
    const campaigns: { id: string; messageId: string; enrollmentId: string }[] = [];
    for (let i = 0; i < CAMPAIGNS; i++) {
      const seed = await seedDraftCampaign(owner, {
        organisationId,
        steps: [{ subject: 'Vos fournils', body: 'Bonjour' }],
        people: [{ firstName: 'Léa', companyName: `Boulangerie ${i}` }],
      });
      const sent = await seedSent(owner, seed, 0);
      campaigns.push({
        id: seed.campaignId,
        messageId: sent.messageId,
        enrollmentId: sent.enrollmentId,
      });
    }
    await owner.query('ANALYZE');
    await owner.end();

    // the envelope the outbox relay gives an event, so every consumer (the figures too) takes it as real
    const publish = (c: (typeof campaigns)[number]) =>
      stack.bus.publishEvent(eventRoutingKey(c.id, 'SENT'), {
        type: 'SENT',
        organisationId,
        campaignId: c.id,
        eventId: randomUUID(),
        at: new Date().toISOString(),
        enrollmentId: c.enrollmentId,
        messageId: c.messageId,
      });
    const hub = stack.gateway.live.hub;
    const waitFor = async (check: () => boolean, ms: number) => {
      const deadline = Date.now() + ms;
      while (!check() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      return check();
    };
    const collect = async (expected: number, withinMs: number) => {
      const deadline = Date.now() + withinMs;
      let got: { count: number; latencies: number[] };
      do {
        got = await ask(child, { type: 'collect' }, 'received');
        if (got.count >= expected) break;
        await new Promise((r) => setTimeout(r, 50));
      } while (Date.now() < deadline);
      child.send({ type: 'reset' });
      return got;
    };

    const results: RunResult[] = [];
    let connectedSoFar = 0;
    for (const total of RUNS) {
      const perCampaign = total / CAMPAIGNS;
      const before = heap();
      const adding = perCampaign - connectedSoFar / CAMPAIGNS;
      const reply = await ask(
        child,
        { type: 'connect', setup: { url: url.replace('http', 'ws'), key, campaigns, perCampaign: adding } },
        'connected',
      );
      connectedSoFar += reply.sockets;
      if (!(await waitFor(() => hub.subscriberCount >= total, 60_000))) {
        throw new Error(
          `only ${hub.subscriberCount} of ${total} subscribers joined (${reply.failed} refused)`,
        );
      }
      const after = heap();
      const added = total - (results.at(-1)?.subscribers ?? 0);
      child.send({ type: 'reset' });

      // warm-up: query plans (one per batch size) and connections made before measuring
      for (let round = 0; round < 2; round++) {
        await Promise.all(campaigns.map(publish));
        await collect(total, 30_000);
      }

      // single events, one at a time on campaigns in turn: every subscriber of that campaign receives it
      const single: number[] = [];
      const cpuNow = async () => ({
        platform: cpuMs(),
        clients: ((await ask(child, { type: 'cpu' }, 'cpu')) as { ms: number }).ms,
      });
      const cpuSince = async (start: { platform: number; clients: number }, per = 1) => {
        const end = await cpuNow();
        return {
          platform: (end.platform - start.platform) / per,
          clients: (end.clients - start.clients) / per,
        };
      };
      const singleStart = await cpuNow();
      for (let i = 0; i < SINGLE_EVENTS; i++) {
        await publish(campaigns[i % CAMPAIGNS]!);
        const got = await collect(perCampaign, 5_000);
        single.push(...got.latencies);
      }
      const singleCpu = await cpuSince(singleStart, SINGLE_EVENTS);
      // the burst: one event on each campaign at once
      const profiling = PROFILE && total === RUNS.at(-1) ? new Session() : undefined;
      if (profiling) {
        profiling.connect();
        await profiling.post('Profiler.enable');
        await profiling.post('Profiler.start');
      }
      const burstStart = await cpuNow();
      await Promise.all(campaigns.map(publish));
      const burst = await collect(total, 10_000);
      if (profiling) {
        const { profile } = await profiling.post('Profiler.stop');
        await writeFile(PROFILE!, JSON.stringify(profile));
        profiling.disconnect();
      }
      const burstCpu = await cpuSince(burstStart);
      const burstAllMs = burst.count >= total ? Math.max(...burst.latencies) : Number.POSITIVE_INFINITY;
      results.push({
        subscribers: total,
        groups: hub.groupCount,
        single: single.sort((a, b) => a - b),
        burstLatencies: burst.latencies.sort((a, b) => a - b),
        burstAllMs,
        singleCpu,
        burstCpu,
        received: burst.count,
        expected: total,
        heapPerSubscriber: (after.heap - before.heap) / added,
        rssPerSubscriber: (after.rss - before.rss) / added,
      });
    }

    const rows = results.map((r) => [
      r.subscribers.toLocaleString('en'),
      String(r.groups),
      `${percentile(r.single, 50)} / ${percentile(r.single, 99)}`,
      `${percentile(r.burstLatencies, 50)} / ${percentile(r.burstLatencies, 99)}`,
      `${r.received.toLocaleString('en')} / ${r.expected.toLocaleString('en')}`,
      Number.isFinite(r.burstAllMs) ? String(r.burstAllMs) : 'not all',
      `${r.singleCpu.platform.toFixed(0)} / ${r.singleCpu.clients.toFixed(0)}`,
      `${r.burstCpu.platform.toFixed(0)} / ${r.burstCpu.clients.toFixed(0)}`,
      `${(r.heapPerSubscriber / 1024).toFixed(1)} KB / ${(r.rssPerSubscriber / 1024).toFixed(1)} KB`,
    ]);
    console.log(
      `\nLive subscriptions: ${CAMPAIGNS} campaigns, one organisation, payload resolved through 3 subgraphs\n`,
    );
    console.log(
      markdownTable(
        [
          'subscribers',
          'groups',
          'single event p50 / p99 ms',
          'burst p50 / p99 ms',
          'burst received',
          'burst all within ms',
          'CPU ms per single event: platform / subscribers',
          'CPU ms for the burst: platform / subscribers',
          'heap / RSS per subscriber',
        ],
        rows,
      ),
    );
    const last = results.at(-1)!;
    console.log(
      `\np99 of single events < ${TARGET_P99_MS} ms at ${last.subscribers.toLocaleString('en')}: ${verdict(percentile(last.single, 99) < TARGET_P99_MS)}`,
    );
    console.log(
      `burst of ${CAMPAIGNS} events delivered to all within ${TARGET_BURST_MS} ms: ${verdict(last.burstAllMs < TARGET_BURST_MS)}`,
    );
  } finally {
    child.kill();
    await stack.stop();
    await dropDatabase(dbName);
    await deleteBrokerQueues(AMQP_URL, config.amqpPrefix, [
      ...QUEUES.map((q) => q.name),
      OUTREACH_EVENTS_SUBSCRIPTION.queue,
    ]).catch((error) => console.error(`bench queues not deleted: ${(error as Error).message}`));
  }
}

if (process.argv.includes('--clients')) await runClients();
else await main();
