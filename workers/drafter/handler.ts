// DRAFT_QUEUE messages of one organisation, drafted together: everything is re-read in the organisation's
// tenant transaction, and each task's message is written once (messages.task_id is unique), so a redelivery
// finds it and stops there. Template steps are rendered and written in the one transaction that read them;
// prompt steps are read there, then each calls the model outside any transaction, and the answers are written
// in batches again (writeDrafts).
import { randomUUID } from 'node:crypto';
import type { MikroORM } from '@mikro-orm/postgresql';
import {
  APPROVAL_NEEDED,
  DRAFT_QUEUE,
  DRAFTED,
  ENROLLMENT_CHANGED,
  FAILED,
  type TaskMessage,
} from '../../lib/bus/catalog.ts';
import { type Bus, PermanentError, sendWork } from '../../lib/bus/index.ts';
import { type EntityManager, isUuid, rawQuery, withTenant } from '../../lib/db/orm.ts';
import { type EventToRecord, recordEvents } from '../../lib/outbox/outbox.ts';
import { loadProspects } from '../../subgraphs/outreach/services/prospects.ts';
import { queueSendTasks } from '../../subgraphs/outreach/services/sending-handoff.ts';
import {
  bodyToHtml,
  type ProspectData,
  renderTemplate,
  type SenderData,
  senderOf,
} from '../../subgraphs/outreach/services/templates.ts';
import { AiRequestRejected, type AiWriter, ModelUnavailableError } from './ai-writer.ts';
import type { FairLimiter } from './limiter.ts';

export interface DrafterDeps {
  orm: MikroORM;
  bus: Bus;
  /** Undefined without OPENAI_API_KEY: prompt steps then fail with that reason. */
  ai: AiWriter | undefined;
  limiter: FairLimiter;
  /** The model of prompts that name none (OPENAI_MODEL). */
  defaultModel: string;
  /** Calls of one organisation waiting for a model slot here beyond which its next ones go back to the queue. */
  maxWaitingPerOrganisation: number;
  /** Writes a prompt step's draft once the model has answered (writeDrafts, batched or not). */
  write: (organisationId: string, draft: MessageToWrite) => Promise<DraftOutcome>;
}

export type DraftOutcome = 'drafted' | 'awaiting-approval' | 'failed' | 'cancelled' | 'deferred' | 'skipped';

/** How long a draft handed back to the queue (its organisation has a backlog here) stays out of it. */
export const DEFER_MS = 500;

interface TaskContext {
  task_id: string;
  task_status: string;
  enrollment_id: string;
  step_id: string;
  variant_id: string | null;
  mailbox_id: string | null;
  send_at: Date | null;
  existing_message_id: string | null;
  enrollment_status: string;
  position_id: string;
  campaign_id: string;
  campaign_status: string;
  require_approval: boolean;
  step_index: number;
  thread_with_previous: boolean;
  subject_template: string | null;
  body_template: string | null;
  prompt_id: string | null;
  mailbox_email: string | null;
  mailbox_display_name: string | null;
}

// The variant's content stands in for the step's when the variant has any of its own.
const CONTEXT_SQL = `
  SELECT t.id AS task_id, t.status AS task_status, t.enrollment_id, t.step_id, t.variant_id, t.send_at,
    coalesce(t.mailbox_id, e.mailbox_id) AS mailbox_id,
    (SELECT m.id FROM outreach.messages m WHERE m.task_id = t.id) AS existing_message_id,
    e.status AS enrollment_status, e.position_id, e.campaign_id,
    c.status AS campaign_status, c.require_approval,
    s.index AS step_index, s.thread_with_previous,
    CASE WHEN v.has_content THEN v.subject_template ELSE s.subject_template END AS subject_template,
    CASE WHEN v.has_content THEN v.body_template ELSE s.body_template END AS body_template,
    CASE WHEN v.has_content THEN v.prompt_id ELSE s.prompt_id END AS prompt_id,
    mb.email::text AS mailbox_email, mb.display_name AS mailbox_display_name
  FROM outreach.tasks t
  JOIN outreach.campaign_enrollments e ON e.organisation_id = t.organisation_id AND e.id = t.enrollment_id
  JOIN outreach.campaigns c ON c.organisation_id = e.organisation_id AND c.id = e.campaign_id
  JOIN outreach.workflow_steps s ON s.organisation_id = t.organisation_id AND s.id = t.step_id
  LEFT JOIN LATERAL (
    SELECT v.subject_template, v.body_template, v.prompt_id,
      (v.subject_template IS NOT NULL OR v.body_template IS NOT NULL OR v.prompt_id IS NOT NULL) AS has_content
    FROM outreach.step_experiment_variants v
    WHERE v.organisation_id = t.organisation_id AND v.id = t.variant_id
  ) v ON TRUE
  LEFT JOIN outreach.mailboxes mb ON mb.organisation_id = t.organisation_id AND mb.id = coalesce(t.mailbox_id, e.mailbox_id)
  WHERE t.id = ANY (?::uuid[]) AND t.kind = 'DRAFT'
  ORDER BY t.id
  FOR UPDATE OF t`;

/** What a draft became: text to write, or the reason it cannot be written. */
type Draft =
  | {
      ok: true;
      subject: string;
      body: string;
      model?: string;
      promptTokens?: number | null;
      completionTokens?: number | null;
    }
  | {
      ok: false;
      reason: string;
      model?: string;
      promptTokens?: number | null;
      completionTokens?: number | null;
    };

interface ThreadMessage {
  subject: string | null;
  body_text: string | null;
}

/** What a prompt step needs once the transaction that read it has ended. */
interface PromptWork {
  context: TaskContext;
  prompt: { text: string; model: string | null } | undefined;
  prospect: ProspectData;
  sender: SenderData;
  thread: ThreadMessage[];
}

type Read = { outcome: DraftOutcome } | { prompt: PromptWork };

export interface Delivery {
  message: TaskMessage;
  attempt: number;
  messageId: string;
}

/**
 * Drafts the deliveries of one organisation. Resolves once the batch's transaction is over, to each delivery's
 * outcome; a prompt step's outcome is still a promise then (its model call and write), and an error is what
 * its delivery should fail with (a PermanentError, or one the queue retries later).
 */
export async function draftTasks(
  deps: DrafterDeps,
  organisationId: string,
  deliveries: Delivery[],
): Promise<Array<DraftOutcome | Error | Promise<DraftOutcome>>> {
  if (!isUuid(organisationId))
    return deliveries.map(() => new PermanentError('organisationId must be a UUID'));
  const taskIds = [...new Set(deliveries.map((d) => d.message.taskId).filter(isUuid))];
  const reads = await withTenant(deps.orm, organisationId, (em) => readOrDraftTemplates(em, taskIds));
  const asked = new Map<string, Promise<DraftOutcome>>();
  return deliveries.map((delivery) => {
    const { taskId } = delivery.message;
    if (!isUuid(taskId)) return new PermanentError('taskId must be a UUID');
    const read = reads.get(taskId) ?? { outcome: 'skipped' as const };
    if ('outcome' in read) return read.outcome;
    // the same task twice in one batch: the model is asked once
    const first = asked.get(taskId);
    if (first) return first.then(() => 'skipped' as const);
    const outcome = draftWithModel(deps, organisationId, delivery, read.prompt);
    asked.set(taskId, outcome);
    return outcome;
  });
}

/** One delivery: what draftTasks does for a batch of one. */
export async function draftTask(
  deps: DrafterDeps,
  message: TaskMessage,
  delivery: { attempt: number; messageId: string },
): Promise<DraftOutcome> {
  const [outcome] = await draftTasks(deps, message.organisationId, [{ message, ...delivery }]);
  if (outcome instanceof Error) throw outcome;
  return outcome!;
}

async function draftWithModel(
  deps: DrafterDeps,
  organisationId: string,
  delivery: Delivery,
  work: PromptWork,
): Promise<DraftOutcome> {
  let draft: Draft;
  if (!deps.ai) {
    draft = { ok: false, reason: 'Prompt steps need OPENAI_API_KEY; none is configured' };
  } else if (!work.prompt) {
    draft = { ok: false, reason: "The step's prompt no longer exists" };
  } else {
    // An organisation whose prompt drafts already wait here for model slots sends this one to the back of the
    // queue: the queue is first come first served, and other organisations' drafts are behind its backlog.
    if (deps.limiter.waiting(organisationId) >= deps.maxWaitingPerOrganisation) {
      await sendWork(deps.bus, DRAFT_QUEUE, delivery.message, {
        messageId: delivery.messageId,
        delayMs: DEFER_MS,
      });
      return 'deferred';
    }
    draft = await writeWithModel(deps, organisationId, work, delivery.attempt);
  }
  return deps.write(organisationId, { taskId: delivery.message.taskId, context: work.context, draft });
}

/**
 * Writes drafts the model wrote, in one transaction: tasks drafted meanwhile by another delivery, or cancelled
 * while the model wrote, are skipped.
 */
export async function writeDrafts(
  orm: MikroORM,
  organisationId: string,
  drafts: MessageToWrite[],
): Promise<DraftOutcome[]> {
  return withTenant(orm, organisationId, async (em) => {
    const queued = new Set(
      (
        await rawQuery<{ id: string }>(
          em,
          `SELECT id FROM outreach.tasks WHERE id = ANY (?::uuid[]) AND status = 'QUEUED' ORDER BY id FOR UPDATE`,
          [drafts.map((d) => d.taskId)],
        )
      ).map((r) => r.id),
    );
    // a task once, even if two deliveries of it were drafted side by side
    const seen = new Set<string>();
    const live = drafts.filter((d) => queued.has(d.taskId) && !seen.has(d.taskId) && seen.add(d.taskId));
    const written = await writeMessages(em, live);
    const outcomes = new Map(live.map((d, i) => [d, written[i]!]));
    return drafts.map((d) => outcomes.get(d) ?? 'skipped');
  });
}

async function writeWithModel(
  deps: DrafterDeps,
  organisationId: string,
  work: PromptWork,
  attempt: number,
): Promise<Draft> {
  const ai = deps.ai!;
  const prompt = work.prompt!;
  try {
    const result = await deps.limiter.run(organisationId, () =>
      ai.write({
        model: prompt.model ?? deps.defaultModel,
        instructions: prompt.text,
        prospect: work.prospect,
        sender: work.sender,
        thread: work.thread.map((m) => ({ subject: m.subject, bodyText: m.body_text })),
      }),
    );
    if (!result.ok) return result;
    const subject = threadSubject(work.context, work.thread) ?? result.subject;
    return { ...result, subject };
  } catch (error) {
    if (error instanceof AiRequestRejected) return { ok: false, reason: error.message };
    // down or rate-limited: the queue tries again after its delays; after the last one the draft fails
    if (error instanceof ModelUnavailableError && attempt > DRAFT_QUEUE.retryDelaysMs.length) {
      return { ok: false, reason: `${error.message}; gave up after ${attempt} attempts` };
    }
    throw error;
  }
}

/**
 * Reads the tasks with all they need; drafts the template steps and cancels the tasks that have nothing to
 * draft any more, in the caller's transaction. Prompt steps come back to be drafted with the model.
 */
async function readOrDraftTemplates(em: EntityManager, taskIds: string[]): Promise<Map<string, Read>> {
  const reads = new Map<string, Read>();
  if (taskIds.length === 0) return reads;
  const contexts = await rawQuery<TaskContext>(em, CONTEXT_SQL, [taskIds]);
  const live: TaskContext[] = [];
  const cancelled: string[] = [];
  for (const context of contexts) {
    // a redelivery after the draft was written (the message and the task's move are one transaction)
    if (context.existing_message_id || context.task_status !== 'QUEUED') continue;
    // a stopped enrolment or a campaign no longer running drafts nothing; relaunching restores cancelled tasks
    if (context.enrollment_status !== 'ACTIVE' || context.campaign_status !== 'RUNNING') {
      cancelled.push(context.task_id);
      reads.set(context.task_id, { outcome: 'cancelled' });
    } else live.push(context);
  }
  if (cancelled.length > 0) {
    await rawQuery(
      em,
      `UPDATE outreach.tasks SET status = 'CANCELLED', leased_by = NULL, leased_until = NULL, updated_at = now()
       WHERE id = ANY (?::uuid[]) AND status = 'QUEUED'`,
      [cancelled],
    );
  }
  if (live.length === 0) return reads;
  const prospects = await loadProspects(em, [...new Set(live.map((c) => c.position_id))]);
  const threads = await threadsOf(
    em,
    live.filter((c) => c.thread_with_previous && c.step_index > 0),
  );
  const promptIds = [...new Set(live.map((c) => c.prompt_id).filter((id): id is string => id !== null))];
  const prompts = new Map(
    promptIds.length === 0
      ? []
      : (
          await rawQuery<{ id: string; text: string; model: string | null }>(
            em,
            'SELECT id, text, model FROM outreach.prompts WHERE id = ANY (?::uuid[])',
            [promptIds],
          )
        ).map((p) => [p.id, { text: p.text, model: p.model }]),
  );
  const drafts: MessageToWrite[] = [];
  for (const context of live) {
    const taskId = context.task_id;
    const prospect = prospects.get(context.position_id);
    if (!prospect) drafts.push({ taskId, context, draft: fail('The prospect no longer exists') });
    else if (!context.mailbox_email)
      drafts.push({ taskId, context, draft: fail('The task has no sending mailbox') });
    else {
      const sender = senderOf(context.mailbox_email, context.mailbox_display_name);
      const thread = threads.get(taskId) ?? [];
      if (context.prompt_id) {
        const prompt = prompts.get(context.prompt_id);
        reads.set(taskId, { prompt: { context, prompt, prospect: prospect.data, sender, thread } });
      } else drafts.push({ taskId, context, draft: renderDraft(context, prospect.data, sender, thread) });
    }
  }
  const outcomes = await writeMessages(em, drafts);
  for (const [i, d] of drafts.entries()) reads.set(d.taskId, { outcome: outcomes[i]! });
  return reads;
}

/** The emails each task's step follows up in its thread, oldest first (rejected and failed drafts never left). */
async function threadsOf(em: EntityManager, contexts: TaskContext[]): Promise<Map<string, ThreadMessage[]>> {
  const threads = new Map<string, ThreadMessage[]>();
  if (contexts.length === 0) return threads;
  const rows = await rawQuery<ThreadMessage & { enrollment_id: string; step_index: number }>(
    em,
    `SELECT enrollment_id, step_index, subject, body_text FROM outreach.messages
     WHERE enrollment_id = ANY (?::uuid[]) AND direction = 'OUTBOUND' AND step_index IS NOT NULL
       AND status NOT IN ('FAILED', 'REJECTED')
     ORDER BY step_index, created_at`,
    [[...new Set(contexts.map((c) => c.enrollment_id))]],
  );
  for (const context of contexts) {
    threads.set(
      context.task_id,
      rows
        .filter((r) => r.enrollment_id === context.enrollment_id && r.step_index < context.step_index)
        .map((r) => ({ subject: r.subject, body_text: r.body_text })),
    );
  }
  return threads;
}

/** A follow-up without a subject of its own keeps its thread's: "Re: <first subject>". */
function threadSubject(context: TaskContext, thread: ThreadMessage[]): string | undefined {
  if (!context.thread_with_previous || context.subject_template) return undefined;
  const first = thread.find((m) => m.subject)?.subject;
  if (!first) return undefined;
  return /^re:/i.test(first) ? first : `Re: ${first}`;
}

function fail(reason: string): Draft {
  return { ok: false, reason };
}

function renderDraft(
  context: TaskContext,
  prospect: ProspectData,
  sender: SenderData,
  thread: ThreadMessage[],
): Draft {
  if (!context.body_template) return fail('The step has neither a body nor a prompt');
  let subject = threadSubject(context, thread);
  if (subject === undefined) {
    if (!context.subject_template) return fail('The step has no subject and no earlier email to follow up');
    const rendered = renderTemplate(context.subject_template, prospect, sender);
    if (!rendered.ok)
      return fail(`The subject uses {{${rendered.missing}}}, which this prospect has no value for`);
    subject = rendered.text.trim();
  }
  const body = renderTemplate(context.body_template, prospect, sender);
  if (!body.ok) return fail(`The body uses {{${body.missing}}}, which this prospect has no value for`);
  return { ok: true, subject, body: body.text };
}

export interface MessageToWrite {
  taskId: string;
  context: TaskContext;
  draft: Draft;
}

const MESSAGE_COLUMNS: Array<
  [string, string, (m: MessageToWrite & { id: string; status: string }) => unknown]
> = [
  ['id', 'uuid', (m) => m.id],
  ['enrollment_id', 'uuid', (m) => m.context.enrollment_id],
  ['step_id', 'uuid', (m) => m.context.step_id],
  ['variant_id', 'uuid', (m) => m.context.variant_id],
  ['mailbox_id', 'uuid', (m) => m.context.mailbox_id],
  ['position_id', 'uuid', (m) => m.context.position_id],
  ['status', 'text', (m) => m.status],
  ['subject', 'text', (m) => (m.draft.ok ? m.draft.subject : null)],
  ['body_text', 'text', (m) => (m.draft.ok ? m.draft.body : null)],
  ['body_html', 'text', (m) => (m.draft.ok ? bodyToHtml(m.draft.body) : null)],
  ['prompt_id', 'uuid', (m) => m.context.prompt_id],
  ['task_id', 'uuid', (m) => m.taskId],
  ['step_index', 'int', (m) => m.context.step_index],
  ['send_at', 'timestamptz', (m) => m.context.send_at],
  ['model', 'text', (m) => m.draft.model ?? null],
  ['prompt_tokens', 'int', (m) => m.draft.promptTokens ?? null],
  ['completion_tokens', 'int', (m) => m.draft.completionTokens ?? null],
  ['error', 'text', (m) => (m.draft.ok ? null : m.draft.reason)],
];

const INSERT_MESSAGES = `
  INSERT INTO outreach.messages (organisation_id, direction, ${MESSAGE_COLUMNS.map(([c]) => c).join(', ')})
  SELECT public.current_organisation_id(), 'OUTBOUND', m.*
  FROM unnest(${MESSAGE_COLUMNS.map(([, type]) => `?::${type}[]`).join(', ')}) AS m
  ON CONFLICT (organisation_id, task_id) DO NOTHING
  RETURNING task_id`;

/**
 * Writes the tasks' messages and moves the tasks on, with their events, in the caller's transaction, in a
 * fixed number of statements. A draft that failed is kept as a FAILED message with the reason, never sent,
 * and its enrolment stops.
 */
async function writeMessages(em: EntityManager, drafts: MessageToWrite[]): Promise<DraftOutcome[]> {
  if (drafts.length === 0) return [];
  const rows = drafts.map((d) => ({
    ...d,
    id: randomUUID(),
    status: !d.draft.ok ? 'FAILED' : d.context.require_approval ? 'AWAITING_APPROVAL' : 'QUEUED',
  }));
  const inserted = new Set(
    (
      await rawQuery<{ task_id: string }>(
        em,
        INSERT_MESSAGES,
        MESSAGE_COLUMNS.map(([, , value]) => rows.map(value)),
      )
    ).map((r) => r.task_id),
  );
  const written = rows.filter((r) => inserted.has(r.taskId));
  if (written.length > 0) {
    await rawQuery(
      em,
      `UPDATE outreach.tasks t SET status = w.status, message_id = w.message_id, last_error = w.error,
         leased_by = NULL, leased_until = NULL, updated_at = now()
       FROM unnest(?::uuid[], ?::text[], ?::uuid[], ?::text[]) AS w(task_id, status, message_id, error)
       WHERE t.id = ANY (?::uuid[]) AND t.id = w.task_id AND t.status IN ('QUEUED', 'RUNNING')`,
      [
        written.map((r) => r.taskId),
        written.map((r) => (r.draft.ok ? 'DONE' : 'FAILED')),
        written.map((r) => r.id),
        written.map((r) => (r.draft.ok ? null : r.draft.reason)),
        written.map((r) => r.taskId),
      ],
    );
  }
  // the emails that may go now are handed to the sender
  await queueSendTasks(
    em,
    written.filter((r) => r.status === 'QUEUED').map((r) => r.id),
  );
  const failed = written.filter((r) => !r.draft.ok);
  if (failed.length > 0) {
    // the reason in full stays on the message; the enrolment names the cause as other stops do
    await rawQuery(
      em,
      `UPDATE outreach.campaign_enrollments SET status = 'FAILED', stopped_reason = 'DRAFT_FAILED', next_run_at = NULL,
         updated_at = now()
       WHERE id = ANY (?::uuid[]) AND status = 'ACTIVE'`,
      [failed.map((r) => r.context.enrollment_id)],
    );
  }
  const events: EventToRecord[] = written.flatMap((r): EventToRecord[] => {
    const campaignId = r.context.campaign_id;
    const payload = { enrollmentId: r.context.enrollment_id, messageId: r.id };
    if (r.status === 'QUEUED') return [{ event: DRAFTED, campaignId, payload }];
    if (r.status === 'AWAITING_APPROVAL') return [{ event: APPROVAL_NEEDED, campaignId, payload }];
    return [
      { event: FAILED, campaignId, payload },
      { event: ENROLLMENT_CHANGED, campaignId, payload: { enrollmentId: r.context.enrollment_id } },
    ];
  });
  if (events.length > 0) await recordEvents(em, events);
  return rows.map((r) =>
    !inserted.has(r.taskId)
      ? 'skipped'
      : r.status === 'FAILED'
        ? 'failed'
        : r.status === 'QUEUED'
          ? 'drafted'
          : 'awaiting-approval',
  );
}
