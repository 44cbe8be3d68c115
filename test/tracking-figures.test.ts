// Campaign figures end to end: outreach's events (as the relay publishes them) and tracking hits go onto
// RabbitMQ, the engagement worker counts them into the platform's database, and the figures are read through
// the gateway as a client reads them.
import { randomBytes, randomUUID } from 'node:crypto';
import type { MikroORM } from '@mikro-orm/postgresql';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  BOUNCED,
  CLICKED,
  ENGAGEMENT_QUEUE,
  OPENED,
  OUTREACH_EVENTS_SUBSCRIPTION,
  REPLIED,
  SENT,
  STATS_CHANGED,
  UNSUBSCRIBED,
} from '../lib/bus/catalog.ts';
import { type Bus, createBus, type DomainEvent } from '../lib/bus/index.ts';
import { loadConfig } from '../lib/config.ts';
import { createLogger } from '../lib/telemetry/logger.ts';
import type { TrackingHit } from '../lib/tracking/hits.ts';
import { experimentLeader } from '../subgraphs/tracking/services/experiment.ts';
import { startEngagement } from '../workers/engagement/consumer.ts';
import { createWorkerOrm, type RunningWorker } from '../workers/runtime.ts';
import { deleteBrokerQueues } from './helpers/broker.ts';
import { errorCode, gql, newOrganisation, ok } from './helpers/client.ts';
import { type CampaignSeed, seedDraftCampaign } from './helpers/drafts.ts';
import { addVariantA } from './helpers/sending.ts';
import { eventually } from './helpers/wait.ts';

const AMQP_URL = 'amqp://guest:guest@127.0.0.1:5672';
const BROKER_PREFIX = `test-figures-${randomBytes(4).toString('hex')}.`;
const T0 = new Date('2026-11-02T14:00:00Z'); // 09:00 in New York (EST, UTC-5)

const STATS = 'sent opened humanOpened clicked replied bounced unsubscribed openRate replyRate';
const CAMPAIGN_FIGURES = `query ($id: ID!) {
  campaign(id: $id) { stats { ${STATS} } steps { id stats { ${STATS} } } }
}`;

let owner: pg.Pool;
let bus: Bus;
let workerOrm: MikroORM;
let worker: RunningWorker;
const live: Array<{ key: string; event: DomainEvent }> = [];

interface Org {
  token: string;
  organisationId: string;
}

beforeAll(async () => {
  owner = new pg.Pool({ connectionString: inject('databaseUrl'), max: 4 });
  const silent = createLogger('test', 'silent');
  // a broker namespace of our own: the platform's workers run on their in-process bus and never see these
  bus = await createBus({
    amqpUrl: AMQP_URL,
    prefix: BROKER_PREFIX,
    logger: silent,
  });
  const config = loadConfig({ NODE_ENV: 'test', DATABASE_URL: inject('databaseUrl'), LOG_LEVEL: 'silent' });
  workerOrm = await createWorkerOrm(config, 2);
  worker = await startEngagement({ config, orm: workerOrm, bus, log: silent, clock: () => new Date() });
  await bus.subscribeEvents([OPENED.pattern, CLICKED.pattern, STATS_CHANGED.pattern], (event, key) => {
    live.push({ key, event });
  });
});

afterAll(async () => {
  await worker?.stop();
  await bus?.close();
  await deleteBrokerQueues(AMQP_URL, BROKER_PREFIX, [
    ENGAGEMENT_QUEUE.name,
    OUTREACH_EVENTS_SUBSCRIPTION.queue,
  ]);
  await workerOrm?.close();
  await owner?.end();
});

async function organisation(): Promise<Org> {
  const session = await newOrganisation();
  return { token: session.accessToken, organisationId: session.organisation.id };
}

/** Outbound emails of the campaign's enrolments, SENT at the given times, on step 0 (and the given variants). */
async function seedMessages(
  seed: CampaignSeed,
  sends: Array<{ enrollment: number; sentAt: Date; variantId?: string | null; step?: number }>,
): Promise<string[]> {
  const ids = sends.map(() => randomUUID());
  await owner.query(
    `INSERT INTO outreach.messages (organisation_id, id, enrollment_id, step_id, variant_id, mailbox_id, position_id,
       direction, status, subject, body_text, sent_at, step_index)
     SELECT $1, m.id, e.id, m.step_id, m.variant_id, $2, e.position_id, 'OUTBOUND', 'SENT', 'Vos fournils', 'Bonjour',
       m.sent_at, 0
     FROM unnest($3::uuid[], $4::uuid[], $5::uuid[], $6::uuid[], $7::timestamptz[])
       AS m(id, enrollment_id, step_id, variant_id, sent_at)
     JOIN outreach.campaign_enrollments e ON e.id = m.enrollment_id`,
    [
      seed.organisationId,
      seed.mailboxId,
      ids,
      sends.map((s) => seed.enrollments[s.enrollment]!.id),
      sends.map((s) => seed.steps[s.step ?? 0]!.id),
      sends.map((s) => s.variantId ?? null),
      sends.map((s) => s.sentAt),
    ],
  );
  return ids;
}

/** Publishes an outreach event exactly as the outbox relay does (envelope + payload, message id = event id). */
async function relay(
  seed: CampaignSeed,
  event: typeof SENT | typeof REPLIED | typeof BOUNCED | typeof UNSUBSCRIBED,
  payload: Record<string, string>,
  at: Date,
  eventId: string = randomUUID(),
): Promise<string> {
  await bus.publishEvent(
    event.routingKey(seed.campaignId),
    {
      ...payload,
      type: event.name,
      organisationId: seed.organisationId,
      campaignId: seed.campaignId,
      eventId,
      sequence: 1,
      at: at.toISOString(),
    },
    { messageId: eventId },
  );
  return eventId;
}

function sentEvent(
  seed: CampaignSeed,
  messageId: string,
  enrollment: number,
  sentAt: Date,
  variantId?: string | null,
) {
  return relay(
    seed,
    SENT,
    {
      enrollmentId: seed.enrollments[enrollment]!.id,
      messageId,
      sentAt: sentAt.toISOString(),
      stepId: seed.steps[0]!.id,
      ...(variantId ? { variantId } : {}),
    },
    sentAt,
  );
}

function hit(
  seed: CampaignSeed,
  messageId: string,
  kind: 'OPEN' | 'CLICK',
  at: Date,
  extra: Partial<TrackingHit> = {},
): TrackingHit {
  return {
    id: randomUUID(),
    kind,
    organisationId: seed.organisationId,
    messageId,
    url: kind === 'CLICK' ? 'https://www.boulangeries-martin.fr/tarifs' : null,
    at: at.toISOString(),
    machine: null,
    userAgent: 'Mozilla/5.0',
    ipHash: 'ab12',
    ...extra,
  };
}

const sinceSent = (ms: number, from = T0) => new Date(from.getTime() + ms);

async function campaignStats(org: Org, campaignId: string) {
  const data = await ok<any, any>(CAMPAIGN_FIGURES, { id: campaignId }, { token: org.token });
  return data.campaign;
}

async function waitForSent(org: Org, campaignId: string, sent: number) {
  await eventually(async () => (await campaignStats(org, campaignId))?.stats.sent === sent, 20_000);
}

describe('campaign figures', () => {
  let org: Org;
  let seed: CampaignSeed;
  let messages: string[];
  let firstSentEventId: string;

  beforeAll(async () => {
    org = await organisation();
    seed = await seedDraftCampaign(owner, {
      organisationId: org.organisationId,
      steps: [{ subject: 'Vos fournils', body: 'Bonjour' }, { subject: 'Relance' }],
      people: Array.from({ length: 6 }, () => ({ firstName: 'Léa' })),
    });
    await owner.query(`UPDATE outreach.campaigns SET timezone = 'America/New_York' WHERE id = $1`, [
      seed.campaignId,
    ]);
    messages = await seedMessages(
      seed,
      [0, 1, 2, 3, 4, 5].map((enrollment) => ({ enrollment, sentAt: T0 })),
    );
  });

  it('counts sends, opens, human opens, clicks, replies, bounces and unsubscribes by the machine rules', async () => {
    const [m1, m2, m3, m4] = messages;
    firstSentEventId = await sentEvent(seed, m1!, 0, T0);
    for (const [i, m] of [m2, m3, m4].entries()) await sentEvent(seed, m!, i + 1, T0);
    await bus.send(ENGAGEMENT_QUEUE.name, {
      hits: [
        // a person: a minute after sending, opens, then clicks
        hit(seed, m1!, 'OPEN', sinceSent(60_000)),
        hit(seed, m1!, 'CLICK', sinceSent(120_000)),
        // within 10 s of sending: a machine
        hit(seed, m2!, 'OPEN', sinceSent(3_000)),
        // the endpoint knew: Apple's privacy proxy
        hit(seed, m3!, 'OPEN', sinceSent(600_000), { machine: 'apple-privacy-proxy' }),
        // every link within a second: a scanner
        hit(seed, m4!, 'CLICK', sinceSent(300_000)),
        hit(seed, m4!, 'CLICK', sinceSent(300_400), { url: 'https://www.boulangeries-martin.fr/contact' }),
      ],
    });
    await relay(
      seed,
      REPLIED,
      { enrollmentId: seed.enrollments[0]!.id, messageId: randomUUID(), sentMessageId: m1! },
      sinceSent(3_600_000),
    );
    await relay(seed, BOUNCED, { enrollmentId: seed.enrollments[2]!.id, messageId: m3! }, sinceSent(60_000));
    await relay(
      seed,
      UNSUBSCRIBED,
      { enrollmentId: seed.enrollments[3]!.id, messageId: m4! },
      sinceSent(400_000),
    );

    const expected = {
      sent: 4,
      opened: 3,
      humanOpened: 1,
      clicked: 1,
      replied: 1,
      bounced: 1,
      unsubscribed: 1,
      openRate: 0.25,
      replyRate: 0.25,
    };
    await eventually(async () => {
      const stats = (await campaignStats(org, seed.campaignId)).stats;
      return JSON.stringify(stats) === JSON.stringify(expected);
    }, 20_000);
    const campaign = await campaignStats(org, seed.campaignId);
    expect(campaign.stats).toEqual(expected);
    // all on the first step; the second has sent nothing
    const [first, second] = campaign.steps;
    expect(first.stats).toEqual(expected);
    expect(second.stats).toMatchObject({ sent: 0, opened: 0, openRate: 0, replyRate: 0 });

    const perMessage = await ok<any, any>(
      `query ($id: ID!) { campaign(id: $id) { enrollments(first: 10) { messages { id opens clicks firstOpenedAt } } } }`,
      { id: seed.campaignId },
      { token: org.token },
    );
    const byId = new Map<string, unknown>(
      perMessage.campaign.enrollments.flatMap((e: any) => e.messages).map((m: any) => [m.id, m]),
    );
    expect(byId.get(m1!)).toEqual({
      id: m1,
      opens: 1,
      clicks: 1,
      firstOpenedAt: sinceSent(60_000).toISOString(),
    });
    // the scanner's clicks are counted as clicks of the message, not as a person's
    expect(byId.get(m4!)).toEqual({ id: m4, opens: 0, clicks: 2, firstOpenedAt: null });

    // live events for the dashboards, machine hits saying why
    await eventually(
      async () => live.some((l) => l.event.messageId === m4 && l.event.type === 'CLICKED'),
      5_000,
    );
    const mine = live.filter((l) => l.event.organisationId === org.organisationId);
    expect(mine).toContainEqual({
      key: `campaign.${seed.campaignId}.OPENED`,
      event: expect.objectContaining({
        messageId: m2,
        enrollmentId: seed.enrollments[1]!.id,
        machine: 'too-soon',
      }),
    });
    expect(mine).toContainEqual({
      key: `campaign.${seed.campaignId}.OPENED`,
      event: expect.objectContaining({ messageId: m1, enrollmentId: seed.enrollments[0]!.id }),
    });
    expect(
      mine.find((l) => l.event.messageId === m1 && l.event.type === 'OPENED')!.event.machine,
    ).toBeUndefined();
    expect(mine).toContainEqual({
      key: `campaign.${seed.campaignId}.CLICKED`,
      event: expect.objectContaining({ messageId: m4, machine: 'link-scan' }),
    });
    expect(mine).toContainEqual({
      key: `campaign.${seed.campaignId}.STATS_CHANGED`,
      event: expect.objectContaining({ campaignId: seed.campaignId }),
    });
  });

  it('counts a redelivered event or hit once, and a hit that came before its SENT by the send time', async () => {
    const [m1, , , , m5] = messages;
    const before = (await campaignStats(org, seed.campaignId)).stats;
    expect(before.sent).toBe(4);
    // the same SENT again (the relay republishes after a crash), and the same hits again
    await relay(
      seed,
      SENT,
      { enrollmentId: seed.enrollments[0]!.id, messageId: m1!, sentAt: T0.toISOString() },
      T0,
      firstSentEventId,
    );
    const { rows: hits } = await owner.query<{
      id: string;
      message_id: string;
      kind: 'OPEN' | 'CLICK';
      at: Date;
    }>(
      `SELECT id, message_id, kind, at FROM tracking.message_hits WHERE organisation_id = $1 AND message_id = $2`,
      [org.organisationId, m1],
    );
    await bus.send(ENGAGEMENT_QUEUE.name, {
      hits: hits.map((h) => hit(seed, h.message_id, h.kind, h.at, { id: h.id })),
    });
    // an open 5 s after sending arrives before its message's SENT: a machine's once the send time is known
    await bus.send(ENGAGEMENT_QUEUE.name, { hits: [hit(seed, m5!, 'OPEN', sinceSent(5_000))] });
    await sentEvent(seed, m5!, 4, T0);
    await waitForSent(org, seed.campaignId, 5);
    await eventually(async () => (await campaignStats(org, seed.campaignId)).stats.opened === 4, 10_000);

    const now = (await campaignStats(org, seed.campaignId)).stats;
    expect(now).toEqual({
      ...before,
      sent: 5,
      opened: 4,
      openRate: before.humanOpened / 5,
      replyRate: before.replied / 5,
    });
  });

  it('gives a timeline per local day and per hour in the campaign timezone, empty buckets included', async () => {
    const TIMELINE = `query ($id: ID!, $from: DateTime!, $to: DateTime!, $bucket: String!) {
      campaign(id: $id) { timeline(from: $from, to: $to, bucket: $bucket) { start sent opened clicked replied } }
    }`;
    // 1 to 3 November in New York: midnights at 04:00Z (EDT) on the 1st, 05:00Z (EST) after the change on the 2nd
    const days = await ok<any, any>(
      TIMELINE,
      { id: seed.campaignId, from: '2026-11-01T12:00:00Z', to: '2026-11-04T02:00:00Z', bucket: 'day' },
      { token: org.token },
    );
    expect(days.campaign.timeline).toEqual([
      { start: '2026-11-01T04:00:00.000Z', sent: 0, opened: 0, clicked: 0, replied: 0 },
      { start: '2026-11-02T05:00:00.000Z', sent: 5, opened: 4, clicked: 1, replied: 1 },
      { start: '2026-11-03T05:00:00.000Z', sent: 0, opened: 0, clicked: 0, replied: 0 },
    ]);

    const hours = await ok<any, any>(
      TIMELINE,
      { id: seed.campaignId, from: '2026-11-02T13:30:00Z', to: '2026-11-02T16:00:00Z', bucket: 'hour' },
      { token: org.token },
    );
    expect(hours.campaign.timeline).toEqual([
      { start: '2026-11-02T13:00:00.000Z', sent: 0, opened: 0, clicked: 0, replied: 0 },
      // sent at 14:00Z; opened at +3 s, +5 s, +60 s and +10 min; clicked by a person at +2 min
      { start: '2026-11-02T14:00:00.000Z', sent: 5, opened: 4, clicked: 1, replied: 0 },
      // the reply an hour later
      { start: '2026-11-02T15:00:00.000Z', sent: 0, opened: 0, clicked: 0, replied: 1 },
    ]);

    const badBucket = await gql<any, any>(
      TIMELINE,
      { id: seed.campaignId, from: '2026-11-01T00:00:00Z', to: '2026-11-02T00:00:00Z', bucket: 'week' },
      { token: org.token },
    );
    expect(errorCode(badBucket)).toBe('BAD_USER_INPUT');
    const tooMany = await gql<any, any>(
      TIMELINE,
      { id: seed.campaignId, from: '2026-01-01T00:00:00Z', to: '2026-12-01T00:00:00Z', bucket: 'hour' },
      { token: org.token },
    );
    expect(errorCode(tooMany)).toBe('BAD_USER_INPUT');
    expect(tooMany.errors![0]!.message).toMatch(/at most 2000 buckets/);
    const backwards = await gql<any, any>(
      TIMELINE,
      { id: seed.campaignId, from: '2026-11-02T00:00:00Z', to: '2026-11-01T00:00:00Z', bucket: 'day' },
      { token: org.token },
    );
    expect(errorCode(backwards)).toBe('BAD_USER_INPUT');
  });

  it('misses no event published while the worker is down', async () => {
    const m6 = messages[5]!;
    await worker.stop();
    await sentEvent(seed, m6, 5, T0);
    await relay(
      seed,
      REPLIED,
      { enrollmentId: seed.enrollments[5]!.id, messageId: randomUUID(), sentMessageId: m6 },
      sinceSent(7_200_000),
    );
    const silent = createLogger('test', 'silent');
    const config = loadConfig({ NODE_ENV: 'test', DATABASE_URL: inject('databaseUrl'), LOG_LEVEL: 'silent' });
    worker = await startEngagement({ config, orm: workerOrm, bus, log: silent, clock: () => new Date() });

    await waitForSent(org, seed.campaignId, 6);
    await eventually(async () => (await campaignStats(org, seed.campaignId)).stats.replied === 2, 10_000);
  });

  it("shows another organisation nothing of this campaign's figures", async () => {
    const other = await organisation();
    const viaGateway = await gql<any, any>(CAMPAIGN_FIGURES, { id: seed.campaignId }, { token: other.token });
    expect(viaGateway.data?.campaign ?? null).toBeNull();
    // straight to the tracking subgraph, as a forged representation would: the figures read in the caller's
    // organisation, so there are none
    const direct = await ok<any, any>(
      `query ($reps: [_Any!]!) { _entities(representations: $reps) { ... on Campaign { stats { sent opened replied } } } }`,
      { reps: [{ __typename: 'Campaign', id: seed.campaignId }] },
      { token: other.token, url: inject('subgraphUrls').tracking },
    );
    expect(direct._entities).toEqual([{ stats: { sent: 0, opened: 0, replied: 0 } }]);
  });
});

describe('A/B test result', () => {
  it('names the leader on reply rate with its posterior confidence once every variant has 20 sends', async () => {
    const org = await organisation();
    const seed = await seedDraftCampaign(owner, {
      organisationId: org.organisationId,
      steps: [{ subject: 'Vos fournils', body: 'Bonjour', variant: { subject: 'Vos fours' } }],
      people: Array.from({ length: 60 }, () => ({ firstName: 'Léa' })),
    });
    await addVariantA(owner, seed, 0, { subject: 'Vos fournils ?', body: 'Bonjour' });
    const { rows: variants } = await owner.query<{ id: string; key: string }>(
      `SELECT v.id, v.key FROM outreach.step_experiment_variants v WHERE v.organisation_id = $1 ORDER BY v.key`,
      [org.organisationId],
    );
    const [a, b] = variants;
    const RESULT = `query ($id: ID!) { campaign(id: $id) { steps { experiment { result {
      variants { variant { id key } stats { sent replied replyRate } } leader { id key } confidence } } } } }`;
    const resultOf = async () =>
      (await ok<any, any>(RESULT, { id: seed.campaignId }, { token: org.token })).campaign.steps[0].experiment
        .result;

    // 19 sends each: no leader yet
    const sends = Array.from({ length: 60 }, (_, i) => ({
      enrollment: i,
      sentAt: T0,
      variantId: i % 2 === 0 ? a!.id : b!.id,
    }));
    const ids = await seedMessages(seed, sends);
    for (let i = 0; i < 38; i++) await sentEvent(seed, ids[i]!, i, T0, sends[i]!.variantId);
    await waitForSent(org, seed.campaignId, 38);
    const early = await resultOf();
    expect(early.leader).toBeNull();
    expect(early.confidence).toBeNull();
    expect(early.variants.map((v: any) => [v.variant.key, v.stats.sent])).toEqual(
      expect.arrayContaining([
        ['A', 19],
        ['B', 19],
      ]),
    );

    // 30 each; A answered 12 times, B 3 times
    for (let i = 38; i < 60; i++) await sentEvent(seed, ids[i]!, i, T0, sends[i]!.variantId);
    const replies = [
      ...ids.filter((_, i) => i % 2 === 0).slice(0, 12),
      ...ids.filter((_, i) => i % 2 === 1).slice(0, 3),
    ];
    for (const m of replies) {
      const enrollment = ids.indexOf(m);
      await relay(
        seed,
        REPLIED,
        { enrollmentId: seed.enrollments[enrollment]!.id, messageId: randomUUID(), sentMessageId: m },
        sinceSent(86_400_000),
      );
    }
    await eventually(async () => {
      const stats = (await campaignStats(org, seed.campaignId)).stats;
      return stats.sent === 60 && stats.replied === 15;
    }, 20_000);
    const result = await resultOf();
    const byKey = Object.fromEntries(result.variants.map((v: any) => [v.variant.key, v.stats]));
    expect(byKey).toEqual({
      A: { sent: 30, replied: 12, replyRate: 0.4 },
      B: { sent: 30, replied: 3, replyRate: 0.1 },
    });
    expect(result.leader).toEqual({ id: a!.id, key: 'A' });
    const expected = experimentLeader([
      { id: a!.id, sent: 30, replied: 12 },
      { id: b!.id, sent: 30, replied: 3 },
    ]).confidence!;
    expect(result.confidence).toBeCloseTo(expected, 6);
    expect(result.confidence).toBeGreaterThan(0.99);
  });
});
