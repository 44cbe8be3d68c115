import { randomUUID } from 'node:crypto';
import { mkdtemp, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createTokenSigner, loadTrackingKeys, type TrackingToken, trackingUrl } from './tokens.ts';

const KEY = 'k'.repeat(40);
const OLD_KEY = 'o'.repeat(40);

describe('tracking tokens', () => {
  const organisationId = randomUUID();
  const messageId = randomUUID();
  const tokens: TrackingToken[] = [
    { kind: 'unsubscribe', organisationId, messageId, positionId: randomUUID() },
    { kind: 'open', organisationId, messageId },
    { kind: 'click', organisationId, messageId, url: 'https://example.fr/offre?x=1&y=é#top' },
  ];

  it('give back exactly what was signed, in a compact URL-safe form', () => {
    const signer = createTokenSigner([KEY]);
    for (const token of tokens) {
      const signed = signer.sign(token);
      expect(signed).toMatch(/^[A-Za-z0-9_-]+$/);
      expect(signer.verify(signed)).toEqual(token);
    }
    // an unsubscribe token: 2 + 3 × 16 bytes of content + 16 of MAC
    expect(signer.sign(tokens[0]!).length).toBe(Math.ceil((66 * 4) / 3));
  });

  it('refuse a forged, altered or truncated token', () => {
    const signer = createTokenSigner([KEY]);
    const signed = signer.sign(tokens[2]!);
    expect(createTokenSigner(['x'.repeat(40)]).verify(signed)).toBeNull();
    const bytes = Buffer.from(signed, 'base64url');
    for (const at of [0, 1, 5, 20, 40, bytes.length - 1]) {
      const altered = Buffer.from(bytes);
      altered[at]! ^= 0x01;
      expect(signer.verify(altered.toString('base64url'))).toBeNull();
    }
    expect(signer.verify(signed.slice(0, -2))).toBeNull();
    expect(signer.verify(`${signed}=`)).toBeNull();
    expect(signer.verify('')).toBeNull();
    expect(signer.verify('../../etc/passwd')).toBeNull();
  });

  it('keep verifying the previous key during a rotation, and sign with the new one', () => {
    const before = createTokenSigner([OLD_KEY]).sign(tokens[0]!);
    const rotated = createTokenSigner([KEY, OLD_KEY]);
    expect(rotated.verify(before)).toEqual(tokens[0]);
    expect(createTokenSigner([OLD_KEY]).verify(rotated.sign(tokens[0]!))).toBeNull();
    // once the old key is dropped, its tokens stop working
    expect(createTokenSigner([KEY]).verify(before)).toBeNull();
  });

  it('make public URLs under PUBLIC_URL', () => {
    expect(trackingUrl('https://pf.example/', tokens[0]!, 'abc')).toBe('https://pf.example/t/u/abc');
    expect(trackingUrl('https://pf.example', tokens[1]!, 'abc')).toBe('https://pf.example/t/o/abc.gif');
    expect(trackingUrl('https://pf.example', tokens[2]!, 'abc')).toBe('https://pf.example/t/c/abc');
  });

  it('use one generated key per data directory when TRACKING_SECRET is not set', async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'tracking-keys-'));
    const first = await loadTrackingKeys({ current: undefined, previous: undefined, dataDir });
    const again = await loadTrackingKeys({ current: undefined, previous: undefined, dataDir });
    expect(first).toEqual(again);
    expect(first[0]!.length).toBeGreaterThanOrEqual(32);
    expect((await stat(path.join(dataDir, 'keys', 'tracking.key'))).mode & 0o777).toBe(0o600);
    expect(await loadTrackingKeys({ current: KEY, previous: OLD_KEY, dataDir })).toEqual([KEY, OLD_KEY]);
  });
});
