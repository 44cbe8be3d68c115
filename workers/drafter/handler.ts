// One DRAFT_QUEUE message: the draft of one task. Everything is re-read in the task's organisation; the
// message is written once per task (messages.task_id is unique), so a redelivery finds it and stops there.
// Template steps are rendered and written in one transaction; prompt steps read, call the model outside any
// transaction, then write.
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
}

export type DraftOutcome = 'drafted' | 'awaiting-approval' | 'failed' | 'cancelled' | 'deferred' | 'skipped';

/** How long a draft handed back to the queue (its organisation has a backlog here) stays out of it. */
export const DEFER_MS = 1000;

interface TaskContext {
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
  SELECT t.status AS task_status, t.enrollment_id, t.step_id, t.variant_id, t.send_at,
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
  WHERE t.id = ? AND t.kind = 'DRAFT'
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

export async function draftTask(
  deps: DrafterDeps,
  message: TaskMessage,
  delivery: { attempt: number; messageId: string },
): Promise<DraftOutcome> {
  const { organisationId, taskId } = message;
  if (!isUuid(organisationId) || !isUuid(taskId))
    throw new PermanentError('organisationId and taskId must be UUIDs');

  const read = await withTenant<Read>(deps.orm, organisationId, (em) => readOrDraftTemplate(em, taskId));
  if ('outcome' in read) return read.outcome;

  const work = read.prompt;
  let draft: Draft;
  if (!deps.ai) {
    draft = { ok: false, reason: 'Prompt steps need OPENAI_API_KEY; none is configured' };
  } else if (!work.prompt) {
    draft = { ok: false, reason: "The step's prompt no longer exists" };
  } else {
    // An organisation whose prompt drafts already wait here for model slots sends this one to the back of the
    // queue: the queue is first come first served, and other organisations' drafts are behind its backlog.
    if (deps.limiter.waiting(organisationId) >= deps.maxWaitingPerOrganisation) {
      await sendWork(deps.bus, DRAFT_QUEUE, message, { messageId: delivery.messageId, delayMs: DEFER_MS });
      return 'deferred';
    }
    draft = await writeWithModel(deps, organisationId, work, delivery.attempt);
  }
  return withTenant(deps.orm, organisationId, async (em) => {
    const [task] = await rawQuery<{ status: string }>(
      em,
      'SELECT status FROM outreach.tasks WHERE id = ? FOR UPDATE',
      [taskId],
    );
    // drafted meanwhile by another delivery, or cancelled while the model wrote
    if (task?.status !== 'QUEUED') return 'skipped';
    return writeMessage(em, taskId, work.context, draft);
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

async function readOrDraftTemplate(em: EntityManager, taskId: string): Promise<Read> {
  const [context] = await rawQuery<TaskContext>(em, CONTEXT_SQL, [taskId]);
  if (!context) return { outcome: 'skipped' };
  // a redelivery after the draft was written (the message and the task's move are one transaction)
  if (context.existing_message_id || context.task_status !== 'QUEUED') return { outcome: 'skipped' };
  // a stopped enrolment or a campaign no longer running drafts nothing; relaunching restores cancelled tasks
  if (context.enrollment_status !== 'ACTIVE' || context.campaign_status !== 'RUNNING') {
    await rawQuery(
      em,
      `UPDATE outreach.tasks SET status = 'CANCELLED', leased_by = NULL, leased_until = NULL, updated_at = now()
       WHERE id = ? AND status = 'QUEUED'`,
      [taskId],
    );
    return { outcome: 'cancelled' };
  }
  const prospect = (await loadProspects(em, [context.position_id])).get(context.position_id);
  if (!prospect)
    return { outcome: await writeMessage(em, taskId, context, fail('The prospect no longer exists')) };
  if (!context.mailbox_email) {
    return { outcome: await writeMessage(em, taskId, context, fail('The task has no sending mailbox')) };
  }
  const sender = senderOf(context.mailbox_email, context.mailbox_display_name);
  const thread =
    context.thread_with_previous && context.step_index > 0
      ? await threadOf(em, context)
      : ([] as ThreadMessage[]);

  if (context.prompt_id) {
    const [prompt] = await rawQuery<{ text: string; model: string | null }>(
      em,
      'SELECT text, model FROM outreach.prompts WHERE id = ?',
      [context.prompt_id],
    );
    return { prompt: { context, prompt, prospect: prospect.data, sender, thread } };
  }
  const draft = renderDraft(context, prospect.data, sender, thread);
  return { outcome: await writeMessage(em, taskId, context, draft) };
}

/** The emails this step follows up in its thread, oldest first (rejected and failed drafts never left). */
function threadOf(em: EntityManager, context: TaskContext): Promise<ThreadMessage[]> {
  return rawQuery<ThreadMessage>(
    em,
    `SELECT subject, body_text FROM outreach.messages
     WHERE enrollment_id = ? AND direction = 'OUTBOUND' AND step_index < ?
       AND status NOT IN ('FAILED', 'REJECTED')
     ORDER BY step_index, created_at`,
    [context.enrollment_id, context.step_index],
  );
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

/**
 * Writes the task's message and moves the task on, with its events, in the caller's transaction. A draft that
 * failed is kept as a FAILED message with the reason, never sent, and its enrolment stops.
 */
async function writeMessage(
  em: EntityManager,
  taskId: string,
  context: TaskContext,
  draft: Draft,
): Promise<DraftOutcome> {
  const status = !draft.ok ? 'FAILED' : context.require_approval ? 'AWAITING_APPROVAL' : 'QUEUED';
  const messageId = randomUUID();
  const inserted = await rawQuery<{ id: string }>(
    em,
    `INSERT INTO outreach.messages (organisation_id, id, enrollment_id, step_id, variant_id, mailbox_id, position_id,
       direction, status, subject, body_text, body_html, prompt_id, task_id, step_index, send_at, model,
       prompt_tokens, completion_tokens, error)
     VALUES (public.current_organisation_id(), ?, ?, ?, ?, ?, ?, 'OUTBOUND', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (organisation_id, task_id) DO NOTHING
     RETURNING id`,
    [
      messageId,
      context.enrollment_id,
      context.step_id,
      context.variant_id,
      context.mailbox_id,
      context.position_id,
      status,
      draft.ok ? draft.subject : null,
      draft.ok ? draft.body : null,
      draft.ok ? bodyToHtml(draft.body) : null,
      context.prompt_id,
      taskId,
      context.step_index,
      context.send_at,
      draft.model ?? null,
      draft.promptTokens ?? null,
      draft.completionTokens ?? null,
      draft.ok ? null : draft.reason,
    ],
  );
  if (inserted.length === 0) return 'skipped';
  await markTask(em, taskId, draft.ok ? 'DONE' : 'FAILED', messageId, draft.ok ? null : draft.reason);
  const events: EventToRecord[] = [];
  const payload = { enrollmentId: context.enrollment_id, messageId };
  if (draft.ok) {
    events.push({
      event: status === 'QUEUED' ? DRAFTED : APPROVAL_NEEDED,
      campaignId: context.campaign_id,
      payload,
    });
  } else {
    await rawQuery(
      em,
      // the reason in full stays on the message; the enrolment names the cause as other stops do
      `UPDATE outreach.campaign_enrollments SET status = 'FAILED', stopped_reason = 'DRAFT_FAILED', next_run_at = NULL,
         updated_at = now()
       WHERE id = ? AND status = 'ACTIVE'`,
      [context.enrollment_id],
    );
    events.push({ event: FAILED, campaignId: context.campaign_id, payload });
    events.push({
      event: ENROLLMENT_CHANGED,
      campaignId: context.campaign_id,
      payload: { enrollmentId: context.enrollment_id },
    });
  }
  await recordEvents(em, events);
  return !draft.ok ? 'failed' : status === 'QUEUED' ? 'drafted' : 'awaiting-approval';
}

async function markTask(
  em: EntityManager,
  taskId: string,
  status: 'DONE' | 'FAILED',
  messageId: string,
  error: string | null,
): Promise<void> {
  await rawQuery(
    em,
    `UPDATE outreach.tasks SET status = ?, message_id = ?, last_error = ?, leased_by = NULL, leased_until = NULL,
       updated_at = now()
     WHERE id = ? AND status IN ('QUEUED', 'RUNNING')`,
    [status, messageId, error, taskId],
  );
}
