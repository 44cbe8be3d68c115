// Small secrets (mailbox credentials) sealed with AES-256-GCM: a fresh 96-bit nonce per seal, and a context
// (what the secret belongs to) authenticated with it, so a sealed value copied onto another row is refused.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

const VERSION = 'v1';
const KEY_BYTES = 32;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

export interface SecretBox {
  /** `v1.<nonce>.<tag>.<ciphertext>`, base64url: safe in a text column. */
  seal(plaintext: string, context: string): string;
  /** The plaintext, or an error when the value was altered, sealed with another key or for another context. */
  open(sealed: string, context: string): string;
}

export class SecretUnreadable extends Error {
  constructor() {
    // never says more: the sealed value and the context stay out of messages and logs
    super('A stored secret could not be decrypted (altered, or sealed with another key)');
    this.name = 'SecretUnreadable';
  }
}

export function createSecretBox(key: Buffer): SecretBox {
  if (key.length !== KEY_BYTES) throw new Error(`A secrets key is ${KEY_BYTES} bytes (got ${key.length})`);
  return {
    seal(plaintext, context) {
      const nonce = randomBytes(NONCE_BYTES);
      const cipher = createCipheriv('aes-256-gcm', key, nonce);
      cipher.setAAD(Buffer.from(context, 'utf8'));
      const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      const parts = [nonce, cipher.getAuthTag(), ciphertext].map((b) => b.toString('base64url'));
      return [VERSION, ...parts].join('.');
    },
    open(sealed, context) {
      const [version, nonce, tag, ciphertext, extra] = sealed.split('.');
      if (version !== VERSION || ciphertext === undefined || extra !== undefined)
        throw new SecretUnreadable();
      const nonceBytes = Buffer.from(nonce!, 'base64url');
      const tagBytes = Buffer.from(tag!, 'base64url');
      if (nonceBytes.length !== NONCE_BYTES || tagBytes.length !== TAG_BYTES) throw new SecretUnreadable();
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, nonceBytes, { authTagLength: TAG_BYTES });
        decipher.setAAD(Buffer.from(context, 'utf8'));
        decipher.setAuthTag(tagBytes);
        return Buffer.concat([
          decipher.update(Buffer.from(ciphertext, 'base64url')),
          decipher.final(),
        ]).toString('utf8');
      } catch {
        throw new SecretUnreadable();
      }
    },
  };
}
