// A running campaign with its steps, a mailbox and enrolled prospects, and draft tasks as the scheduler leaves
// them (QUEUED, with a mailbox, a variant and a send slot), written as the owner: drafter and review tests
// start from here.
import { randomUUID } from 'node:crypto';
import type pg from 'pg';

export interface StepSeed {
  subject?: string | null;
  body?: string | null;
  /** Prompt text: the step is drafted by the model. */
  prompt?: string;
  promptModel?: string | null;
  threadWithPrevious?: boolean;
  /** One A/B variant with its own content, given to every task of this step. */
  variant?: { subject?: string | null; body?: string | null };
}

export interface PersonSeed {
  firstName?: string | null;
  lastName?: string | null;
  jobTitle?: string | null;
  companyName?: string;
}

export interface CampaignSeed {
  organisationId: string;
  campaignId: string;
  mailboxId: string;
  steps: { id: string; variantId: string | null; promptId: string | null }[];
  enrollments: { id: string; positionId: string }[];
}

export async function seedDraftCampaign(
  db: pg.Pool | pg.Client,
  options: {
    organisationId?: string;
    steps: StepSeed[];
    people: PersonSeed[];
    requireApproval?: boolean;
    onReject?: 'NEXT_STEP' | 'STOP';
    status?: 'RUNNING' | 'PAUSED';
  },
): Promise<CampaignSeed> {
  const organisationId = options.organisationId ?? randomUUID();
  const campaignId = randomUUID();
  const mailboxId = randomUUID();
  await db.query(
    `INSERT INTO iam.organisations (id, name) VALUES ($1::uuid, 'Org ' || $1::text) ON CONFLICT DO NOTHING`,
    [organisationId],
  );
  await db.query(
    `INSERT INTO outreach.mailboxes (organisation_id, id, email, display_name, provider)
     VALUES ($1, $2, $3, 'Claire Dubois', 'OUTBOX')`,
    [organisationId, mailboxId, `claire.${mailboxId.slice(0, 8)}@sender.fr`],
  );
  await db.query(
    `INSERT INTO outreach.campaigns (organisation_id, id, name, status, timezone, days, start_hour, end_hour,
       require_approval, on_reject, launched_at)
     VALUES ($1, $2, 'Spring', $3, 'Europe/Paris', '{1,2,3,4,5,6,7}', 0, 24, $4, $5, now())`,
    [
      organisationId,
      campaignId,
      options.status ?? 'RUNNING',
      options.requireApproval ?? false,
      options.onReject ?? 'NEXT_STEP',
    ],
  );
  const steps: CampaignSeed['steps'] = [];
  for (const [index, step] of options.steps.entries()) {
    const stepId = randomUUID();
    let promptId: string | null = null;
    if (step.prompt !== undefined) {
      promptId = randomUUID();
      await db.query(
        `INSERT INTO outreach.prompts (organisation_id, id, name, version, model, text) VALUES ($1, $2, $3, 1, $4, $5)`,
        [organisationId, promptId, `prompt ${promptId.slice(0, 8)}`, step.promptModel ?? null, step.prompt],
      );
    }
    await db.query(
      `INSERT INTO outreach.workflow_steps (organisation_id, id, campaign_id, index, delay_days, subject_template,
         body_template, prompt_id, thread_with_previous)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
      [
        organisationId,
        stepId,
        campaignId,
        index,
        index === 0 ? 0 : 2,
        step.subject ?? null,
        step.body ?? null,
        promptId,
        step.threadWithPrevious ?? true,
      ],
    );
    let variantId: string | null = null;
    if (step.variant) {
      const experimentId = randomUUID();
      variantId = randomUUID();
      await db.query(
        `INSERT INTO outreach.step_experiments (organisation_id, id, step_id, name) VALUES ($1, $2, $3, 'Subject test')`,
        [organisationId, experimentId, stepId],
      );
      await db.query(
        `INSERT INTO outreach.step_experiment_variants (organisation_id, id, experiment_id, key, weight,
           subject_template, body_template)
         VALUES ($1, $2, $3, 'B', 50, $4, $5)`,
        [organisationId, variantId, experimentId, step.variant.subject ?? null, step.variant.body ?? null],
      );
    }
    steps.push({ id: stepId, variantId, promptId });
  }
  const { rows } = await db.query<{ enrollment_id: string; position_id: string }>(
    `WITH input AS (
       SELECT gen_random_uuid() AS company_id, gen_random_uuid() AS person_id, gen_random_uuid() AS position_id,
         gen_random_uuid() AS enrollment_id, p.first_name, p.last_name, p.job_title, p.company_name, p.ord
       FROM unnest($2::text[], $3::text[], $4::text[], $5::text[]) WITH ORDINALITY
         AS p(first_name, last_name, job_title, company_name, ord)),
     companies AS (INSERT INTO crm.companies (organisation_id, id, name, activity)
       SELECT $1, company_id, company_name, 'Industrial bakeries' FROM input RETURNING id),
     people AS (INSERT INTO crm.people (organisation_id, id, first_name, last_name, mobile_phone)
       SELECT $1, person_id, first_name, last_name, '+33612345678' FROM input RETURNING id),
     positions AS (INSERT INTO crm.positions (organisation_id, id, company_id, person_id, job_title, email, email_status)
       SELECT $1, position_id, company_id, person_id, job_title, 'prospect.' || position_id || '@client.fr', 'VALID'
       FROM input WHERE company_id IN (SELECT id FROM companies) AND person_id IN (SELECT id FROM people)
       RETURNING id),
     enrolled AS (INSERT INTO outreach.campaign_enrollments (organisation_id, id, campaign_id, position_id, status,
         current_step_index, mailbox_id, email)
       SELECT $1, enrollment_id, $6, position_id, 'ACTIVE', 0, $7, 'prospect.' || position_id || '@client.fr'
       FROM input WHERE position_id IN (SELECT id FROM positions) RETURNING id)
     SELECT enrollment_id, position_id FROM input WHERE enrollment_id IN (SELECT id FROM enrolled) ORDER BY ord`,
    [
      organisationId,
      options.people.map((p) => p.firstName ?? null),
      options.people.map((p) => p.lastName ?? null),
      options.people.map((p) => p.jobTitle ?? null),
      options.people.map((p) => p.companyName ?? 'Boulangeries Martin'),
      campaignId,
      mailboxId,
    ],
  );
  return {
    organisationId,
    campaignId,
    mailboxId,
    steps,
    enrollments: rows.map((r) => ({ id: r.enrollment_id, positionId: r.position_id })),
  };
}

/** The step's draft task of every enrolment, as the scheduler dispatches it: QUEUED with mailbox, variant, send slot. */
export async function seedQueuedTasks(
  db: pg.Pool | pg.Client,
  seed: CampaignSeed,
  stepIndex: number,
  sendAt: Date,
): Promise<string[]> {
  const step = seed.steps[stepIndex]!;
  const { rows } = await db.query<{ id: string }>(
    `INSERT INTO outreach.tasks (organisation_id, id, enrollment_id, step_id, kind, status, scheduled_for,
       mailbox_id, variant_id, send_at, leased_by, leased_until)
     SELECT $1, gen_random_uuid(), e.id, $2, 'DRAFT', 'QUEUED', $3, $4, $5, $3, 'scheduler-test', now() + interval '5 minutes'
     FROM unnest($6::uuid[]) WITH ORDINALITY AS e(id, ord)
     ORDER BY e.ord
     RETURNING id`,
    [seed.organisationId, step.id, sendAt, seed.mailboxId, step.variantId, seed.enrollments.map((e) => e.id)],
  );
  return rows.map((r) => r.id);
}

/**
 * What the drafter leaves for review in a campaign that requires approval: the step's task DONE and an
 * AWAITING_APPROVAL message per enrolment, oldest first in enrolment order; returns the message ids.
 */
export async function seedAwaitingMessages(
  db: pg.Pool | pg.Client,
  seed: CampaignSeed,
  stepIndex: number,
): Promise<string[]> {
  const step = seed.steps[stepIndex]!;
  const { rows } = await db.query<{ id: string }>(
    `WITH input AS (
       SELECT e.id AS enrollment_id, e.ord, gen_random_uuid() AS task_id, gen_random_uuid() AS message_id,
         (SELECT position_id FROM outreach.campaign_enrollments WHERE id = e.id) AS position_id
       FROM unnest($3::uuid[]) WITH ORDINALITY AS e(id, ord)),
     tasks AS (INSERT INTO outreach.tasks (organisation_id, id, enrollment_id, step_id, kind, status, scheduled_for,
         mailbox_id, variant_id, send_at, message_id)
       SELECT $1, task_id, enrollment_id, $2, 'DRAFT', 'DONE', now(), $4, $5, now() + interval '1 hour', message_id
       FROM input RETURNING id)
     INSERT INTO outreach.messages (organisation_id, id, enrollment_id, step_id, variant_id, mailbox_id, position_id,
       status, subject, body_text, body_html, task_id, step_index, send_at, created_at)
     SELECT $1, message_id, enrollment_id, $2, $5, $4, position_id, 'AWAITING_APPROVAL',
       'Draft subject ' || ord, 'Draft body ' || ord, '<p>Draft body ' || ord || '</p>', task_id, $6,
       now() + interval '1 hour', now() + ord * interval '1 millisecond'
     FROM input WHERE task_id IN (SELECT id FROM tasks)
     ORDER BY ord
     RETURNING id`,
    [
      seed.organisationId,
      step.id,
      seed.enrollments.map((e) => e.id),
      seed.mailboxId,
      step.variantId,
      stepIndex,
    ],
  );
  return rows.map((r) => r.id);
}
