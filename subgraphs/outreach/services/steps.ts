// A campaign's sequence: steps written from templates or by a prompt, in order, and A/B experiments on them.
// Edits of a running campaign apply to messages not yet drafted; nothing may change what it already sent.
import { randomUUID } from 'node:crypto';
import { type EntityManager, isUuid, rawQuery } from '../../../lib/db/orm.ts';
import { AppError, badInput, ErrorCode, notFound } from '../../../lib/errors.ts';
import type { OutreachDeps } from '../deps.ts';
import { Prompt } from '../entities/prompt.entity.ts';
import { StepExperiment, StepVariant } from '../entities/step-experiment.entity.ts';
import { WorkflowStep } from '../entities/workflow-step.entity.ts';
import type { VariantInput, WorkflowStepInput, WorkflowStepUpdateInput } from '../inputs/step.input.ts';
import { MAX_STEPS } from '../resolvers/campaign.resolver.ts';
import { MAX_VARIANTS } from '../resolvers/step.resolver.ts';
import { assertEditable, lockCampaign } from './campaigns.ts';
import { checkTemplate } from './templates.ts';

const MAX_SUBJECT = 500;
const MAX_BODY = 20_000;

interface Content {
  subjectTemplate?: string | null;
  bodyTemplate?: string | null;
  promptId?: string | null;
}
type CheckedContent = {
  subjectTemplate: string | null;
  bodyTemplate: string | null;
  promptId: string | null;
};

/**
 * What a step or variant sends: a subject and a body template (both checked), or a prompt of the organisation
 * (and AI drafting configured); `at` prefixes error messages (`variants[1]`).
 */
async function checkContent(
  em: EntityManager,
  deps: OutreachDeps,
  content: Content,
  at = '',
): Promise<CheckedContent> {
  const field = (name: string) => (at ? `${at}.${name}` : name);
  const { subjectTemplate, bodyTemplate, promptId } = content;
  if (promptId != null) {
    if (subjectTemplate != null || bodyTemplate != null) {
      throw badInput(`${at || 'A step'}: write from templates or by a prompt, not both`, {
        field: field('promptId'),
      });
    }
    if (!deps.aiDrafting) {
      throw badInput(
        'AI drafting is off on this server (no OPENAI_API_KEY): use subjectTemplate and bodyTemplate instead of a prompt',
        { field: field('promptId') },
      );
    }
    if (!isUuid(promptId) || !(await em.findOne(Prompt, { id: promptId }, { fields: ['id'] }))) {
      throw notFound('Prompt');
    }
    return { subjectTemplate: null, bodyTemplate: null, promptId };
  }
  if (!subjectTemplate?.trim() || !bodyTemplate?.trim()) {
    throw badInput(`${at || 'A step'} needs a subjectTemplate and a bodyTemplate, or a promptId`, {
      field: field(subjectTemplate?.trim() ? 'bodyTemplate' : 'subjectTemplate'),
    });
  }
  if (subjectTemplate.length > MAX_SUBJECT || /[\r\n]/.test(subjectTemplate)) {
    throw badInput(`${field('subjectTemplate')} must be one line of at most ${MAX_SUBJECT} characters`, {
      field: field('subjectTemplate'),
    });
  }
  if (bodyTemplate.length > MAX_BODY) {
    throw badInput(`${field('bodyTemplate')} is at most ${MAX_BODY} characters`, {
      field: field('bodyTemplate'),
    });
  }
  checkTemplate(subjectTemplate, field('subjectTemplate'));
  checkTemplate(bodyTemplate, field('bodyTemplate'));
  return { subjectTemplate, bodyTemplate, promptId: null };
}

function checkDelay(delayDays: number): void {
  if (!Number.isInteger(delayDays) || delayDays < 0 || delayDays > 365) {
    throw badInput('delayDays must be between 0 and 365', { field: 'delayDays' });
  }
}

/** The step with its campaign locked and editable; NOT_FOUND for another organisation's or an unknown id. */
async function lockStep(em: EntityManager, id: string): Promise<WorkflowStep> {
  const step = isUuid(id) ? await em.findOne(WorkflowStep, { id }) : null;
  if (!step) throw notFound('Workflow step');
  assertEditable(await lockCampaign(em, step.campaign.id));
  return step;
}

export async function addWorkflowStep(
  em: EntityManager,
  deps: OutreachDeps,
  campaignId: string,
  input: WorkflowStepInput,
): Promise<WorkflowStep> {
  const campaign = await lockCampaign(em, campaignId);
  assertEditable(campaign);
  checkDelay(input.delayDays);
  const content = await checkContent(em, deps, input);
  const [{ count }] = await rawQuery<{ count: number }>(
    em,
    'SELECT count(*)::int AS count FROM outreach.workflow_steps WHERE organisation_id = ? AND campaign_id = ?',
    [campaign.organisationId, campaign.id],
  );
  if (count >= MAX_STEPS)
    throw badInput(`A campaign has at most ${MAX_STEPS} steps`, { field: 'campaignId' });
  const step = Object.assign(new WorkflowStep(), {
    id: randomUUID(),
    organisationId: campaign.organisationId,
    campaign,
    // indexes stay 0..n-1 (removal re-numbers), so the count is the next one
    index: count,
    delayDays: input.delayDays,
    threadWithPrevious: input.threadWithPrevious ?? true,
    ...content,
  });
  em.persist(step);
  await em.flush();
  return step;
}

export async function updateWorkflowStep(
  em: EntityManager,
  deps: OutreachDeps,
  id: string,
  input: WorkflowStepUpdateInput,
): Promise<WorkflowStep> {
  const step = await lockStep(em, id);
  if (input.delayDays != null) {
    checkDelay(input.delayDays);
    step.delayDays = input.delayDays;
  }
  if (input.threadWithPrevious != null) step.threadWithPrevious = input.threadWithPrevious;
  const templates = input.subjectTemplate != null || input.bodyTemplate != null;
  if (templates || input.promptId != null) {
    // templates replace a prompt, a prompt replaces templates; a template not given stays as it was
    const content = await checkContent(
      em,
      deps,
      input.promptId != null && !templates
        ? { promptId: input.promptId }
        : {
            subjectTemplate: input.subjectTemplate ?? step.subjectTemplate,
            bodyTemplate: input.bodyTemplate ?? step.bodyTemplate,
            promptId: input.promptId,
          },
    );
    Object.assign(step, content);
  }
  await em.flush();
  return step;
}

/** Steps among these that something already happened for: a message drafted or sent, a task scheduled. */
async function stepsInUse(
  em: EntityManager,
  organisationId: string,
  stepIds: string[],
): Promise<Set<string>> {
  if (stepIds.length === 0) return new Set();
  const rows = await rawQuery<{ step_id: string }>(
    em,
    `SELECT DISTINCT step_id FROM outreach.messages WHERE organisation_id = ? AND step_id = ANY(?::uuid[])
     UNION
     SELECT DISTINCT step_id FROM outreach.tasks
     WHERE organisation_id = ? AND step_id = ANY(?::uuid[]) AND status <> 'CANCELLED'`,
    [organisationId, stepIds, organisationId, stepIds],
  );
  return new Set(rows.map((r) => r.step_id));
}

/** Removes a step and moves the later ones up; refused when that would touch a step already used. */
export async function removeWorkflowStep(em: EntityManager, id: string): Promise<string> {
  const step = await lockStep(em, id);
  const affected = await rawQuery<{ id: string; index: number }>(
    em,
    `SELECT id, index FROM outreach.workflow_steps
     WHERE organisation_id = ? AND campaign_id = ? AND index >= ? ORDER BY index`,
    [step.organisationId, step.campaign.id, step.index],
  );
  const used = await stepsInUse(
    em,
    step.organisationId,
    affected.map((s) => s.id),
  );
  if (used.has(step.id)) {
    throw new AppError(
      ErrorCode.Conflict,
      `Step ${step.index} already has messages or scheduled work: it cannot be removed`,
    );
  }
  const renumbered = affected.find((s) => used.has(s.id));
  if (renumbered) {
    throw new AppError(
      ErrorCode.Conflict,
      `Removing step ${step.index} would re-number step ${renumbered.index}, which already has messages or scheduled work`,
    );
  }
  const campaignId = step.campaign.id;
  await em.remove(step).flush();
  await rawQuery(
    em,
    'UPDATE outreach.workflow_steps SET index = index - 1 WHERE organisation_id = ? AND campaign_id = ? AND index > ?',
    [step.organisationId, campaignId, step.index],
  );
  return campaignId;
}

function checkVariantKeys(variants: VariantInput[]): void {
  if (variants.length < 2 || variants.length > MAX_VARIANTS) {
    throw badInput(`An experiment has 2-${MAX_VARIANTS} variants`, { field: 'variants' });
  }
  const seen = new Set<string>();
  variants.forEach((v, i) => {
    const key = v.key.trim();
    if (key.length < 1 || key.length > 40) {
      throw badInput(`variants[${i}].key must be 1-40 characters`, { field: `variants[${i}].key` });
    }
    if (seen.has(key.toLowerCase())) {
      throw badInput(`variants[${i}].key "${key}" is used twice`, { field: `variants[${i}].key` });
    }
    seen.add(key.toLowerCase());
    if (!Number.isInteger(v.weight) || v.weight < 1 || v.weight > 10_000) {
      throw badInput(`variants[${i}].weight must be between 1 and 10000`, { field: `variants[${i}].weight` });
    }
  });
}

export async function addStepExperiment(
  em: EntityManager,
  deps: OutreachDeps,
  stepId: string,
  name: string,
  variants: VariantInput[],
): Promise<StepExperiment> {
  const step = await lockStep(em, stepId);
  const trimmed = name.trim();
  if (trimmed.length < 1 || trimmed.length > 200)
    throw badInput('name must be 1-200 characters', { field: 'name' });
  checkVariantKeys(variants);
  const contents: CheckedContent[] = [];
  for (const [i, variant] of variants.entries())
    contents.push(await checkContent(em, deps, variant, `variants[${i}]`));
  if (await em.findOne(StepExperiment, { step }, { fields: ['id'] })) {
    throw new AppError(ErrorCode.Conflict, `Step ${step.index} already has an experiment`);
  }
  const experiment = Object.assign(new StepExperiment(), {
    id: randomUUID(),
    organisationId: step.organisationId,
    step,
    name: trimmed,
  });
  em.persist(experiment);
  variants.forEach((variant, i) => {
    em.persist(
      Object.assign(new StepVariant(), {
        id: randomUUID(),
        organisationId: step.organisationId,
        experiment,
        key: variant.key.trim(),
        weight: variant.weight,
        ...contents[i],
      }),
    );
  });
  await em.flush();
  return experiment;
}
