// A campaign authored through the API as a user would: an OUTBOX mailbox, a schedule open every hour of every
// day (the platform's own scheduler runs on the real clock) and one template step.
import {
  AddWorkflowStepDocument,
  ConnectMailboxDocument,
  CreateCampaignDocument,
} from '../generated/graphql.ts';
import { ok, uniqueEmail } from './client.ts';

export async function authoredCampaign(
  token: string,
  name: string,
  step: { subject: string; body: string } = { subject: 'Hello', body: 'Hello there' },
): Promise<{ mailboxId: string; campaignId: string }> {
  const { connectMailbox } = await ok(
    ConnectMailboxDocument,
    {
      email: uniqueEmail('sender'),
      provider: 'OUTBOX',
      dailyLimit: 100,
      minIntervalSeconds: 0,
      timezone: 'UTC',
    },
    { token },
  );
  const { createCampaign } = await ok(
    CreateCampaignDocument,
    {
      input: {
        name,
        mailboxIds: [connectMailbox.id],
        schedule: { timezone: 'UTC', days: [1, 2, 3, 4, 5, 6, 7], startHour: 0, endHour: 24 },
      },
    },
    { token },
  );
  await ok(
    AddWorkflowStepDocument,
    {
      campaignId: createCampaign.id,
      input: { delayDays: 0, subjectTemplate: step.subject, bodyTemplate: step.body },
    },
    { token },
  );
  return { mailboxId: connectMailbox.id, campaignId: createCampaign.id };
}
