// JWT signing keys: from configuration (PEM), or generated once and kept under the data directory.
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { exportPKCS8, exportSPKI, generateKeyPair } from 'jose';

export interface KeyPairPem {
  privateKey: string | undefined;
  publicKey: string;
}

export async function loadOrCreateKeys(options: {
  privateKey?: string;
  publicKey?: string;
  dataDir: string;
}): Promise<KeyPairPem> {
  if (options.publicKey) return { privateKey: options.privateKey, publicKey: options.publicKey };
  const dir = path.resolve(options.dataDir, 'keys');
  const privatePath = path.join(dir, 'jwt-private.pem');
  const publicPath = path.join(dir, 'jwt-public.pem');
  if (!existsSync(privatePath)) {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const { privateKey, publicKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
    // wx: two processes starting at once must not overwrite each other's key
    await writeFile(privatePath, await exportPKCS8(privateKey), { mode: 0o600, flag: 'wx' }).catch(() => {});
    await writeFile(publicPath, await exportSPKI(publicKey), { mode: 0o644, flag: 'wx' }).catch(() => {});
  }
  return { privateKey: await readFile(privatePath, 'utf8'), publicKey: await readFile(publicPath, 'utf8') };
}
