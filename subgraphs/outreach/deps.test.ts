import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../lib/config.ts';
import { outreachDeps } from './deps.ts';

describe('the key that seals mailbox credentials', () => {
  it('must be given in production, where a generated one would die with its container', async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'outreach-deps-'));
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const config = loadConfig({
      NODE_ENV: 'production',
      DATABASE_URL: 'postgres://127.0.0.1:5432/prospectflow',
      JWT_PRIVATE_KEY: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      JWT_PUBLIC_KEY: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
      DATA_DIR: dataDir,
      TRACKING_SECRET: 'production-tracking-secret-0123456789abcdef',
    });
    await expect(outreachDeps(config)).rejects.toThrow(/^SECRETS_KEY is required in production/);
    // nothing was generated in its place
    expect(await readdir(dataDir)).toEqual([]);
  });
});
