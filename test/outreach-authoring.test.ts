// Campaign authoring through the gateway: mailboxes (Gmail credentials checked against the local Google
// token endpoint), prompts, campaigns, steps, experiments and previews, with every refusal, the lifecycle
// rules, tenancy and scopes.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { hashPassword } from '../lib/auth/password.ts';
import { loadConfig } from '../lib/config.ts';
import { openGmailCredentials } from '../lib/google/gmail-auth.ts';
import { type RunningSubgraph, startSubgraph } from '../lib/graphql/subgraph.ts';
import { createSecretBox } from '../lib/secrets/secret-box.ts';
import { loadOrCreateSecretsKey } from '../lib/secrets/secrets-key.ts';
import { outreachSubgraph } from '../subgraphs/outreach/index.ts';
import {
  AddStepExperimentDocument,
  AddWorkflowStepDocument,
  ArchiveCampaignDocument,
  AuthoredCampaignDocument,
  type CampaignInput,
  ConnectMailboxDocument,
  type ConnectMailboxMutationVariables,
  CreateApiKeyDocument,
  CreateCampaignDocument,
  CreatePromptDocument,
  LoginDocument,
  MailboxesDocument,
  PreviewMessageDocument,
  PromptsDocument,
  RemoveWorkflowStepDocument,
  type SessionFragment,
  UpdateCampaignDocument,
  UpdateWorkflowStepDocument,
} from './generated/graphql.ts';
import { type GraphQLResponse, gql, newOrganisation, ok, PASSWORD, uniqueEmail } from './helpers/client.ts';
import { ownerClient, withClient } from './helpers/db.ts';
import { seedProspects } from './helpers/prospects.ts';

let a: SessionFragment;
let b: SessionFragment;
let tokenA: string;
let tokenB: string;
let jeanne: string;
let nameless: string;
let positionOfB: string;
let mailboxA: string;
let mailboxB: string;

const GOOD_OAUTH = {
  clientId: 'client-1.apps.googleusercontent.com',
  clientSecret: 'gsecret',
  refreshToken: '1//refresh-abc',
};
const SCHEDULE = { timezone: 'Europe/Paris', days: [1, 2, 3, 4, 5], startHour: 9, endHour: 18 };
const TEMPLATE_STEP = {
  delayDays: 0,
  subjectTemplate: 'Hello {{firstName|there}} at {{company.name}}',
  bodyTemplate: 'Hi {{ firstName | there }},\n\nSee https://acme.example/demo.\n\n{{sender.firstName}}',
};

/** The error's code, after checking the response carries no data for the failed field. */
function refused(res: GraphQLResponse<unknown>, code: string, message?: RegExp): void {
  expect(res.errors?.[0]?.extensions?.code, JSON.stringify(res.errors)).toBe(code);
  if (message) expect(res.errors?.[0]?.message).toMatch(message);
  expect(res.data ?? null).toBeNull();
}

/** A user of `organisationId` with `role`, logged in. */
async function memberToken(organisationId: string, role: 'ADMIN' | 'MEMBER' | 'VIEWER'): Promise<string> {
  const email = uniqueEmail(role.toLowerCase());
  await withClient(ownerClient(), async (c) => {
    const userId = randomUUID();
    await c.query('INSERT INTO iam.users (id, email, password_hash) VALUES ($1, $2, $3)', [
      userId,
      email,
      await hashPassword(PASSWORD),
    ]);
    await c.query(
      `INSERT INTO iam.organisation_users (organisation_id, user_id, role, status) VALUES ($1, $2, $3, 'ACTIVE')`,
      [organisationId, userId, role],
    );
  });
  const { login } = await ok(LoginDocument, { email, password: PASSWORD, organisationId });
  return login.accessToken;
}

async function apiKey(token: string, scopes: ('READ' | 'WRITE')[]): Promise<string> {
  const { createApiKey } = await ok(CreateApiKeyDocument, { name: `key ${scopes}`, scopes }, { token });
  return createApiKey.secret;
}

const connect = (vars: ConnectMailboxMutationVariables, token = tokenA) =>
  gql(ConnectMailboxDocument, vars, { token });

async function newCampaign(overrides: Partial<CampaignInput> = {}, token = tokenA) {
  const { createCampaign } = await ok(
    CreateCampaignDocument,
    {
      input: {
        name: `Campaign ${randomUUID().slice(0, 6)}`,
        mailboxIds: [mailboxA],
        schedule: SCHEDULE,
        ...overrides,
      },
    },
    { token },
  );
  return createCampaign;
}

async function addStep(campaignId: string, input: Record<string, unknown> = TEMPLATE_STEP, token = tokenA) {
  const { addWorkflowStep } = await ok(
    AddWorkflowStepDocument,
    { campaignId, input: input as any },
    { token },
  );
  return addWorkflowStep;
}

async function rowCount(sql: string, params: unknown[]): Promise<number> {
  return withClient(ownerClient(), async (c) => (await c.query(sql, params)).rowCount ?? 0);
}

beforeAll(async () => {
  a = await newOrganisation();
  b = await newOrganisation();
  tokenA = a.accessToken;
  tokenB = b.accessToken;
  [jeanne, nameless] = await seedProspects(a.organisation.id, [
    {
      firstName: 'Jeanne',
      lastName: 'Martin',
      jobTitle: 'Head of Sales',
      company: { name: 'Acme', domain: 'acme.fr', employeeRange: '50-99' },
    },
    { firstName: null, company: { name: 'Nameless SA' } },
  ]);
  [positionOfB] = await seedProspects(b.organisation.id, [{ firstName: 'Bea' }]);
  mailboxA = (
    await ok(
      ConnectMailboxDocument,
      { email: uniqueEmail('paul'), displayName: 'Paul Durand', provider: 'OUTBOX' },
      { token: tokenA },
    )
  ).connectMailbox.id;
  mailboxB = (
    await ok(ConnectMailboxDocument, { email: uniqueEmail('b'), provider: 'OUTBOX' }, { token: tokenB })
  ).connectMailbox.id;
});

describe('connecting mailboxes', () => {
  it('connects an OUTBOX mailbox with the default limits, nothing sent today', async () => {
    const email = uniqueEmail('outbox');
    const { connectMailbox } = await ok(
      ConnectMailboxDocument,
      { email: email.toUpperCase(), provider: 'OUTBOX' },
      { token: tokenA },
    );
    expect(connectMailbox).toMatchObject({
      email,
      displayName: null,
      provider: 'OUTBOX',
      dailyLimit: 200,
      minIntervalSeconds: 90,
      status: 'ACTIVE',
      timezone: 'UTC',
      sentToday: 0,
    });
  });

  it('checks Gmail OAuth credentials with Google, then keeps them only encrypted', async () => {
    const email = uniqueEmail('gmail');
    const { connectMailbox } = await ok(
      ConnectMailboxDocument,
      {
        email,
        displayName: 'Anne Leroy',
        provider: 'GMAIL',
        credentials: GOOD_OAUTH,
        dailyLimit: 120,
        minIntervalSeconds: 300,
        timezone: 'America/New_York',
      },
      { token: tokenA },
    );
    expect(connectMailbox).toMatchObject({
      provider: 'GMAIL',
      dailyLimit: 120,
      minIntervalSeconds: 300,
      timezone: 'America/New_York',
      status: 'ACTIVE',
    });
    const [row] = await withClient(
      ownerClient(),
      async (c) =>
        (
          await c.query('SELECT auth_kind, credentials_encrypted FROM outreach.mailboxes WHERE id = $1', [
            connectMailbox.id,
          ])
        ).rows,
    );
    expect(row.auth_kind).toBe('OAUTH');
    expect(row.credentials_encrypted).not.toContain('refresh-abc');
    expect(row.credentials_encrypted).not.toContain('gsecret');
    // the platform's key (generated under DATA_DIR/keys/) opens them, for this mailbox only
    const box = createSecretBox(
      await loadOrCreateSecretsKey({ configured: undefined, dataDir: inject('dataDir') }),
    );
    expect(
      openGmailCredentials(box, a.organisation.id, connectMailbox.id, row.credentials_encrypted),
    ).toEqual({
      kind: 'OAUTH',
      ...GOOD_OAUTH,
    });
    expect(() => openGmailCredentials(box, a.organisation.id, mailboxA, row.credentials_encrypted)).toThrow();
  });

  it("refuses credentials Google refuses, with Google's reason, and writes nothing", async () => {
    const email = uniqueEmail('revoked');
    const res = await connect({
      email,
      provider: 'GMAIL',
      credentials: { ...GOOD_OAUTH, refreshToken: 'revoked-token' },
    });
    refused(
      res,
      'BAD_USER_INPUT',
      /Google refused the credentials: invalid_grant \(Token has been expired or revoked\.\)/,
    );
    expect(res.errors?.[0]?.extensions?.reason).toMatch(/^invalid_grant/);
    expect(JSON.stringify(res)).not.toContain('revoked-token');
    const wrongClient = await connect({
      email,
      provider: 'GMAIL',
      credentials: { ...GOOD_OAUTH, clientSecret: 'wrong' },
    });
    refused(wrongClient, 'BAD_USER_INPUT', /invalid_client/);
    expect(await rowCount('SELECT 1 FROM outreach.mailboxes WHERE email = $1', [email])).toBe(0);
  });

  it('connects through domain-wide delegation for a delegated domain only', async () => {
    const delegated = `sales.${randomUUID().slice(0, 6)}@${inject('delegatedDomain')}`;
    const { connectMailbox } = await ok(
      ConnectMailboxDocument,
      { email: delegated, provider: 'GMAIL', credentials: { delegated: true } },
      { token: tokenA },
    );
    expect(connectMailbox.status).toBe('ACTIVE');
    expect(
      await rowCount(`SELECT 1 FROM outreach.mailboxes WHERE id = $1 AND auth_kind = 'DELEGATED'`, [
        connectMailbox.id,
      ]),
    ).toBe(1);
    refused(
      await connect({ email: uniqueEmail('other'), provider: 'GMAIL', credentials: { delegated: true } }),
      'BAD_USER_INPUT',
      /unauthorized_client/,
    );
  });

  it('refuses bad settings and credentials with the field named', async () => {
    const email = uniqueEmail('bad');
    const cases: [Partial<ConnectMailboxMutationVariables>, RegExp][] = [
      [{ email: 'not an email' }, /email is not a valid/],
      [{ dailyLimit: 0 }, /dailyLimit must be between 1 and 2000/],
      [{ dailyLimit: 2001 }, /dailyLimit must be between 1 and 2000/],
      [{ minIntervalSeconds: -1 }, /minIntervalSeconds must be between 0 and 86400/],
      [{ minIntervalSeconds: 86_401 }, /minIntervalSeconds must be between 0 and 86400/],
      [{ timezone: 'Mars/Olympus' }, /timezone "Mars\/Olympus" is not an IANA timezone/],
      [{ credentials: { refreshToken: 'x' } }, /OUTBOX mailboxes .* take no credentials/],
      [{ provider: 'GMAIL' }, /GMAIL credentials are/],
      [{ provider: 'GMAIL', credentials: { ...GOOD_OAUTH, extra: 1 } }, /GMAIL credentials are/],
      [{ provider: 'GMAIL', credentials: { delegated: 'yes' } }, /GMAIL credentials are/],
      [{ provider: 'GMAIL', credentials: { ...GOOD_OAUTH, refreshToken: '' } }, /GMAIL credentials are/],
    ];
    for (const [vars, message] of cases) {
      refused(
        await connect({ email, provider: 'OUTBOX', ...vars } as ConnectMailboxMutationVariables),
        'BAD_USER_INPUT',
        message,
      );
    }
    expect(await rowCount('SELECT 1 FROM outreach.mailboxes WHERE email = $1', [email])).toBe(0);
  });

  it('reconnects the same address: same mailbox, new settings, active again', async () => {
    const email = uniqueEmail('again');
    const first = (
      await ok(
        ConnectMailboxDocument,
        { email, provider: 'GMAIL', credentials: GOOD_OAUTH },
        { token: tokenA },
      )
    ).connectMailbox;
    await withClient(ownerClient(), (c) =>
      c.query(`UPDATE outreach.mailboxes SET status = 'NEEDS_RECONNECT' WHERE id = $1`, [first.id]),
    );
    const second = (
      await ok(
        ConnectMailboxDocument,
        {
          email,
          displayName: 'New Name',
          provider: 'GMAIL',
          credentials: { ...GOOD_OAUTH, refreshToken: '1//new' },
          dailyLimit: 50,
        },
        { token: tokenA },
      )
    ).connectMailbox;
    expect(second).toMatchObject({ id: first.id, displayName: 'New Name', dailyLimit: 50, status: 'ACTIVE' });
    const { mailboxes } = await ok(MailboxesDocument, { first: 200 }, { token: tokenA });
    expect(mailboxes.filter((m) => m.email === email)).toHaveLength(1);
  });

  it('is an administrator action: members and API keys are refused', async () => {
    const member = await memberToken(a.organisation.id, 'MEMBER');
    refused(await connect({ email: uniqueEmail('m'), provider: 'OUTBOX' }, member), 'FORBIDDEN');
    refused(
      await connect({ email: uniqueEmail('k'), provider: 'OUTBOX' }, await apiKey(tokenA, ['WRITE'])),
      'FORBIDDEN',
    );
    const admin = await memberToken(a.organisation.id, 'ADMIN');
    expect(
      (await ok(ConnectMailboxDocument, { email: uniqueEmail('adm'), provider: 'OUTBOX' }, { token: admin }))
        .connectMailbox.status,
    ).toBe('ACTIVE');
    // members still read them
    expect((await ok(MailboxesDocument, {}, { token: member })).mailboxes.length).toBeGreaterThan(0);
  });

  it("lists the organisation's own mailboxes, bounded", async () => {
    const ofB = (await ok(MailboxesDocument, {}, { token: tokenB })).mailboxes.map((m) => m.id);
    expect(ofB).toEqual([mailboxB]);
    expect((await ok(MailboxesDocument, { first: 2 }, { token: tokenA })).mailboxes).toHaveLength(2);
    refused(
      await gql(MailboxesDocument, { first: 201 }, { token: tokenA }),
      'BAD_USER_INPUT',
      /first must be between 1 and 200/,
    );
  });

  it("counts the messages sent since the mailbox's local midnight", async () => {
    const zone = 'Pacific/Kiritimati'; // UTC+14: its day starts far from UTC's
    const { connectMailbox: mailbox } = await ok(
      ConnectMailboxDocument,
      { email: uniqueEmail('today'), provider: 'OUTBOX', timezone: zone },
      { token: tokenA },
    );
    const { campaignId, enrollmentId } = await withClient(ownerClient(), async (c) => {
      const campaignId = randomUUID();
      const enrollmentId = randomUUID();
      await c.query(
        `INSERT INTO outreach.campaigns (organisation_id, id, name, timezone, days, start_hour, end_hour)
         VALUES ($1, $2, 'Sent today', 'UTC', '{1}', 9, 18)`,
        [a.organisation.id, campaignId],
      );
      await c.query(
        'INSERT INTO outreach.campaign_enrollments (organisation_id, id, campaign_id, position_id) VALUES ($1, $2, $3, $4)',
        [a.organisation.id, enrollmentId, campaignId, jeanne],
      );
      return { campaignId, enrollmentId };
    });
    const [{ midnight }] = await withClient(
      ownerClient(),
      async (c) =>
        (await c.query(`SELECT date_trunc('day', now() AT TIME ZONE $1) AT TIME ZONE $1 AS midnight`, [zone]))
          .rows,
    );
    // the boundary really is midnight on the mailbox's clock
    expect(
      new Intl.DateTimeFormat('en-GB', {
        timeZone: zone,
        hour: '2-digit',
        minute: '2-digit',
        hourCycle: 'h23',
      }).format(midnight),
    ).toBe('00:00');
    const sentAt = [
      new Date(midnight.getTime() - 1000), // yesterday, local time
      new Date(midnight.getTime() + 1000),
      new Date(Math.min(Date.now(), midnight.getTime() + 2000)),
    ];
    await withClient(ownerClient(), async (c) => {
      for (const [i, at] of sentAt.entries()) {
        await c.query(
          `INSERT INTO outreach.messages (organisation_id, id, enrollment_id, mailbox_id, position_id, status, sent_at)
           VALUES ($1, gen_random_uuid(), $2, $3, $4, $5, $6)`,
          [a.organisation.id, enrollmentId, mailbox.id, jeanne, i === 2 ? 'BOUNCED' : 'SENT', at],
        );
      }
      // drafted, not sent: not counted
      await c.query(
        `INSERT INTO outreach.messages (organisation_id, id, enrollment_id, mailbox_id, position_id, status)
         VALUES ($1, gen_random_uuid(), $2, $3, $4, 'QUEUED')`,
        [a.organisation.id, enrollmentId, mailbox.id, jeanne],
      );
    });
    const { mailboxes } = await ok(MailboxesDocument, { first: 200 }, { token: tokenA });
    expect(mailboxes.find((m) => m.id === mailbox.id)?.sentToday).toBe(2);
    expect(mailboxes.find((m) => m.id === mailboxA)?.sentToday).toBe(0);
    expect(campaignId).toBeTruthy();
  });
});

describe('prompts', () => {
  it('versions a name, lists the latest versions, and keeps every version readable', async () => {
    const name = `Opener ${randomUUID().slice(0, 6)}`;
    const v1 = (
      await ok(
        CreatePromptDocument,
        { name, text: 'Write a short opener.', model: 'gpt-4o-mini' },
        { token: tokenA },
      )
    ).createPrompt;
    const v2 = (await ok(CreatePromptDocument, { name, text: 'Write a shorter opener.' }, { token: tokenA }))
      .createPrompt;
    expect([v1.version, v2.version]).toEqual([1, 2]);
    expect(v2.model).toBeNull();
    const latest = (await ok(PromptsDocument, {}, { token: tokenA })).prompts.filter((p) => p.name === name);
    expect(latest.map((p) => p.version)).toEqual([2]);
    const all = (await ok(PromptsDocument, { name }, { token: tokenA })).prompts;
    expect(all.map((p) => [p.version, p.text])).toEqual([
      [2, 'Write a shorter opener.'],
      [1, 'Write a short opener.'],
    ]);
    // another organisation has its own names and versions
    expect((await ok(PromptsDocument, { name }, { token: tokenB })).prompts).toEqual([]);
    expect(
      (await ok(CreatePromptDocument, { name, text: 'B' }, { token: tokenB })).createPrompt.version,
    ).toBe(1);
  });

  it('numbers versions saved at the same time one after the other', async () => {
    const name = `Race ${randomUUID().slice(0, 6)}`;
    const saved = await Promise.all(
      Array.from({ length: 5 }, (_, i) =>
        ok(CreatePromptDocument, { name, text: `v${i}` }, { token: tokenA }),
      ),
    );
    expect(saved.map((s) => s.createPrompt.version).sort()).toEqual([1, 2, 3, 4, 5]);
  });

  it('refuses an empty name or text and a malformed model', async () => {
    refused(
      await gql(CreatePromptDocument, { name: ' ', text: 'x' }, { token: tokenA }),
      'BAD_USER_INPUT',
      /name/,
    );
    refused(
      await gql(CreatePromptDocument, { name: 'n', text: '  ' }, { token: tokenA }),
      'BAD_USER_INPUT',
      /text/,
    );
    refused(
      await gql(CreatePromptDocument, { name: 'n', text: 'x', model: 'gpt 4; drop' }, { token: tokenA }),
      'BAD_USER_INPUT',
      /model/,
    );
  });
});

describe('authoring a campaign', () => {
  it('creates a campaign, builds its sequence, runs an experiment and previews every email', async () => {
    const campaign = await newCampaign({
      name: '  Q3 outreach  ',
      dailyLimit: 40,
      trackClicks: false,
      requireApproval: true,
      useProspectTimezone: true,
      onReject: 'STOP',
      schedule: { timezone: 'Europe/Paris', days: [5, 1, 3], startHour: 8, endHour: 17 },
    });
    expect(campaign).toMatchObject({
      name: 'Q3 outreach',
      status: 'DRAFT',
      dailyLimit: 40,
      trackOpens: true,
      trackClicks: false,
      requireApproval: true,
      useProspectTimezone: true,
      onReject: 'STOP',
      schedule: { timezone: 'Europe/Paris', days: [1, 3, 5], startHour: 8, endHour: 17 },
      mailboxes: [{ id: mailboxA }],
      steps: [],
    });
    const prompt = (
      await ok(
        CreatePromptDocument,
        { name: `P ${randomUUID()}`, text: 'Follow up politely.' },
        { token: tokenA },
      )
    ).createPrompt;
    const first = await addStep(campaign.id);
    const second = await addStep(campaign.id, {
      delayDays: 3,
      promptId: prompt.id,
      threadWithPrevious: true,
    });
    const third = await addStep(campaign.id, {
      delayDays: 5,
      subjectTemplate: 'Last one',
      bodyTemplate: 'Bye {{firstName|}}',
    });
    expect([first.index, second.index, third.index]).toEqual([0, 1, 2]);
    expect(second.prompt).toEqual({ id: prompt.id, name: prompt.name, version: 1 });

    // a newer version of the prompt leaves the step on the version it was given
    await ok(CreatePromptDocument, { name: prompt.name, text: 'v2' }, { token: tokenA });
    const reread = (await ok(AuthoredCampaignDocument, { id: campaign.id }, { token: tokenA })).campaign!;
    expect(reread.steps[1]!.prompt?.version).toBe(1);

    const preview = (
      await ok(
        PreviewMessageDocument,
        { campaignId: campaign.id, stepId: first.id, positionId: jeanne },
        { token: tokenA },
      )
    ).previewMessage;
    expect(preview).toEqual({
      subject: 'Hello Jeanne at Acme',
      bodyText: 'Hi Jeanne,\n\nSee https://acme.example/demo.\n\nPaul',
      bodyHtml:
        '<p>Hi Jeanne,</p>\n<p>See <a href="https://acme.example/demo">https://acme.example/demo</a>.</p>\n<p>Paul</p>',
      writtenByAi: false,
      note: null,
    });
    // the fallback stands in for a missing first name
    const fallback = (
      await ok(
        PreviewMessageDocument,
        { campaignId: campaign.id, stepId: first.id, positionId: nameless },
        { token: tokenA },
      )
    ).previewMessage;
    expect(fallback.subject).toBe('Hello there at Nameless SA');
    const ai = (
      await ok(
        PreviewMessageDocument,
        { campaignId: campaign.id, stepId: second.id, positionId: jeanne },
        { token: tokenA },
      )
    ).previewMessage;
    expect(ai).toMatchObject({ subject: null, bodyText: null, writtenByAi: true });
    expect(ai.note).toMatch(/Written by AI from prompt .* \(version 1\) when the message is drafted/);

    // edit a step: the template changes, the rest stays
    const edited = (
      await ok(
        UpdateWorkflowStepDocument,
        { id: first.id, input: { subjectTemplate: 'Quick question, {{firstName}}' } },
        { token: tokenA },
      )
    ).updateWorkflowStep;
    expect(edited).toMatchObject({
      subjectTemplate: 'Quick question, {{firstName}}',
      bodyTemplate: TEMPLATE_STEP.bodyTemplate,
      index: 0,
    });
    // a variable with no value and no fallback: the preview names it
    refused(
      await gql(
        PreviewMessageDocument,
        { campaignId: campaign.id, stepId: first.id, positionId: nameless },
        { token: tokenA },
      ),
      'BAD_USER_INPUT',
      /subjectTemplate: this prospect has no value for \{\{firstName\}\}/,
    );
    // a prompt replaces templates, templates replace a prompt
    const toPrompt = (
      await ok(
        UpdateWorkflowStepDocument,
        { id: third.id, input: { promptId: prompt.id } },
        { token: tokenA },
      )
    ).updateWorkflowStep;
    expect(toPrompt).toMatchObject({ subjectTemplate: null, bodyTemplate: null, prompt: { id: prompt.id } });
    const back = (
      await ok(
        UpdateWorkflowStepDocument,
        { id: third.id, input: { subjectTemplate: 'S', bodyTemplate: 'B', delayDays: 7 } },
        { token: tokenA },
      )
    ).updateWorkflowStep;
    expect(back).toMatchObject({ subjectTemplate: 'S', bodyTemplate: 'B', delayDays: 7, prompt: null });

    // remove the middle step: the last one moves up
    const removed = (await ok(RemoveWorkflowStepDocument, { id: second.id }, { token: tokenA }))
      .removeWorkflowStep;
    expect(removed.steps.map((s) => [s.id, s.index])).toEqual([
      [first.id, 0],
      [third.id, 1],
    ]);

    // an A/B test on the first step
    const experiment = (
      await ok(
        AddStepExperimentDocument,
        {
          stepId: first.id,
          name: 'Subject line',
          variants: [
            {
              key: 'A',
              weight: 70,
              subjectTemplate: 'Hi {{firstName}}',
              bodyTemplate: 'A body for {{company.name}}',
            },
            { key: 'B', weight: 30, promptId: prompt.id },
          ],
        },
        { token: tokenA },
      )
    ).addStepExperiment;
    expect(experiment.variants.map((v) => [v.key, v.weight])).toEqual([
      ['A', 70],
      ['B', 30],
    ]);
    const variantA = (
      await ok(
        PreviewMessageDocument,
        { campaignId: campaign.id, stepId: first.id, positionId: jeanne, variantKey: 'A' },
        { token: tokenA },
      )
    ).previewMessage;
    expect(variantA).toMatchObject({
      subject: 'Hi Jeanne',
      bodyText: 'A body for Acme',
      bodyHtml: '<p>A body for Acme</p>',
    });
    refused(
      await gql(
        PreviewMessageDocument,
        { campaignId: campaign.id, stepId: first.id, positionId: jeanne },
        { token: tokenA },
      ),
      'BAD_USER_INPUT',
      /runs an experiment: give variantKey \(A, B\)/,
    );
    refused(
      await gql(
        PreviewMessageDocument,
        { campaignId: campaign.id, stepId: first.id, positionId: jeanne, variantKey: 'Z' },
        { token: tokenA },
      ),
      'NOT_FOUND',
    );
    refused(
      await gql(
        AddStepExperimentDocument,
        {
          stepId: first.id,
          name: 'Again',
          variants: [
            { key: 'A', weight: 1, promptId: prompt.id },
            { key: 'B', weight: 1, promptId: prompt.id },
          ],
        },
        { token: tokenA },
      ),
      'CONFLICT',
      /already has an experiment/,
    );

    // partial update: only what is given changes
    const updated = (
      await ok(
        UpdateCampaignDocument,
        { id: campaign.id, input: { name: 'Renamed', dailyLimit: null, onReject: 'NEXT_STEP' } },
        { token: tokenA },
      )
    ).updateCampaign;
    expect(updated).toMatchObject({
      name: 'Renamed',
      dailyLimit: null,
      onReject: 'NEXT_STEP',
      trackClicks: false,
      requireApproval: true,
    });
    expect(updated.schedule).toEqual({
      timezone: 'Europe/Paris',
      days: [1, 3, 5],
      startHour: 8,
      endHour: 17,
    });
  });

  it('refuses bad campaign settings, naming what is wrong', async () => {
    const cases: [Partial<CampaignInput>, string, RegExp][] = [
      [{ name: '' }, 'BAD_USER_INPUT', /name must be 1-200 characters/],
      [{ name: 'x'.repeat(201) }, 'BAD_USER_INPUT', /name must be 1-200 characters/],
      [
        { schedule: { ...SCHEDULE, timezone: 'Europe/Atlantis' } },
        'BAD_USER_INPUT',
        /schedule.timezone "Europe\/Atlantis" is not an IANA timezone/,
      ],
      [{ schedule: { ...SCHEDULE, timezone: '+02:00' } }, 'BAD_USER_INPUT', /is not an IANA timezone/],
      [{ schedule: { ...SCHEDULE, days: [] } }, 'BAD_USER_INPUT', /schedule.days/],
      [{ schedule: { ...SCHEDULE, days: [0, 1] } }, 'BAD_USER_INPUT', /schedule.days/],
      [{ schedule: { ...SCHEDULE, days: [8] } }, 'BAD_USER_INPUT', /schedule.days/],
      [{ schedule: { ...SCHEDULE, days: [1, 2, 1] } }, 'BAD_USER_INPUT', /lists a day twice/],
      [{ schedule: { ...SCHEDULE, startHour: 24, endHour: 24 } }, 'BAD_USER_INPUT', /startHour must be 0-23/],
      [
        { schedule: { ...SCHEDULE, startHour: 9, endHour: 9 } },
        'BAD_USER_INPUT',
        /endHour must be 1-24 and after startHour/,
      ],
      [{ schedule: { ...SCHEDULE, startHour: 9, endHour: 25 } }, 'BAD_USER_INPUT', /endHour/],
      [{ dailyLimit: 0 }, 'BAD_USER_INPUT', /dailyLimit/],
      [{ mailboxIds: [] }, 'BAD_USER_INPUT', /mailboxIds must name 1-50 mailboxes/],
      [{ mailboxIds: [randomUUID()] }, 'NOT_FOUND', /Mailbox not found/],
      [{ mailboxIds: ['not-a-uuid'] }, 'NOT_FOUND', /Mailbox not found/],
      [{ mailboxIds: [mailboxA] }, 'NOT_FOUND', /Mailbox not found/],
    ];
    const name = `Refused ${randomUUID()}`;
    // refusals count against createCampaign's rate limit: an organisation of their own keeps the others' budget
    const c = await newOrganisation();
    const mailbox = (
      await ok(
        ConnectMailboxDocument,
        { email: uniqueEmail('c'), provider: 'OUTBOX' },
        { token: c.accessToken },
      )
    ).connectMailbox.id;
    for (const [overrides, code, message] of cases) {
      const input = { name, mailboxIds: [mailbox], schedule: SCHEDULE, ...overrides };
      refused(await gql(CreateCampaignDocument, { input }, { token: c.accessToken }), code, message);
    }
    expect(await rowCount('SELECT 1 FROM outreach.campaigns WHERE name = $1', [name])).toBe(0);
  });

  it('refuses bad steps and experiments, naming the field and the variable', async () => {
    const campaign = await newCampaign();
    const prompt = (
      await ok(CreatePromptDocument, { name: `P ${randomUUID()}`, text: 't' }, { token: tokenA })
    ).createPrompt;
    const stepCases: [Record<string, unknown>, string, RegExp][] = [
      [{ delayDays: 0 }, 'BAD_USER_INPUT', /needs a subjectTemplate and a bodyTemplate, or a promptId/],
      [
        { delayDays: 0, subjectTemplate: 'S' },
        'BAD_USER_INPUT',
        /needs a subjectTemplate and a bodyTemplate/,
      ],
      [{ ...TEMPLATE_STEP, promptId: prompt.id }, 'BAD_USER_INPUT', /not both/],
      [{ ...TEMPLATE_STEP, delayDays: 366 }, 'BAD_USER_INPUT', /delayDays must be between 0 and 365/],
      [
        { ...TEMPLATE_STEP, bodyTemplate: 'Hi {{company.ceo}} and {{nope}}' },
        'BAD_USER_INPUT',
        /bodyTemplate: unknown variable \{\{company.ceo\}\}/,
      ],
      [
        { ...TEMPLATE_STEP, subjectTemplate: 'Hi {{firstName' },
        'BAD_USER_INPUT',
        /subjectTemplate: .*never closed/,
      ],
      [
        { ...TEMPLATE_STEP, subjectTemplate: 'two\nlines' },
        'BAD_USER_INPUT',
        /subjectTemplate must be one line/,
      ],
      [{ delayDays: 0, promptId: randomUUID() }, 'NOT_FOUND', /Prompt not found/],
    ];
    for (const [input, code, message] of stepCases) {
      refused(
        await gql(
          AddWorkflowStepDocument,
          { campaignId: campaign.id, input: input as any },
          { token: tokenA },
        ),
        code,
        message,
      );
    }
    const unknown = await gql(
      AddWorkflowStepDocument,
      { campaignId: campaign.id, input: { ...TEMPLATE_STEP, bodyTemplate: 'Hi {{company.ceo}}' } },
      { token: tokenA },
    );
    expect(unknown.errors?.[0]?.extensions).toMatchObject({ field: 'bodyTemplate', variable: 'company.ceo' });
    refused(
      await gql(
        AddWorkflowStepDocument,
        { campaignId: randomUUID(), input: TEMPLATE_STEP },
        { token: tokenA },
      ),
      'NOT_FOUND',
    );

    const step = await addStep(campaign.id);
    refused(
      await gql(
        UpdateWorkflowStepDocument,
        { id: step.id, input: { bodyTemplate: '{{sender.password}}' } },
        { token: tokenA },
      ),
      'BAD_USER_INPUT',
      /unknown variable \{\{sender.password\}\}/,
    );
    refused(
      await gql(UpdateWorkflowStepDocument, { id: randomUUID(), input: { delayDays: 1 } }, { token: tokenA }),
      'NOT_FOUND',
    );

    const variant = (key: string, weight = 1) => ({ key, weight, subjectTemplate: 'S', bodyTemplate: 'B' });
    const experimentCases: [unknown[], RegExp][] = [
      [[variant('A')], /2-10 variants/],
      [Array.from({ length: 11 }, (_, i) => variant(`V${i}`)), /2-10 variants/],
      [[variant('A'), variant('a')], /variants\[1\].key "a" is used twice/],
      [[variant('A'), variant('B', 0)], /variants\[1\].weight must be between 1 and 10000/],
      [[variant('A'), variant('')], /variants\[1\].key must be 1-40 characters/],
      [
        [variant('A'), { key: 'B', weight: 1, subjectTemplate: 'S', bodyTemplate: 'B', promptId: prompt.id }],
        /variants\[1\]: write from templates or by a prompt, not both/,
      ],
      [
        [variant('A'), { key: 'B', weight: 1, subjectTemplate: '{{jobtitle}}', bodyTemplate: 'B' }],
        /variants\[1\].subjectTemplate: unknown variable \{\{jobtitle\}\}/,
      ],
      [[variant('A'), { key: 'B', weight: 1 }], /variants\[1\] needs a subjectTemplate and a bodyTemplate/],
    ];
    for (const [variants, message] of experimentCases) {
      refused(
        await gql(
          AddStepExperimentDocument,
          { stepId: step.id, name: 'E', variants: variants as any },
          { token: tokenA },
        ),
        'BAD_USER_INPUT',
        message,
      );
    }
    // nothing of a refused experiment was written
    expect(await rowCount('SELECT 1 FROM outreach.step_experiments WHERE step_id = $1', [step.id])).toBe(0);
  });

  it('keeps at most 20 steps, numbered without gaps even when added at the same time', async () => {
    const campaign = await newCampaign();
    await Promise.all(Array.from({ length: 20 }, () => addStep(campaign.id)));
    const { campaign: read } = await ok(AuthoredCampaignDocument, { id: campaign.id }, { token: tokenA });
    expect(read!.steps.map((s) => s.index)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    refused(
      await gql(
        AddWorkflowStepDocument,
        { campaignId: campaign.id, input: TEMPLATE_STEP },
        { token: tokenA },
      ),
      'BAD_USER_INPUT',
      /at most 20 steps/,
    );
  });

  it('re-numbers the later steps when the first is removed, edited steps included', async () => {
    const campaign = await newCampaign();
    const steps = [];
    for (let i = 0; i < 4; i++) steps.push(await addStep(campaign.id));
    // edits rewrite rows: steps 2 and 3 now come before steps 0 and 1 in the table's storage order
    for (const step of [steps[1]!, steps[0]!]) {
      await ok(UpdateWorkflowStepDocument, { id: step.id, input: { delayDays: 2 } }, { token: tokenA });
    }
    const { removeWorkflowStep } = await ok(
      RemoveWorkflowStepDocument,
      { id: steps[0]!.id },
      { token: tokenA },
    );
    expect(removeWorkflowStep.steps.map((s) => [s.id, s.index])).toEqual(
      steps.slice(1).map((s, i) => [s.id, i]),
    );
  });

  it('writes nothing of a change that fails part-way', async () => {
    const campaign = await newCampaign({ name: 'Before' });
    refused(
      await gql(
        UpdateCampaignDocument,
        { id: campaign.id, input: { name: 'After', mailboxIds: [randomUUID()] } },
        { token: tokenA },
      ),
      'NOT_FOUND',
    );
    const { campaign: read } = await ok(AuthoredCampaignDocument, { id: campaign.id }, { token: tokenA });
    expect(read).toMatchObject({ name: 'Before', mailboxes: [{ id: mailboxA }] });
  });
});

describe('what a campaign may still change once it runs or is archived', () => {
  it('keeps what a running campaign already sent: used steps are neither removed nor re-numbered', async () => {
    const campaign = await newCampaign();
    const [s0, s1, s2] = [await addStep(campaign.id), await addStep(campaign.id), await addStep(campaign.id)];
    await withClient(ownerClient(), async (c) => {
      const enrollmentId = randomUUID();
      await c.query(`UPDATE outreach.campaigns SET status = 'RUNNING' WHERE id = $1`, [campaign.id]);
      await c.query(
        'INSERT INTO outreach.campaign_enrollments (organisation_id, id, campaign_id, position_id) VALUES ($1, $2, $3, $4)',
        [a.organisation.id, enrollmentId, campaign.id, jeanne],
      );
      await c.query(
        `INSERT INTO outreach.messages (organisation_id, id, enrollment_id, step_id, position_id, status, sent_at)
         VALUES ($1, gen_random_uuid(), $2, $3, $4, 'SENT', now())`,
        [a.organisation.id, enrollmentId, s1.id, jeanne],
      );
    });
    refused(
      await gql(RemoveWorkflowStepDocument, { id: s1.id }, { token: tokenA }),
      'CONFLICT',
      /Step 1 already has messages/,
    );
    refused(
      await gql(RemoveWorkflowStepDocument, { id: s0.id }, { token: tokenA }),
      'CONFLICT',
      /Removing step 0 would re-number step 1, which already has messages/,
    );
    // what is not yet drafted may change
    const edited = (
      await ok(
        UpdateWorkflowStepDocument,
        { id: s1.id, input: { bodyTemplate: 'New body {{firstName|}}' } },
        { token: tokenA },
      )
    ).updateWorkflowStep;
    expect(edited.bodyTemplate).toBe('New body {{firstName|}}');
    const after = (await ok(RemoveWorkflowStepDocument, { id: s2.id }, { token: tokenA })).removeWorkflowStep;
    expect(after.steps.map((s) => s.id)).toEqual([s0.id, s1.id]);
    const added = await addStep(campaign.id);
    expect(added.index).toBe(2);
    expect(
      (
        await ok(
          UpdateCampaignDocument,
          { id: campaign.id, input: { schedule: { ...SCHEDULE, endHour: 20 } } },
          { token: tokenA },
        )
      ).updateCampaign.status,
    ).toBe('RUNNING');
  });

  it('makes an archived campaign read-only and cancels the work it had scheduled', async () => {
    const campaign = await newCampaign();
    const step = await addStep(campaign.id);
    const taskId = randomUUID();
    await withClient(ownerClient(), async (c) => {
      const enrollmentId = randomUUID();
      await c.query(`UPDATE outreach.campaigns SET status = 'RUNNING' WHERE id = $1`, [campaign.id]);
      await c.query(
        'INSERT INTO outreach.campaign_enrollments (organisation_id, id, campaign_id, position_id) VALUES ($1, $2, $3, $4)',
        [a.organisation.id, enrollmentId, campaign.id, jeanne],
      );
      await c.query(
        `INSERT INTO outreach.tasks (organisation_id, id, enrollment_id, step_id, kind, scheduled_for)
         VALUES ($1, $2, $3, $4, 'DRAFT', now() + interval '1 day')`,
        [a.organisation.id, taskId, enrollmentId, step.id],
      );
    });
    const archived = (await ok(ArchiveCampaignDocument, { id: campaign.id }, { token: tokenA }))
      .archiveCampaign;
    expect(archived.status).toBe('ARCHIVED');
    expect(archived.archivedAt).not.toBeNull();
    expect(
      await rowCount(`SELECT 1 FROM outreach.tasks WHERE id = $1 AND status = 'CANCELLED'`, [taskId]),
    ).toBe(1);
    const readOnly = /is archived: it is read-only/;
    refused(
      await gql(UpdateCampaignDocument, { id: campaign.id, input: { name: 'x' } }, { token: tokenA }),
      'CONFLICT',
      readOnly,
    );
    refused(
      await gql(
        AddWorkflowStepDocument,
        { campaignId: campaign.id, input: TEMPLATE_STEP },
        { token: tokenA },
      ),
      'CONFLICT',
      readOnly,
    );
    refused(
      await gql(UpdateWorkflowStepDocument, { id: step.id, input: { delayDays: 2 } }, { token: tokenA }),
      'CONFLICT',
      readOnly,
    );
    refused(await gql(RemoveWorkflowStepDocument, { id: step.id }, { token: tokenA }), 'CONFLICT', readOnly);
    refused(
      await gql(
        AddStepExperimentDocument,
        {
          stepId: step.id,
          name: 'E',
          variants: [
            { key: 'A', weight: 1, subjectTemplate: 'S', bodyTemplate: 'B' },
            { key: 'B', weight: 1, subjectTemplate: 'S', bodyTemplate: 'B' },
          ],
        },
        { token: tokenA },
      ),
      'CONFLICT',
      readOnly,
    );
    // archiving again changes nothing; it stays readable and previewable
    expect(
      (await ok(ArchiveCampaignDocument, { id: campaign.id }, { token: tokenA })).archiveCampaign.archivedAt,
    ).toBe(archived.archivedAt);
    expect(
      (await ok(AuthoredCampaignDocument, { id: campaign.id }, { token: tokenA })).campaign?.steps,
    ).toHaveLength(1);
    expect(
      (
        await ok(
          PreviewMessageDocument,
          { campaignId: campaign.id, stepId: step.id, positionId: jeanne },
          { token: tokenA },
        )
      ).previewMessage.subject,
    ).toBe('Hello Jeanne at Acme');
  });
});

describe('tenancy and scopes', () => {
  it("treats another organisation's campaigns, steps, prompts, mailboxes and positions as missing", async () => {
    const campaign = await newCampaign();
    const step = await addStep(campaign.id);
    const prompt = (
      await ok(CreatePromptDocument, { name: `P ${randomUUID()}`, text: 't' }, { token: tokenA })
    ).createPrompt;
    const campaignOfB = await newCampaign({ mailboxIds: [mailboxB] }, tokenB);

    expect((await ok(AuthoredCampaignDocument, { id: campaign.id }, { token: tokenB })).campaign).toBeNull();
    refused(
      await gql(UpdateCampaignDocument, { id: campaign.id, input: { name: 'x' } }, { token: tokenB }),
      'NOT_FOUND',
    );
    refused(await gql(ArchiveCampaignDocument, { id: campaign.id }, { token: tokenB }), 'NOT_FOUND');
    refused(
      await gql(
        AddWorkflowStepDocument,
        { campaignId: campaign.id, input: TEMPLATE_STEP },
        { token: tokenB },
      ),
      'NOT_FOUND',
    );
    refused(
      await gql(UpdateWorkflowStepDocument, { id: step.id, input: { delayDays: 1 } }, { token: tokenB }),
      'NOT_FOUND',
    );
    refused(await gql(RemoveWorkflowStepDocument, { id: step.id }, { token: tokenB }), 'NOT_FOUND');
    refused(
      await gql(
        AddStepExperimentDocument,
        {
          stepId: step.id,
          name: 'E',
          variants: [
            { key: 'A', weight: 1, promptId: prompt.id },
            { key: 'B', weight: 1, promptId: prompt.id },
          ],
        },
        { token: tokenB },
      ),
      'NOT_FOUND',
    );
    refused(
      await gql(
        AddWorkflowStepDocument,
        { campaignId: campaignOfB.id, input: { delayDays: 0, promptId: prompt.id } },
        { token: tokenB },
      ),
      'NOT_FOUND',
      /Prompt not found/,
    );
    refused(
      await gql(
        CreateCampaignDocument,
        { input: { name: 'B', mailboxIds: [mailboxA], schedule: SCHEDULE } },
        { token: tokenB },
      ),
      'NOT_FOUND',
      /Mailbox not found/,
    );
    refused(
      await gql(
        PreviewMessageDocument,
        { campaignId: campaign.id, stepId: step.id, positionId: jeanne },
        { token: tokenB },
      ),
      'NOT_FOUND',
    );
    refused(
      await gql(
        PreviewMessageDocument,
        { campaignId: campaign.id, stepId: step.id, positionId: positionOfB },
        { token: tokenA },
      ),
      'NOT_FOUND',
      /Position not found/,
    );
    // a step of one campaign is not found through another
    refused(
      await gql(
        PreviewMessageDocument,
        { campaignId: (await newCampaign()).id, stepId: step.id, positionId: jeanne },
        { token: tokenA },
      ),
      'NOT_FOUND',
      /Workflow step not found/,
    );
    expect(
      await rowCount('SELECT 1 FROM outreach.workflow_steps WHERE campaign_id = $1', [campaign.id]),
    ).toBe(1);
  });

  it('lets viewers and READ keys read and preview but not write; WRITE keys author', async () => {
    const campaign = await newCampaign();
    const step = await addStep(campaign.id);
    const viewer = await memberToken(a.organisation.id, 'VIEWER');
    const readKey = await apiKey(tokenA, ['READ']);
    const writeKey = await apiKey(tokenA, ['WRITE']);
    const input = { name: 'Scoped', mailboxIds: [mailboxA], schedule: SCHEDULE };
    for (const token of [viewer, readKey]) {
      refused(await gql(CreateCampaignDocument, { input }, { token }), 'FORBIDDEN');
      refused(
        await gql(UpdateCampaignDocument, { id: campaign.id, input: { name: 'x' } }, { token }),
        'FORBIDDEN',
      );
      refused(await gql(ArchiveCampaignDocument, { id: campaign.id }, { token }), 'FORBIDDEN');
      refused(
        await gql(AddWorkflowStepDocument, { campaignId: campaign.id, input: TEMPLATE_STEP }, { token }),
        'FORBIDDEN',
      );
      refused(
        await gql(UpdateWorkflowStepDocument, { id: step.id, input: { delayDays: 1 } }, { token }),
        'FORBIDDEN',
      );
      refused(await gql(RemoveWorkflowStepDocument, { id: step.id }, { token }), 'FORBIDDEN');
      refused(await gql(CreatePromptDocument, { name: 'n', text: 't' }, { token }), 'FORBIDDEN');
      expect(
        (
          await ok(
            PreviewMessageDocument,
            { campaignId: campaign.id, stepId: step.id, positionId: jeanne },
            { token },
          )
        ).previewMessage.subject,
      ).toBe('Hello Jeanne at Acme');
      expect((await ok(MailboxesDocument, {}, { token })).mailboxes.length).toBeGreaterThan(0);
    }
    expect((await ok(CreateCampaignDocument, { input }, { token: writeKey })).createCampaign.name).toBe(
      'Scoped',
    );
    expect(
      await rowCount('SELECT 1 FROM outreach.workflow_steps WHERE campaign_id = $1', [campaign.id]),
    ).toBe(1);
  });
});

describe('without OPENAI_API_KEY', () => {
  let outreach: RunningSubgraph;
  beforeAll(async () => {
    // the outreach service as a server with no OpenAI key runs it (the test stack has one)
    const config = loadConfig({
      NODE_ENV: 'test',
      LOG_LEVEL: 'fatal',
      DATABASE_URL: inject('databaseUrl'),
      DATA_DIR: inject('dataDir'),
    });
    outreach = await startSubgraph(outreachSubgraph, config, { port: 0 });
  });
  afterAll(async () => {
    await outreach?.stop();
  });

  it('refuses steps and variants written by a prompt, and still takes templates', async () => {
    const campaign = await newCampaign();
    const prompt = (
      await ok(CreatePromptDocument, { name: `P ${randomUUID()}`, text: 't' }, { token: tokenA })
    ).createPrompt;
    const url = outreach.url;
    const aiOff =
      /AI drafting is off on this server \(no OPENAI_API_KEY\): use subjectTemplate and bodyTemplate/;
    refused(
      await gql(
        AddWorkflowStepDocument,
        { campaignId: campaign.id, input: { delayDays: 0, promptId: prompt.id } },
        { token: tokenA, url },
      ),
      'BAD_USER_INPUT',
      aiOff,
    );
    const step = (
      await ok(
        AddWorkflowStepDocument,
        { campaignId: campaign.id, input: TEMPLATE_STEP },
        { token: tokenA, url },
      )
    ).addWorkflowStep;
    expect(step.index).toBe(0);
    refused(
      await gql(
        UpdateWorkflowStepDocument,
        { id: step.id, input: { promptId: prompt.id } },
        { token: tokenA, url },
      ),
      'BAD_USER_INPUT',
      aiOff,
    );
    refused(
      await gql(
        AddStepExperimentDocument,
        {
          stepId: step.id,
          name: 'E',
          variants: [
            { key: 'A', weight: 1, subjectTemplate: 'S', bodyTemplate: 'B' },
            { key: 'B', weight: 1, promptId: prompt.id },
          ],
        },
        { token: tokenA, url },
      ),
      'BAD_USER_INPUT',
      aiOff,
    );
  });
});
