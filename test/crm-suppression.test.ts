// The suppression list: emails and whole domains, case-insensitive, per organisation.
import { describe, expect, it } from 'vitest';
import {
  AddSuppressionDocument,
  FindPositionsDocument,
  IngestPharowDocument,
  SuppressionsDocument,
} from './generated/graphql.ts';
import { errorCode, gql, newOrganisation, ok } from './helpers/client.ts';
import { addMember } from './helpers/mail.ts';
import { pharowItem } from './helpers/pharow.ts';

describe('suppressions', () => {
  it('suppresses an email case-insensitively and a whole domain, for its organisation only', async () => {
    const org = await newOrganisation();
    const other = await newOrganisation();
    const items = [
      pharowItem({ position: { positionEmail: 'claire.petit@alpha-conseil.fr' } }),
      pharowItem({ position: { positionEmail: 'remi.blanc@beta-industrie.fr' } }),
      pharowItem({ position: { positionEmail: 'ines.roux@beta-industrie.fr' } }),
      pharowItem({ position: { positionEmail: 'hugo.leroy@gamma.fr' } }),
    ];
    await ok(IngestPharowDocument, { input: { data: items } }, { token: org.accessToken });
    await ok(IngestPharowDocument, { input: { data: items } }, { token: other.accessToken });

    const email = await ok(
      AddSuppressionDocument,
      { value: ' Claire.PETIT@Alpha-Conseil.fr ', reason: 'UNSUBSCRIBED' },
      { token: org.accessToken },
    );
    expect(email.addSuppression).toMatchObject({
      value: 'claire.petit@alpha-conseil.fr',
      reason: 'UNSUBSCRIBED',
    });
    const domain = await ok(
      AddSuppressionDocument,
      { value: '@Beta-Industrie.FR', reason: 'MANUAL' },
      { token: org.accessToken },
    );
    expect(domain.addSuppression.value).toBe('beta-industrie.fr');
    const twice = await ok(
      AddSuppressionDocument,
      { value: 'claire.petit@alpha-conseil.fr', reason: 'BOUNCED' },
      { token: org.accessToken },
    );
    expect(twice.addSuppression.id).toBe(email.addSuppression.id);

    const suppressedOf = async (token: string) => {
      const { positions } = await ok(FindPositionsDocument, {}, { token });
      return Object.fromEntries(positions.edges.map((e) => [e.node.email, e.node.suppressed]));
    };
    expect(await suppressedOf(org.accessToken)).toEqual({
      'claire.petit@alpha-conseil.fr': true,
      'remi.blanc@beta-industrie.fr': true,
      'ines.roux@beta-industrie.fr': true,
      'hugo.leroy@gamma.fr': false,
    });
    expect(Object.values(await suppressedOf(other.accessToken)).every((s) => s === false)).toBe(true);

    const { suppressions } = await ok(SuppressionsDocument, {}, { token: org.accessToken });
    expect(suppressions.map((s) => s.value).sort()).toEqual([
      'beta-industrie.fr',
      'claire.petit@alpha-conseil.fr',
    ]);
    const page = await ok(SuppressionsDocument, { first: 1 }, { token: org.accessToken });
    const next = await ok(
      SuppressionsDocument,
      { first: 1, after: page.suppressions[0].cursor },
      { token: org.accessToken },
    );
    expect([...page.suppressions, ...next.suppressions].map((s) => s.value).sort()).toEqual([
      'beta-industrie.fr',
      'claire.petit@alpha-conseil.fr',
    ]);
    expect((await ok(SuppressionsDocument, {}, { token: other.accessToken })).suppressions).toEqual([]);
  });

  it('rejects values that are neither an email nor a domain, and viewers cannot add', async () => {
    const org = await newOrganisation();
    for (const value of ['', 'not a domain', 'a@b', 'http://x.fr/path']) {
      const res = await gql(AddSuppressionDocument, { value, reason: 'MANUAL' }, { token: org.accessToken });
      expect(errorCode(res), value).toBe('BAD_USER_INPUT');
    }
    const viewer = { acceptInvitation: await addMember(org.accessToken, 'VIEWER') };
    const denied = await gql(
      AddSuppressionDocument,
      { value: 'x@y.fr', reason: 'MANUAL' },
      { token: viewer.acceptInvitation.accessToken },
    );
    expect(errorCode(denied)).toBe('FORBIDDEN');
    expect(
      (await ok(SuppressionsDocument, {}, { token: viewer.acceptInvitation.accessToken })).suppressions,
    ).toEqual([]);
  });
});
