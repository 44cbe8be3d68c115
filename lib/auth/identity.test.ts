// Who meets which access requirement: the table behind every @Authorized field and entity reference.
import { describe, expect, it } from 'vitest';
import { AppError } from '../errors.ts';
import {
  type ApiKeyScope,
  checkRequirement,
  type Identity,
  type Requirement,
  type Role,
} from './identity.ts';

const user = (role: Role): Identity => ({
  kind: 'user',
  userId: 'u',
  email: 'u@example.fr',
  organisationId: 'o',
  role,
});
const key = (...scopes: ApiKeyScope[]): Identity => ({
  kind: 'apiKey',
  apiKeyId: 'k',
  organisationId: 'o',
  scopes,
  createdBy: null,
});

function outcome(identity: Identity | undefined, requirement: Requirement): string {
  try {
    checkRequirement(identity, requirement);
    return 'ok';
  } catch (error) {
    return error instanceof AppError ? error.code : 'crash';
  }
}

const REQUIREMENTS: Requirement[] = ['public', 'user', 'read', 'write', 'ingest', 'role:ADMIN', 'role:OWNER'];

describe('checkRequirement', () => {
  it.each([
    [
      'anonymous',
      undefined,
      [
        'ok',
        'UNAUTHENTICATED',
        'UNAUTHENTICATED',
        'UNAUTHENTICATED',
        'UNAUTHENTICATED',
        'UNAUTHENTICATED',
        'UNAUTHENTICATED',
      ],
    ],
    [
      'INGEST key',
      key('INGEST'),
      ['ok', 'FORBIDDEN', 'FORBIDDEN', 'FORBIDDEN', 'ok', 'FORBIDDEN', 'FORBIDDEN'],
    ],
    ['READ key', key('READ'), ['ok', 'FORBIDDEN', 'ok', 'FORBIDDEN', 'FORBIDDEN', 'FORBIDDEN', 'FORBIDDEN']],
    ['WRITE key', key('WRITE'), ['ok', 'FORBIDDEN', 'ok', 'ok', 'ok', 'FORBIDDEN', 'FORBIDDEN']],
    ['VIEWER', user('VIEWER'), ['ok', 'ok', 'ok', 'FORBIDDEN', 'FORBIDDEN', 'FORBIDDEN', 'FORBIDDEN']],
    ['MEMBER', user('MEMBER'), ['ok', 'ok', 'ok', 'ok', 'ok', 'FORBIDDEN', 'FORBIDDEN']],
    ['ADMIN', user('ADMIN'), ['ok', 'ok', 'ok', 'ok', 'ok', 'ok', 'FORBIDDEN']],
    ['OWNER', user('OWNER'), ['ok', 'ok', 'ok', 'ok', 'ok', 'ok', 'ok']],
  ] as const)('%s', (_name, identity, expected) => {
    expect(REQUIREMENTS.map((r) => outcome(identity, r))).toEqual(expected);
  });

  it('refuses a requirement it does not know', () => {
    expect(outcome(user('OWNER'), 'admin' as Requirement)).toBe('FORBIDDEN');
  });
});
