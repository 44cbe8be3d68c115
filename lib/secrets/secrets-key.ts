// The key that seals stored secrets: SECRETS_KEY when configured, else generated once under DATA_DIR/keys/
// and read back on every start, so what was sealed before a restart still opens after it.
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

export const SECRETS_KEY_FILE = 'secrets.key';

export async function loadOrCreateSecretsKey(options: {
  configured: Buffer | undefined;
  dataDir: string;
}): Promise<Buffer> {
  if (options.configured) return options.configured;
  const dir = path.resolve(options.dataDir, 'keys');
  const file = path.join(dir, SECRETS_KEY_FILE);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  // wx: of two processes starting at once, the first one's key wins and both read it back
  await writeFile(file, randomBytes(32).toString('base64'), { mode: 0o600, flag: 'wx' }).catch((error) => {
    if (error.code !== 'EEXIST') throw error;
  });
  const key = Buffer.from((await readFile(file, 'utf8')).trim(), 'base64');
  if (key.length !== 32) throw new Error(`${file} does not hold a base64 32-byte key`);
  return key;
}
