import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../config.ts';
import { createSecretBox, SecretUnreadable } from './secret-box.ts';
import { loadOrCreateSecretsKey } from './secrets-key.ts';

const box = createSecretBox(randomBytes(32));
const credentials = JSON.stringify({ clientId: 'id', clientSecret: 's3cret', refreshToken: '1//token' });

describe('secret box', () => {
  it('opens what it sealed, and never shows the plaintext in the sealed value', () => {
    const sealed = box.seal(credentials, 'mailbox:1');
    expect(sealed).toMatch(/^v1\.[\w-]+\.[\w-]+\.[\w-]+$/);
    expect(sealed).not.toContain('s3cret');
    expect(box.open(sealed, 'mailbox:1')).toBe(credentials);
    // a fresh nonce each time: the same secret never seals to the same text
    expect(box.seal(credentials, 'mailbox:1')).not.toBe(sealed);
  });

  it('refuses a sealed value with any byte changed', () => {
    const sealed = box.seal(credentials, 'mailbox:1');
    const [version, nonce, tag, ciphertext] = sealed.split('.');
    const flip = (part: string) => {
      const bytes = Buffer.from(part, 'base64url');
      bytes[0] ^= 1;
      return bytes.toString('base64url');
    };
    for (const altered of [
      [version, flip(nonce!), tag, ciphertext],
      [version, nonce, flip(tag!), ciphertext],
      [version, nonce, tag, flip(ciphertext!)],
      [version, nonce, tag.slice(0, 8), ciphertext],
      ['v2', nonce, tag, ciphertext],
    ]) {
      expect(() => box.open(altered.join('.'), 'mailbox:1')).toThrow(SecretUnreadable);
    }
    expect(() => box.open('garbage', 'mailbox:1')).toThrow(SecretUnreadable);
  });

  it('refuses a value sealed for another context or with another key', () => {
    const sealed = box.seal(credentials, 'mailbox:1');
    expect(() => box.open(sealed, 'mailbox:2')).toThrow(SecretUnreadable);
    expect(() => createSecretBox(randomBytes(32)).open(sealed, 'mailbox:1')).toThrow(SecretUnreadable);
  });

  it('takes only 32-byte keys', () => {
    expect(() => createSecretBox(randomBytes(16))).toThrow(/32 bytes/);
  });
});

describe('secrets key', () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  it('is generated once under DATA_DIR/keys/, readable by its owner only, and the same after a restart', async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'secrets-'));
    dirs.push(dataDir);
    const first = await loadOrCreateSecretsKey({ configured: undefined, dataDir });
    expect(first).toHaveLength(32);
    const file = path.join(dataDir, 'keys', 'secrets.key');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const sealed = createSecretBox(first).seal('refresh-token', 'ctx');
    const again = await loadOrCreateSecretsKey({ configured: undefined, dataDir });
    expect(again.equals(first)).toBe(true);
    expect(createSecretBox(again).open(sealed, 'ctx')).toBe('refresh-token');
    expect(Buffer.from(await readFile(file, 'utf8'), 'base64').equals(first)).toBe(true);
  });

  it('two processes starting at once end up with one key', async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'secrets-'));
    dirs.push(dataDir);
    const keys = await Promise.all(
      Array.from({ length: 4 }, () => loadOrCreateSecretsKey({ configured: undefined, dataDir })),
    );
    expect(keys.every((k) => k.equals(keys[0]!))).toBe(true);
  });

  it('comes from SECRETS_KEY when set, which must be base64 of 32 bytes (one clear line otherwise)', async () => {
    const key = randomBytes(32);
    const config = loadConfig({ SECRETS_KEY: key.toString('base64') });
    expect(config.secretsKey?.equals(key)).toBe(true);
    expect(await loadOrCreateSecretsKey({ configured: config.secretsKey, dataDir: '/nonexistent' })).toBe(
      config.secretsKey,
    );
    for (const bad of [randomBytes(16).toString('base64'), 'not base64 at all!', `${key.toString('hex')}`]) {
      expect(() => loadConfig({ SECRETS_KEY: bad })).toThrow(
        /^SECRETS_KEY must be 32 bytes in base64 \(generate one with: openssl rand -base64 32\)$/,
      );
    }
  });
});
