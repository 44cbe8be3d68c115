// Campaigns, mailboxes and prospects written as the owner, for tests that drive enrolment and the scheduler
// below the API (their clock is the test's).
import { randomUUID } from 'node:crypto';
import type pg from 'pg';

export interface ProspectSpec {
  email?: string | null;
  emailStatus?: 'VALID' | 'RISKY' | 'INVALID' | 'UNKNOWN';
  location?: string | null;
}

export async function seedOrganisation(owner: pg.Pool | pg.Client): Promise<string> {
  const id = randomUUID();
  await owner.query(`INSERT INTO iam.organisations (id, name) VALUES ($1::uuid, 'Org ' || $1::text)`, [id]);
  return id;
}

/** `count` positions at one company; by default each with an address of its own. Returns their ids in order. */
export async function seedPositions(
  owner: pg.Pool | pg.Client,
  organisationId: string,
  count: number,
  spec: (i: number) => ProspectSpec = () => ({}),
): Promise<string[]> {
  const company = randomUUID();
  await owner.query(`INSERT INTO crm.companies (organisation_id, id, name) VALUES ($1, $2, 'Acme')`, [
    organisationId,
    company,
  ]);
  const ids = Array.from({ length: count }, () => randomUUID());
  const specs = ids.map((id, i) => ({ id, ...spec(i) }));
  await owner.query(
    `WITH s AS (SELECT * FROM unnest($3::uuid[], $4::text[], $5::text[], $6::text[]) AS s(id, email, status, location)),
     people AS (INSERT INTO crm.people (organisation_id, id, location) SELECT $1, s.id, s.location FROM s)
     INSERT INTO crm.positions (organisation_id, id, company_id, person_id, email, email_status)
     SELECT $1, s.id, $2, s.id, s.email, s.status FROM s`,
    [
      organisationId,
      company,
      ids,
      specs.map((s) => (s.email === undefined ? `p-${s.id}@prospect-${s.id.slice(0, 8)}.fr` : s.email)),
      specs.map((s) => s.emailStatus ?? 'VALID'),
      specs.map((s) => s.location ?? null),
    ],
  );
  return ids;
}

export interface MailboxSpec {
  dailyLimit?: number;
  minIntervalSeconds?: number;
  timezone?: string;
  status?: 'ACTIVE' | 'NEEDS_RECONNECT';
}

export interface CampaignSpec {
  timezone?: string;
  days?: number[];
  startHour?: number;
  endHour?: number;
  dailyLimit?: number | null;
  useProspectTimezone?: boolean;
  status?: string;
  /** One step per entry, its delay in window days. */
  steps?: number[];
  mailboxes?: MailboxSpec[];
  /** A/B weights on the first step. */
  variantWeights?: number[];
}

export interface SeededCampaign {
  organisationId: string;
  campaignId: string;
  stepIds: string[];
  mailboxIds: string[];
  variantIds: string[];
}

export async function seedCampaign(
  owner: pg.Pool | pg.Client,
  organisationId: string,
  spec: CampaignSpec = {},
): Promise<SeededCampaign> {
  const campaignId = randomUUID();
  await owner.query(
    `INSERT INTO outreach.campaigns (organisation_id, id, name, timezone, days, start_hour, end_hour, daily_limit,
       use_prospect_timezone, status)
     VALUES ($1, $2, 'Campaign', $3, $4, $5, $6, $7, $8, $9)`,
    [
      organisationId,
      campaignId,
      spec.timezone ?? 'Europe/Paris',
      spec.days ?? [1, 2, 3, 4, 5],
      spec.startHour ?? 9,
      spec.endHour ?? 18,
      spec.dailyLimit ?? null,
      spec.useProspectTimezone ?? false,
      spec.status ?? 'DRAFT',
    ],
  );
  const stepIds: string[] = [];
  for (const [index, delay] of (spec.steps ?? [0]).entries()) {
    const id = randomUUID();
    stepIds.push(id);
    await owner.query(
      `INSERT INTO outreach.workflow_steps (organisation_id, id, campaign_id, index, delay_days, subject_template, body_template)
       VALUES ($1, $2, $3, $4, $5, 'Hello', 'Hi {{firstName}}')`,
      [organisationId, id, campaignId, index, delay],
    );
  }
  const mailboxIds: string[] = [];
  for (const m of spec.mailboxes ?? [{}]) {
    const id = randomUUID();
    mailboxIds.push(id);
    await owner.query(
      `INSERT INTO outreach.mailboxes (organisation_id, id, email, provider, daily_limit, min_interval_seconds, timezone, status)
       VALUES ($1, $2, $3, 'OUTBOX', $4, $5, $6, $7)`,
      [
        organisationId,
        id,
        `sender-${id.slice(0, 8)}@seller.fr`,
        m.dailyLimit ?? 200,
        m.minIntervalSeconds ?? 0,
        m.timezone ?? spec.timezone ?? 'Europe/Paris',
        m.status ?? 'ACTIVE',
      ],
    );
    await owner.query(
      'INSERT INTO outreach.campaign_mailboxes (organisation_id, campaign_id, mailbox_id) VALUES ($1, $2, $3)',
      [organisationId, campaignId, id],
    );
  }
  const variantIds: string[] = [];
  if (spec.variantWeights) {
    const experiment = randomUUID();
    await owner.query(
      `INSERT INTO outreach.step_experiments (organisation_id, id, step_id, name) VALUES ($1, $2, $3, 'Subject test')`,
      [organisationId, experiment, stepIds[0]],
    );
    for (const [i, weight] of spec.variantWeights.entries()) {
      const id = randomUUID();
      variantIds.push(id);
      await owner.query(
        `INSERT INTO outreach.step_experiment_variants (organisation_id, id, experiment_id, key, weight, subject_template)
         VALUES ($1, $2, $3, $4, $5, 'Variant ' || $4)`,
        [organisationId, id, experiment, String.fromCharCode(65 + i), weight],
      );
    }
  }
  return { organisationId, campaignId, stepIds, mailboxIds, variantIds };
}
