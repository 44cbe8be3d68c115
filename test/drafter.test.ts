// The drafter end to end: DRAFT_QUEUE messages in, messages, task states and outbox events out, on a database of
// its own, as the worker role, with OpenAI replaced by a local fake the real client talks to.
import { randomUUID } from 'node:crypto';
import type { MikroORM } from '@mikro-orm/postgresql';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DRAFT_QUEUE } from '../lib/bus/catalog.ts';
import { type Bus, createBus, sendWork } from '../lib/bus/index.ts';
import { loadConfig } from '../lib/config.ts';
import { createLogger } from '../lib/telemetry/logger.ts';
import { createAiWriter, ModelUnavailableError } from '../workers/drafter/ai-writer.ts';
import { startDrafter } from '../workers/drafter/consumer.ts';
import { type DrafterDeps, draftTask, writeDrafts } from '../workers/drafter/handler.ts';
import { createFairLimiter } from '../workers/drafter/limiter.ts';
import { createWorkerOrm, type RunningWorker } from '../workers/runtime.ts';
import { type FakeOpenAI, startFakeOpenAI } from './fakes/openai.ts';
import {
  type CampaignSeed,
  type PersonSeed,
  type StepSeed,
  seedDraftCampaign,
  seedQueuedTasks,
} from './helpers/drafts.ts';
import { eventually } from './helpers/wait.ts';
import { type WorkerDatabase, workerDatabase } from './helpers/worker-db.ts';

const API_KEY = `sk-test-${randomUUID()}`;
const silent = createLogger('test', 'silent');

let db: WorkerDatabase;
let fake: FakeOpenAI;
let orm: MikroORM;
let bus: Bus;
let drafter: RunningWorker;

function config(extra: Record<string, string> = {}) {
  return loadConfig({
    NODE_ENV: 'test',
    DATABASE_URL: db.ownerUrl,
    OPENAI_API_KEY: API_KEY,
    OPENAI_BASE_URL: fake.baseUrl,
    OPENAI_MODEL: 'gpt-4o-mini',
    OPENAI_MAX_RETRIES: '2',
    OPENAI_CONCURRENCY: '3',
    OPENAI_TOTAL_CONCURRENCY: '4',
    ...extra,
  });
}

beforeAll(async () => {
  db = await workerDatabase('drafter');
  fake = await startFakeOpenAI();
  orm = await createWorkerOrm(config());
  bus = await createBus({ logger: silent });
  drafter = await startDrafter({ config: config(), orm, bus, log: silent, clock: () => new Date() });
});
afterAll(async () => {
  await drafter?.stop();
  await bus?.close();
  await orm?.close();
  await fake?.close();
  await db?.drop();
});
afterEach(() => {
  fake.latencyMs = 0;
});

interface MessageRow {
  id: string;
  status: string;
  subject: string | null;
  body_text: string | null;
  body_html: string | null;
  error: string | null;
  task_id: string;
  step_id: string;
  step_index: number;
  variant_id: string | null;
  mailbox_id: string;
  position_id: string;
  enrollment_id: string;
  send_at: Date;
  model: string | null;
  prompt_tokens: number | null;
  completion_tokens: number | null;
}

async function messagesOf(taskIds: string[]): Promise<MessageRow[]> {
  const { rows } = await db.owner.query<MessageRow>(
    'SELECT * FROM outreach.messages WHERE task_id = ANY($1::uuid[]) ORDER BY array_position($1::uuid[], task_id)',
    [taskIds],
  );
  return rows;
}

async function tasksOf(taskIds: string[]) {
  const { rows } = await db.owner.query<{
    id: string;
    status: string;
    message_id: string | null;
    last_error: string | null;
  }>(
    'SELECT id, status, message_id, last_error FROM outreach.tasks WHERE id = ANY($1::uuid[]) ORDER BY array_position($1::uuid[], id)',
    [taskIds],
  );
  return rows;
}

async function eventsOf(campaignId: string) {
  const { rows } = await db.owner.query<{ topic: string; payload: Record<string, string> }>(
    'SELECT topic, payload FROM outreach.outbox WHERE campaign_id = $1 ORDER BY sequence',
    [campaignId],
  );
  return rows;
}

async function enrollment(id: string) {
  const { rows } = await db.owner.query<{ status: string; stopped_reason: string | null }>(
    'SELECT status, stopped_reason FROM outreach.campaign_enrollments WHERE id = $1',
    [id],
  );
  return rows[0];
}

/** Seeds a campaign and its step-0 tasks, publishes them, and waits until none is QUEUED any more. */
async function draft(
  steps: StepSeed[],
  people: PersonSeed[],
  options: { requireApproval?: boolean; status?: 'RUNNING' | 'PAUSED'; organisationId?: string } = {},
): Promise<{ seed: CampaignSeed; taskIds: string[] }> {
  const seed = await seedDraftCampaign(db.owner, { steps, people, ...options });
  const taskIds = await seedQueuedTasks(db.owner, seed, 0, new Date('2030-03-04T09:30:00Z'));
  await publish(seed.organisationId, taskIds);
  await settled(taskIds);
  return { seed, taskIds };
}

async function publish(organisationId: string, taskIds: string[]) {
  for (const taskId of taskIds) {
    await sendWork(bus, DRAFT_QUEUE, { organisationId, taskId }, { messageId: `draft:${taskId}` });
  }
}

async function settled(taskIds: string[], withinMs = 15_000) {
  await eventually(async () => (await tasksOf(taskIds)).every((t) => t.status !== 'QUEUED'), withinMs);
}

describe('template steps', () => {
  it('renders the step for each prospect and queues the message with what the scheduler decided', async () => {
    const { seed, taskIds } = await draft(
      [
        {
          subject: 'Une idée pour {{company.name}}',
          body: 'Bonjour {{firstName}},\n\nVotre équipe de {{jobTitle|direction}} : https://acme.fr/demo.\n\n{{sender.firstName}}',
        },
      ],
      [
        { firstName: 'Léa', jobTitle: 'DAF', companyName: 'Boulangeries Martin' },
        { firstName: 'Hugo', companyName: 'Fromagerie <Dupont>' },
      ],
    );
    const messages = await messagesOf(taskIds);
    expect(messages.map((m) => [m.status, m.subject, m.body_text])).toEqual([
      [
        'QUEUED',
        'Une idée pour Boulangeries Martin',
        'Bonjour Léa,\n\nVotre équipe de DAF : https://acme.fr/demo.\n\nClaire',
      ],
      [
        'QUEUED',
        'Une idée pour Fromagerie <Dupont>',
        'Bonjour Hugo,\n\nVotre équipe de direction : https://acme.fr/demo.\n\nClaire',
      ],
    ]);
    expect(messages[0].body_html).toBe(
      '<p>Bonjour Léa,</p>\n<p>Votre équipe de DAF : <a href="https://acme.fr/demo">https://acme.fr/demo</a>.</p>\n<p>Claire</p>',
    );
    expect(messages[0]).toMatchObject({
      step_id: seed.steps[0].id,
      step_index: 0,
      variant_id: null,
      mailbox_id: seed.mailboxId,
      position_id: seed.enrollments[0].positionId,
      enrollment_id: seed.enrollments[0].id,
      send_at: new Date('2030-03-04T09:30:00Z'),
      model: null,
      error: null,
    });
    expect(await tasksOf(taskIds)).toEqual(
      messages.map((m, i) => ({ id: taskIds[i], status: 'DONE', message_id: m.id, last_error: null })),
    );
    // one event per draft; the two drafts ran side by side, so in either order
    expect(await eventsOf(seed.campaignId)).toEqual(
      expect.arrayContaining(
        messages.map((m) => ({
          topic: 'DRAFTED',
          payload: { enrollmentId: m.enrollment_id, messageId: m.id },
        })),
      ),
    );
    expect(await eventsOf(seed.campaignId)).toHaveLength(2);
  });

  it('fails a draft whose template needs a value the prospect lacks, naming it, and stops that enrolment', async () => {
    const { seed, taskIds } = await draft(
      [{ subject: 'Pour {{company.name}}', body: 'Bonjour {{firstName}},\n\nÀ bientôt' }],
      [{ firstName: null }, { firstName: 'Inès' }],
    );
    const [failed, drafted] = await messagesOf(taskIds);
    expect(failed).toMatchObject({ status: 'FAILED', subject: null, body_text: null });
    expect(failed.error).toMatch(/\{\{firstName\}\}/);
    expect(drafted).toMatchObject({ status: 'QUEUED', body_text: 'Bonjour Inès,\n\nÀ bientôt' });
    expect((await tasksOf(taskIds)).map((t) => [t.status, t.last_error])).toEqual([
      ['FAILED', failed.error],
      ['DONE', null],
    ]);
    expect(await enrollment(seed.enrollments[0].id)).toEqual({
      status: 'FAILED',
      stopped_reason: 'DRAFT_FAILED',
    });
    expect(await enrollment(seed.enrollments[1].id)).toEqual({ status: 'ACTIVE', stopped_reason: null });
    const events = await eventsOf(seed.campaignId);
    expect(events.map((e) => e.topic).sort()).toEqual(['DRAFTED', 'ENROLLMENT_CHANGED', 'FAILED']);
    expect(events.find((e) => e.topic === 'FAILED')?.payload).toEqual({
      enrollmentId: seed.enrollments[0].id,
      messageId: failed.id,
    });
  });

  it("uses the variant's own content, and waits for approval when the campaign asks for it", async () => {
    const { seed, taskIds } = await draft(
      [
        {
          subject: 'A: {{firstName}}',
          body: 'Corps A',
          variant: { subject: 'B: {{firstName}}', body: 'Corps B' },
        },
      ],
      [{ firstName: 'Zoé' }],
      { requireApproval: true },
    );
    const [message] = await messagesOf(taskIds);
    expect(message).toMatchObject({
      status: 'AWAITING_APPROVAL',
      subject: 'B: Zoé',
      body_text: 'Corps B',
      variant_id: seed.steps[0].variantId,
    });
    expect(await eventsOf(seed.campaignId)).toEqual([
      { topic: 'APPROVAL_NEEDED', payload: { enrollmentId: seed.enrollments[0].id, messageId: message.id } },
    ]);
  });

  it('keeps the thread\'s subject for a follow-up that has none: "Re: <first subject>"', async () => {
    const seed = await seedDraftCampaign(db.owner, {
      steps: [
        { subject: 'Votre logistique, {{firstName}}', body: 'Premier' },
        { subject: null, body: 'Je me permets de relancer, {{firstName}}.', threadWithPrevious: true },
      ],
      people: [{ firstName: 'Nora' }],
    });
    const first = await seedQueuedTasks(db.owner, seed, 0, new Date());
    await publish(seed.organisationId, first);
    await settled(first);
    await db.owner.query(`UPDATE outreach.messages SET status = 'SENT', sent_at = now() WHERE task_id = $1`, [
      first[0],
    ]);
    const second = await seedQueuedTasks(db.owner, seed, 1, new Date());
    await publish(seed.organisationId, second);
    await settled(second);
    const [followUp] = await messagesOf(second);
    expect(followUp).toMatchObject({
      status: 'QUEUED',
      subject: 'Re: Votre logistique, Nora',
      body_text: 'Je me permets de relancer, Nora.',
      step_index: 1,
    });
  });

  it('drafts nothing for a campaign no longer running: the task is cancelled for a relaunch to restore', async () => {
    const { seed, taskIds } = await draft([{ subject: 'S', body: 'B' }], [{ firstName: 'Paul' }], {
      status: 'PAUSED',
    });
    expect(await messagesOf(taskIds)).toEqual([]);
    expect((await tasksOf(taskIds)).map((t) => t.status)).toEqual(['CANCELLED']);
    expect(await eventsOf(seed.campaignId)).toEqual([]);
  });

  it('writes one message per task however often and however concurrently the task is delivered', async () => {
    const seed = await seedDraftCampaign(db.owner, {
      steps: [{ subject: 'S {{firstName}}', body: 'B' }],
      people: [{ firstName: 'Anna' }, { firstName: 'Jules' }],
    });
    const taskIds = await seedQueuedTasks(db.owner, seed, 0, new Date());
    // the same tasks delivered five times, at once, then once more after they were drafted
    await Promise.all(Array.from({ length: 5 }, () => publish(seed.organisationId, taskIds)));
    await settled(taskIds);
    await publish(seed.organisationId, taskIds);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const { rows } = await db.owner.query(
      'SELECT count(*)::int AS n FROM outreach.messages WHERE enrollment_id = ANY($1::uuid[])',
      [seed.enrollments.map((e) => e.id)],
    );
    expect(rows[0].n).toBe(2);
    expect((await eventsOf(seed.campaignId)).map((e) => e.topic)).toEqual(['DRAFTED', 'DRAFTED']);
    expect(await bus.deadLetters(DRAFT_QUEUE.name)).toEqual([]);
  });
});

describe('prompt steps (OpenAI)', () => {
  it('asks the model with a strict schema and what helps to write, and stores the draft, model and tokens', async () => {
    const { seed, taskIds } = await draft(
      [{ prompt: 'Write a short intro email about our delivery software.', promptModel: 'gpt-4o' }],
      [
        {
          firstName: 'Camille',
          lastName: 'Roux',
          jobTitle: 'Directrice des opérations',
          companyName: 'Transports Roux',
        },
      ],
    );
    const [message] = await messagesOf(taskIds);
    expect(message).toMatchObject({
      status: 'QUEUED',
      subject: 'An idea for you, Camille',
      body_text: 'Hello Camille,\n\nA short note.\n\nBest',
      body_html: '<p>Hello Camille,</p>\n<p>A short note.</p>\n<p>Best</p>',
      model: 'gpt-4o-2024-07-18',
      step_index: 0,
    });
    expect(message.prompt_tokens).toBeGreaterThan(20);
    expect(message.completion_tokens).toBeGreaterThan(3);

    const request = fake.requests.find((r) => JSON.stringify(r.body).includes('Transports Roux'))!;
    expect(request.authorization).toBe(`Bearer ${API_KEY}`);
    expect(request.body.model).toBe('gpt-4o');
    expect(request.body.response_format).toMatchObject({
      type: 'json_schema',
      json_schema: { name: 'email_draft', strict: true },
    });
    expect(request.body.messages[0].content).toContain(
      'Write a short intro email about our delivery software.',
    );
    const sent = request.body.messages.map((m) => m.content).join('\n');
    for (const helpful of [
      'Camille',
      'Roux',
      'Directrice des opérations',
      'Transports Roux',
      'Industrial bakeries',
      'Claire',
    ]) {
      expect(sent).toContain(helpful);
    }
    // no ids, no addresses, no phone numbers
    for (const internal of [
      seed.enrollments[0].positionId,
      seed.organisationId,
      '@client.fr',
      '+33612345678',
      '@sender.fr',
    ]) {
      expect(sent).not.toContain(internal);
    }
  });

  it('waits out a 429 as its retry-after says, then drafts', async () => {
    const marker = `rate-limited ${randomUUID()}`;
    fake.script([{ kind: 'status', status: 429, retryAfterSeconds: 1 }], (body) =>
      JSON.stringify(body).includes(marker),
    );
    const { taskIds } = await draft([{ prompt: marker }], [{ firstName: 'Eva' }]);
    const [message] = await messagesOf(taskIds);
    expect(message).toMatchObject({ status: 'QUEUED', subject: 'An idea for you, Eva' });
    const calls = fake.requests.filter((r) => JSON.stringify(r.body).includes(marker));
    expect(calls.map((c) => c.answer)).toEqual(['429', 'draft']);
    expect(calls[1].startedAt - calls[0].endedAt).toBeGreaterThanOrEqual(950);
  });

  it.each([
    { kind: 'refusal' as const, text: "I can't help with that.", reason: /refused: I can't help with that/ },
    { kind: 'empty' as const, reason: /empty answer/ },
    { kind: 'unparsable' as const, reason: /not \{subject, body\}/ },
  ])(
    'fails the draft with the reason when the model answers with $kind',
    async ({ kind, reason, ...rest }) => {
      const marker = `${kind} ${randomUUID()}`;
      fake.script([{ kind, ...rest } as never], (body) => JSON.stringify(body).includes(marker));
      const { seed, taskIds } = await draft([{ prompt: marker }], [{ firstName: 'Rémi' }]);
      const [message] = await messagesOf(taskIds);
      expect(message.status).toBe('FAILED');
      expect(message.error).toMatch(reason);
      expect(message.model).toBe('gpt-4o-mini-2024-07-18');
      expect(await enrollment(seed.enrollments[0].id)).toMatchObject({ status: 'FAILED' });
    },
  );

  it('leaves the task for a later retry while the model is down, and fails it with the reason after the last', async () => {
    const marker = `down ${randomUUID()}`;
    const seed = await seedDraftCampaign(db.owner, {
      steps: [{ prompt: marker }],
      people: [{ firstName: 'Yann' }],
    });
    const [taskId] = await seedQueuedTasks(db.owner, seed, 0, new Date());
    // every answer a 500: the client's own retries (2) then the queue's
    fake.script(
      Array.from({ length: 6 }, () => ({ kind: 'status' as const, status: 500 })),
      (body) => JSON.stringify(body).includes(marker),
    );
    const deps: DrafterDeps = {
      orm,
      bus,
      ai: createAiWriter(config().openai),
      limiter: createFairLimiter({ perOrganisation: 2, total: 2 }),
      defaultModel: 'gpt-4o-mini',
      maxWaitingPerOrganisation: 10,
      write: async (organisationId, draft) => (await writeDrafts(orm, organisationId, [draft]))[0]!,
    };
    const message = { organisationId: seed.organisationId, taskId };
    await expect(draftTask(deps, message, { attempt: 1, messageId: 'm' })).rejects.toThrow(
      ModelUnavailableError,
    );
    expect(await messagesOf([taskId])).toEqual([]);
    expect((await tasksOf([taskId]))[0].status).toBe('QUEUED');
    expect(fake.requests.filter((r) => JSON.stringify(r.body).includes(marker))).toHaveLength(3);

    const last = DRAFT_QUEUE.retryDelaysMs.length + 1;
    expect(await draftTask(deps, message, { attempt: last, messageId: 'm' })).toBe('failed');
    const [failed] = await messagesOf([taskId]);
    expect(failed.status).toBe('FAILED');
    expect(failed.error).toMatch(/^The model API failed \(500\); gave up after 5 attempts$/);
  });

  it("holds each organisation to its model slots, and serves a small organisation beside a big one's backlog", async () => {
    fake.latencyMs = 150;
    const bigMarker = `big ${randomUUID()}`;
    const smallMarker = `small ${randomUUID()}`;
    const big = await seedDraftCampaign(db.owner, {
      steps: [{ prompt: bigMarker }],
      people: Array.from({ length: 24 }, (_, i) => ({ firstName: `Big${i}` })),
    });
    const small = await seedDraftCampaign(db.owner, {
      steps: [{ prompt: smallMarker }],
      people: Array.from({ length: 3 }, (_, i) => ({ firstName: `Small${i}` })),
    });
    const bigTasks = await seedQueuedTasks(db.owner, big, 0, new Date());
    const smallTasks = await seedQueuedTasks(db.owner, small, 0, new Date());
    // the big campaign's whole backlog is in the queue first
    await publish(big.organisationId, bigTasks);
    await publish(small.organisationId, smallTasks);
    await settled([...bigTasks, ...smallTasks], 30_000);

    const isBig = (r: { body: unknown }) => JSON.stringify(r.body).includes(bigMarker);
    const isSmall = (r: { body: unknown }) => JSON.stringify(r.body).includes(smallMarker);
    expect(fake.maxConcurrency(isBig)).toBe(3);
    expect(fake.maxConcurrency(isSmall)).toBeLessThanOrEqual(3);
    expect(fake.maxConcurrency((r) => isBig(r) || isSmall(r))).toBeLessThanOrEqual(4);
    // first come first served, the small organisation's first draft would wait until the big one's backlog was
    // delivered (17 of its requests started, with 10 deliveries in hand); it starts well before that
    const bigStarts = fake.requests
      .filter(isBig)
      .map((r) => r.startedAt)
      .sort((a, b) => a - b);
    const smallStarts = fake.requests.filter(isSmall).map((r) => r.startedAt);
    expect(Math.min(...smallStarts)).toBeLessThan(bigStarts[13]!);
    const statuses = (await messagesOf([...bigTasks, ...smallTasks])).map((m) => m.status);
    expect(statuses).toEqual(Array(27).fill('QUEUED'));
  });
});
