// Signed tokens of the public tracking URLs (/t/u/ unsubscribe, /t/o/ open pixel, /t/c/ click): compact,
// validated without a database read, and unforgeable without TRACKING_SECRET. The current key signs; the
// previous one (TRACKING_SECRET_PREVIOUS) still verifies during a rotation.
//
// Layout, base64url: version (1 byte) | kind (1 byte) | organisation (16) | message (16) | kind's data | MAC
// (the first 16 bytes of HMAC-SHA256 over everything before it). Unsubscribe data is the recipient's
// position id (16 bytes: no address in the URL); a click's is the exact target URL in UTF-8; an open has none.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../config.ts';

const VERSION = 1;
const MAC_BYTES = 16;
const HEADER_BYTES = 2 + 16 + 16;
/** A click token carries its URL: longer ones are not tracked (the link is left as it was). */
export const MAX_TRACKED_URL_BYTES = 2048;

export type TrackingToken =
  | { kind: 'unsubscribe'; organisationId: string; messageId: string; positionId: string }
  | { kind: 'open'; organisationId: string; messageId: string }
  | { kind: 'click'; organisationId: string; messageId: string; url: string };

const KIND_BYTE = { unsubscribe: 0x75, open: 0x6f, click: 0x63 } as const; // 'u', 'o', 'c'

export interface TokenSigner {
  sign(token: TrackingToken): string;
  /** The token's content, or null for anything not signed by one of the keys (forged, altered, truncated). */
  verify(token: string): TrackingToken | null;
  /** A keyed hash of a client address (hex): the same address gives the same hash under the same key. */
  hashAddress(address: string): string;
}

function uuidBytes(id: string): Buffer {
  const hex = id.replace(/-/g, '');
  if (!/^[0-9a-f]{32}$/i.test(hex)) throw new Error('tracking tokens carry UUIDs only');
  return Buffer.from(hex, 'hex');
}

function uuidText(bytes: Buffer): string {
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function mac(key: string, body: Buffer): Buffer {
  return createHmac('sha256', key).update(body).digest().subarray(0, MAC_BYTES);
}

/** Signs with `keys[0]`; verifies with any of `keys`. */
export function createTokenSigner(keys: readonly string[]): TokenSigner {
  if (keys.length === 0 || keys.some((k) => k.length < 32))
    throw new Error('tracking tokens need a key of at least 32 characters');
  const [current] = keys;
  return {
    sign(token) {
      const data =
        token.kind === 'unsubscribe'
          ? uuidBytes(token.positionId)
          : token.kind === 'click'
            ? Buffer.from(token.url, 'utf8')
            : Buffer.alloc(0);
      if (token.kind === 'click' && data.length > MAX_TRACKED_URL_BYTES)
        throw new Error(`tracked URLs are at most ${MAX_TRACKED_URL_BYTES} bytes`);
      const body = Buffer.concat([
        Buffer.from([VERSION, KIND_BYTE[token.kind]]),
        uuidBytes(token.organisationId),
        uuidBytes(token.messageId),
        data,
      ]);
      return Buffer.concat([body, mac(current!, body)]).toString('base64url');
    },
    verify(text) {
      if (typeof text !== 'string' || text.length > 4096 || !/^[A-Za-z0-9_-]+$/.test(text)) return null;
      const bytes = Buffer.from(text, 'base64url');
      // base64url decoding skips nothing here (checked above), but a re-encoding must give the same text
      if (bytes.length < HEADER_BYTES + MAC_BYTES || bytes.toString('base64url') !== text) return null;
      const body = bytes.subarray(0, bytes.length - MAC_BYTES);
      const given = bytes.subarray(bytes.length - MAC_BYTES);
      if (!keys.some((key) => timingSafeEqual(mac(key, body), given))) return null;
      if (body[0] !== VERSION) return null;
      const organisationId = uuidText(body.subarray(2, 18));
      const messageId = uuidText(body.subarray(18, 34));
      const data = body.subarray(HEADER_BYTES);
      switch (body[1]) {
        case KIND_BYTE.unsubscribe:
          if (data.length !== 16) return null;
          return { kind: 'unsubscribe', organisationId, messageId, positionId: uuidText(data) };
        case KIND_BYTE.open:
          if (data.length !== 0) return null;
          return { kind: 'open', organisationId, messageId };
        case KIND_BYTE.click:
          if (data.length === 0) return null;
          return { kind: 'click', organisationId, messageId, url: data.toString('utf8') };
        default:
          return null;
      }
    },
    hashAddress(address) {
      // a separate prefix keeps these hashes apart from token MACs made with the same key
      return createHmac('sha256', current!).update(`address:${address}`).digest('hex').slice(0, 32);
    },
  };
}

export const TRACKING_KEY_FILE = 'tracking.key';

/**
 * The keys tokens are signed and verified with: TRACKING_SECRET (and TRACKING_SECRET_PREVIOUS) when set, else
 * one generated once under DATA_DIR/keys/ (development: production refuses to start without TRACKING_SECRET),
 * so every process on the machine signs and verifies with the same key, across restarts.
 */
export async function loadTrackingKeys(options: {
  current: string | undefined;
  previous: string | undefined;
  dataDir: string;
}): Promise<string[]> {
  if (options.current) return options.previous ? [options.current, options.previous] : [options.current];
  const dir = path.resolve(options.dataDir, 'keys');
  const file = path.join(dir, TRACKING_KEY_FILE);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await writeFile(file, randomBytes(32).toString('base64url'), { mode: 0o600, flag: 'wx' }).catch((error) => {
    if (error.code !== 'EEXIST') throw error;
  });
  const key = (await readFile(file, 'utf8')).trim();
  if (key.length < 32) throw new Error(`${file} does not hold a tracking key of at least 32 characters`);
  return [key];
}

/** The signer of this deployment's tokens (TRACKING_SECRET, TRACKING_SECRET_PREVIOUS, or the generated key). */
export async function trackingSigner(
  config: Pick<Config, 'trackingSecret' | 'trackingSecretPrevious' | 'dataDir'>,
): Promise<TokenSigner> {
  return createTokenSigner(
    await loadTrackingKeys({
      current: config.trackingSecret,
      previous: config.trackingSecretPrevious,
      dataDir: config.dataDir,
    }),
  );
}

/** The public URL of a token: `${publicUrl}/t/u/<token>` and so on. */
export function trackingUrl(publicUrl: string, token: TrackingToken, signed: string): string {
  const base = publicUrl.replace(/\/+$/, '');
  if (token.kind === 'unsubscribe') return `${base}/t/u/${signed}`;
  if (token.kind === 'open') return `${base}/t/o/${signed}.gif`;
  return `${base}/t/c/${signed}`;
}
