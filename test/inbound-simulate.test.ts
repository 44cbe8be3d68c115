// simulateInbound through the gateway: an administrator hands an OUTBOX mailbox a raw email and the sequence
// reacts as it would to Gmail mail; members may not, Gmail mailboxes and other organisations' are refused.
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { hashPassword } from '../lib/auth/password.ts';
import { LoginDocument } from './generated/graphql.ts';
import { type GraphQLResponse, gql, newOrganisation, ok, PASSWORD, uniqueEmail } from './helpers/client.ts';
import { ownerClient, withClient } from './helpers/db.ts';
import { type CampaignSeed, seedDraftCampaign } from './helpers/drafts.ts';
import { bounceMail, replyMail, type SentSeed, seedSent } from './helpers/inbound-mail.ts';

const SIMULATE = `mutation Simulate($mailboxId: ID!, $raw: String!) {
  simulateInbound(mailboxId: $mailboxId, raw: $raw) {
    kind
    effect
    message { id status }
    enrollment { id status }
  }
}`;
const ENROLLMENTS = `query Enrollments($id: ID!) { campaign(id: $id) { enrollments { id status } } }`;

interface SimulateResult {
  simulateInbound: {
    kind: string;
    effect: string;
    message: { id: string; status: string } | null;
    enrollment: { id: string; status: string } | null;
  };
}

async function memberToken(organisationId: string, role: 'ADMIN' | 'MEMBER'): Promise<string> {
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

/** A running campaign of the organisation with its first email sent to Léa from an OUTBOX mailbox. */
async function sentCampaign(
  organisationId: string,
): Promise<{ seed: CampaignSeed; sent: SentSeed; mailbox: string }> {
  return withClient(ownerClient(), async (c) => {
    const seed = await seedDraftCampaign(c, {
      organisationId,
      steps: [{ subject: 'Vos fournils', body: 'Bonjour' }, { body: 'Je reviens vers vous' }],
      people: [{ firstName: 'Léa' }, { firstName: 'Paul' }],
    });
    const sent = await seedSent(c, seed, 0);
    const { rows } = await c.query('SELECT email::text FROM outreach.mailboxes WHERE id = $1', [
      seed.mailboxId,
    ]);
    return { seed, sent, mailbox: rows[0].email };
  });
}

const simulate = (mailboxId: string, raw: string, token: string) =>
  gql<SimulateResult, { mailboxId: string; raw: string }>(SIMULATE, { mailboxId, raw }, { token });

function refused(res: GraphQLResponse<unknown>, code: string): void {
  expect(res.errors?.[0]?.extensions?.code, JSON.stringify(res.errors)).toBe(code);
  expect(res.data ?? null).toBeNull();
}

describe('simulateInbound', () => {
  it('an administrator’s simulated reply stops the enrolment, visible in the campaign; once only', async () => {
    const owner = await newOrganisation();
    const { seed, sent, mailbox } = await sentCampaign(owner.organisation.id);
    const admin = await memberToken(owner.organisation.id, 'ADMIN');
    const raw = replyMail(mailbox, sent.email, sent.rfcMessageId);

    const { simulateInbound } = await ok<SimulateResult, { mailboxId: string; raw: string }>(
      SIMULATE,
      { mailboxId: seed.mailboxId, raw },
      { token: admin },
    );
    expect(simulateInbound).toEqual({
      kind: 'REPLY',
      effect: 'HANDLED',
      message: { id: sent.messageId, status: 'SENT' },
      enrollment: { id: sent.enrollmentId, status: 'REPLIED' },
    });
    const { campaign } = await ok<
      { campaign: { enrollments: { id: string; status: string }[] } },
      { id: string }
    >(ENROLLMENTS, { id: seed.campaignId }, { token: owner.accessToken });
    expect(new Map(campaign.enrollments.map((e) => [e.id, e.status]))).toEqual(
      new Map([
        [sent.enrollmentId, 'REPLIED'],
        [seed.enrollments[1]!.id, 'ACTIVE'],
      ]),
    );
    expect((await simulate(seed.mailboxId, raw, owner.accessToken)).data?.simulateInbound.effect).toBe(
      'DUPLICATE',
    );
  });

  it('a bounce report: the email and the enrolment BOUNCED', async () => {
    const owner = await newOrganisation();
    const { seed, sent, mailbox } = await sentCampaign(owner.organisation.id);
    const res = await simulate(
      seed.mailboxId,
      bounceMail(mailbox, sent.email, sent.rfcMessageId, '5.1.1'),
      owner.accessToken,
    );
    expect(res.data?.simulateInbound).toEqual({
      kind: 'BOUNCE',
      effect: 'HANDLED',
      message: { id: sent.messageId, status: 'BOUNCED' },
      enrollment: { id: sent.enrollmentId, status: 'BOUNCED' },
    });
  });

  it('is refused to members, for Gmail mailboxes, for other organisations’ mailboxes and for oversized email', async () => {
    const owner = await newOrganisation();
    const { seed, sent, mailbox } = await sentCampaign(owner.organisation.id);
    const raw = replyMail(mailbox, sent.email, sent.rfcMessageId);
    const member = await memberToken(owner.organisation.id, 'MEMBER');
    refused(await simulate(seed.mailboxId, raw, member), 'FORBIDDEN');

    const gmailMailbox = randomUUID();
    await withClient(ownerClient(), (c) =>
      c.query(
        `INSERT INTO outreach.mailboxes (organisation_id, id, email, provider, auth_kind) VALUES ($1, $2, $3, 'GMAIL', 'OAUTH')`,
        [owner.organisation.id, gmailMailbox, uniqueEmail('gmail')],
      ),
    );
    refused(await simulate(gmailMailbox, raw, owner.accessToken), 'BAD_USER_INPUT');

    const other = await newOrganisation();
    refused(await simulate(seed.mailboxId, raw, other.accessToken), 'NOT_FOUND');
    refused(await simulate('not-a-uuid', raw, other.accessToken), 'NOT_FOUND');
    refused(
      await simulate(seed.mailboxId, `${raw}${'x'.repeat(1_000_001)}`, owner.accessToken),
      'BAD_USER_INPUT',
    );

    // none of it touched the enrolment
    const { rows } = await withClient(ownerClient(), (c) =>
      c.query('SELECT status FROM outreach.campaign_enrollments WHERE id = $1', [sent.enrollmentId]),
    );
    expect(rows[0].status).toBe('ACTIVE');
  });
});
