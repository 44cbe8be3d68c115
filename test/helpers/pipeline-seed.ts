// A campaign ready to launch that sends through Gmail mailboxes: an organisation, mailboxes with sealed OAuth
// credentials the Google fake accepts (refresh token `refresh:<address>`), no spacing and 2,000 a day each,
// a window open all week, template steps and `count` prospects, written as the owner. Used by the sending
// pipeline's benchmark and its fault tests.
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { sealGmailCredentials } from '../../lib/google/gmail-auth.ts';
import { createSecretBox } from '../../lib/secrets/secret-box.ts';

export interface GmailCampaign {
  organisationId: string;
  campaignId: string;
  mailboxes: { id: string; email: string }[];
  positionIds: string[];
  /** The prospects' addresses, lower-case. */
  emails: Set<string>;
}

export interface GmailStepSeed {
  delayDays?: number;
  subject?: string | null;
  body: string;
  threadWithPrevious?: boolean;
}

const FIRST_STEP: GmailStepSeed = {
  subject: 'Une idée pour {{company.name}}',
  body: 'Bonjour {{firstName|}},\n\nNous aidons {{company.name}} à livrer plus vite.\n\n{{sender.firstName}}',
};

export async function seedGmailCampaign(
  owner: pg.Pool,
  options: { count: number; mailboxes: number; secretsKey: Buffer; steps?: GmailStepSeed[] },
): Promise<GmailCampaign> {
  const organisationId = randomUUID();
  const campaignId = randomUUID();
  const tag = campaignId.slice(0, 8);
  const box = createSecretBox(options.secretsKey);
  await owner.query(`INSERT INTO iam.organisations (id, name) VALUES ($1::uuid, 'Org ' || $1::text)`, [
    organisationId,
  ]);
  await owner.query(
    `INSERT INTO outreach.campaigns (organisation_id, id, name, timezone, days, start_hour, end_hour)
     VALUES ($1, $2, 'Pipeline', 'UTC', '{1,2,3,4,5,6,7}', 0, 24)`,
    [organisationId, campaignId],
  );
  const mailboxes: GmailCampaign['mailboxes'] = [];
  for (let i = 1; i <= options.mailboxes; i++) {
    const id = randomUUID();
    const email = `sender${i}.${tag}@pipeline.fr`;
    const sealed = sealGmailCredentials(box, organisationId, id, {
      kind: 'OAUTH',
      clientId: 'pipeline-client',
      clientSecret: 'pipeline-secret',
      refreshToken: `refresh:${email}`,
    });
    await owner.query(
      `INSERT INTO outreach.mailboxes (organisation_id, id, email, display_name, provider, auth_kind,
         credentials_encrypted, daily_limit, min_interval_seconds)
       VALUES ($1, $2, $3, 'Claire Dubois', 'GMAIL', 'OAUTH', $4, 2000, 0)`,
      [organisationId, id, email, sealed],
    );
    await owner.query(
      'INSERT INTO outreach.campaign_mailboxes (organisation_id, campaign_id, mailbox_id) VALUES ($1, $2, $3)',
      [organisationId, campaignId, id],
    );
    mailboxes.push({ id, email });
  }
  for (const [index, step] of (options.steps ?? [FIRST_STEP]).entries()) {
    await owner.query(
      `INSERT INTO outreach.workflow_steps (organisation_id, id, campaign_id, index, delay_days, subject_template,
         body_template, thread_with_previous)
       VALUES ($1, gen_random_uuid(), $2, $3, $4, $5, $6, $7)`,
      [
        organisationId,
        campaignId,
        index,
        step.delayDays ?? 0,
        step.subject ?? null,
        step.body,
        step.threadWithPrevious ?? false,
      ],
    );
  }
  const { rows } = await owner.query<{ id: string; email: string }>(
    `WITH n AS (SELECT i, gen_random_uuid() AS company_id, gen_random_uuid() AS person_id, gen_random_uuid() AS position_id
                FROM generate_series(1, $2::int) i),
     c AS (INSERT INTO crm.companies (organisation_id, id, name, activity)
           SELECT $1, company_id, 'Société ' || i, 'Logistique' FROM n RETURNING 1),
     p AS (INSERT INTO crm.people (organisation_id, id, first_name, last_name)
           SELECT $1, person_id, 'Prénom' || i, 'Nom' || i FROM n RETURNING 1)
     INSERT INTO crm.positions (organisation_id, id, company_id, person_id, job_title, email, email_status)
     SELECT $1, position_id, company_id, person_id, 'Directeur', 'contact' || i || '.' || $3 || '@client-pipeline.fr', 'VALID'
     FROM n WHERE (SELECT count(*) FROM c) > 0 AND (SELECT count(*) FROM p) > 0
     RETURNING id, email::text`,
    [organisationId, options.count, tag],
  );
  return {
    organisationId,
    campaignId,
    mailboxes,
    positionIds: rows.map((r) => r.id),
    emails: new Set(rows.map((r) => r.email.toLowerCase())),
  };
}

/** The address inside a To header (`Name <a@b>` or `a@b`), lower-case. */
export function addressOf(header: string | undefined): string {
  const match = /<([^>]+)>/.exec(header ?? '');
  return (match?.[1] ?? header ?? '').trim().toLowerCase();
}
