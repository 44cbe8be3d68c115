// The real googleapis clients against the local token endpoint: what connectMailbox relies on to check credentials.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GoogleFake, startGoogleFake } from '../../test/fakes/google.ts';
import { createSecretBox } from '../secrets/secret-box.ts';
import {
  DelegationUnavailable,
  GoogleAuthRefused,
  type GoogleSettings,
  GoogleUnreachable,
  openGmailCredentials,
  sealGmailCredentials,
  verifyGmailCredentials,
} from './gmail-auth.ts';

let dir: string;
let fake: GoogleFake;
let settings: GoogleSettings;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'google-'));
  fake = await startGoogleFake({ dir, delegatedDomains: ['delegated.example'] });
  settings = { apiUrl: undefined, tokenUrl: fake.tokenUrl, serviceAccountKey: fake.serviceAccountFile };
});
afterAll(async () => {
  await fake?.close();
  await rm(dir, { recursive: true, force: true });
});

const oauth = (refreshToken: string, clientSecret = 'secret') =>
  ({ kind: 'OAUTH', clientId: 'client-1', clientSecret, refreshToken }) as const;

describe('verifyGmailCredentials', () => {
  it('accepts a working refresh token, asking the configured token URL', async () => {
    await verifyGmailCredentials(oauth('1//good'), 'anne@acme.fr', settings);
    expect(fake.tokenRequests.at(-1)).toEqual({ grantType: 'refresh_token', clientId: 'client-1' });
  });

  it("refuses a revoked token or a wrong client with Google's reason", async () => {
    await expect(verifyGmailCredentials(oauth('revoked-1'), 'anne@acme.fr', settings)).rejects.toThrow(
      new GoogleAuthRefused('invalid_grant (Token has been expired or revoked.)'),
    );
    await expect(verifyGmailCredentials(oauth('1//good', 'wrong'), 'anne@acme.fr', settings)).rejects.toThrow(
      /invalid_client/,
    );
  });

  it('signs a delegation assertion for the mailbox with the service account', async () => {
    await verifyGmailCredentials({ kind: 'DELEGATED' }, 'bob@delegated.example', settings);
    expect(fake.tokenRequests.at(-1)).toEqual({
      grantType: 'urn:ietf:params:oauth:grant-type:jwt-bearer',
      subject: 'bob@delegated.example',
    });
    await expect(verifyGmailCredentials({ kind: 'DELEGATED' }, 'bob@elsewhere.fr', settings)).rejects.toThrow(
      /unauthorized_client/,
    );
  });

  it('says when no service account is configured, and when Google cannot be reached', async () => {
    await expect(
      verifyGmailCredentials({ kind: 'DELEGATED' }, 'bob@delegated.example', {
        ...settings,
        serviceAccountKey: undefined,
      }),
    ).rejects.toThrow(
      new DelegationUnavailable('GOOGLE_SERVICE_ACCOUNT_KEY is not configured on the server'),
    );
    await expect(
      verifyGmailCredentials(oauth('1//good'), 'anne@acme.fr', {
        ...settings,
        tokenUrl: 'http://127.0.0.1:9/token',
      }),
    ).rejects.toBeInstanceOf(GoogleUnreachable);
  });
});

describe('sealed credentials', () => {
  it('open only for the mailbox they were sealed for', () => {
    const box = createSecretBox(randomBytes(32));
    const sealed = sealGmailCredentials(box, 'org-1', 'mb-1', oauth('1//good'));
    expect(sealed).not.toContain('1//good');
    expect(openGmailCredentials(box, 'org-1', 'mb-1', sealed)).toEqual(oauth('1//good'));
    expect(() => openGmailCredentials(box, 'org-1', 'mb-2', sealed)).toThrow(/could not be decrypted/);
  });
});
