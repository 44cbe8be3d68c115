// A step's email as one prospect would receive it, rendered from its templates without drafting or sending.
import { type EntityManager, isUuid, rawQuery } from '../../../lib/db/orm.ts';
import { badInput, notFound } from '../../../lib/errors.ts';
import { Campaign } from '../entities/campaign.entity.ts';
import { Prompt } from '../entities/prompt.entity.ts';
import { StepExperiment, StepVariant } from '../entities/step-experiment.entity.ts';
import { WorkflowStep } from '../entities/workflow-step.entity.ts';
import { loadProspects } from './prospects.ts';
import { bodyToHtml, renderTemplate, type SenderData, senderOf } from './templates.ts';

export interface Preview {
  subject: string | null;
  bodyText: string | null;
  bodyHtml: string | null;
  /** A prompt step: its text exists only once the drafter has written it. */
  writtenByAi: boolean;
  note: string | null;
}

/** The sender a preview shows: the campaign's first mailbox by address. */
async function previewSender(em: EntityManager, campaign: Campaign): Promise<SenderData> {
  const [mailbox] = await rawQuery<{ email: string; display_name: string | null }>(
    em,
    `SELECT m.email::text AS email, m.display_name FROM outreach.campaign_mailboxes cm
     JOIN outreach.mailboxes m ON m.organisation_id = cm.organisation_id AND m.id = cm.mailbox_id
     WHERE cm.organisation_id = ? AND cm.campaign_id = ? ORDER BY m.email LIMIT 1`,
    [campaign.organisationId, campaign.id],
  );
  return senderOf(mailbox?.email ?? '', mailbox?.display_name);
}

export async function previewMessage(
  em: EntityManager,
  ids: { campaignId: string; stepId: string; positionId: string; variantKey?: string | null },
): Promise<Preview> {
  const campaign = isUuid(ids.campaignId) ? await em.findOne(Campaign, { id: ids.campaignId }) : null;
  if (!campaign) throw notFound('Campaign');
  const step = isUuid(ids.stepId) ? await em.findOne(WorkflowStep, { id: ids.stepId, campaign }) : null;
  if (!step) throw notFound('Workflow step');
  const experiment = await em.findOne(StepExperiment, { step });
  let content: WorkflowStep | StepVariant = step;
  if (ids.variantKey != null) {
    if (!experiment)
      throw badInput(`Step ${step.index} has no experiment: leave variantKey out`, { field: 'variantKey' });
    const variant = await em.findOne(StepVariant, { experiment, key: ids.variantKey });
    if (!variant) throw notFound('Variant');
    content = variant;
  } else if (experiment) {
    const keys = (await em.find(StepVariant, { experiment }, { orderBy: { key: 'asc' } })).map((v) => v.key);
    throw badInput(`Step ${step.index} runs an experiment: give variantKey (${keys.join(', ')})`, {
      field: 'variantKey',
    });
  }
  const prospect = (await loadProspects(em, [ids.positionId])).get(ids.positionId.toLowerCase());
  if (!prospect) throw notFound('Position');
  if (content.promptId) {
    const prompt = await em.findOne(Prompt, { id: content.promptId });
    return {
      subject: null,
      bodyText: null,
      bodyHtml: null,
      writtenByAi: true,
      note: `Written by AI from prompt "${prompt?.name}" (version ${prompt?.version}) when the message is drafted: there is nothing to show before then`,
    };
  }
  const sender = await previewSender(em, campaign);
  const rendered = (['subjectTemplate', 'bodyTemplate'] as const).map((field) => {
    const result = renderTemplate(content[field] ?? '', prospect.data, sender);
    if (!result.ok) {
      throw badInput(
        `${field}: this prospect has no value for {{${result.missing}}} and the template gives no fallback (write {{${result.missing}|…}})`,
        { field, variable: result.missing },
      );
    }
    return result.text;
  });
  return {
    subject: rendered[0]!,
    bodyText: rendered[1]!,
    bodyHtml: bodyToHtml(rendered[1]!),
    writtenByAi: false,
    note: null,
  };
}
