import { describe, expect, it } from 'vitest';
import { machineReason } from './machine.ts';

const CHROME =
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36';
const GMAIL_PROXY =
  'Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)';

describe('machine hits', () => {
  it('a HEAD request is a machine, whoever sends it', () => {
    expect(machineReason({ method: 'HEAD', userAgent: CHROME, ip: '203.0.113.9' })).toBe('head');
  });

  it("Apple's privacy proxy: its network or its bare user agent", () => {
    expect(machineReason({ method: 'GET', userAgent: CHROME, ip: '17.58.101.3' })).toBe(
      'apple-privacy-proxy',
    );
    expect(machineReason({ method: 'GET', userAgent: CHROME, ip: '::ffff:17.1.2.3' })).toBe(
      'apple-privacy-proxy',
    );
    expect(machineReason({ method: 'GET', userAgent: 'Mozilla/5.0', ip: '198.51.100.7' })).toBe(
      'apple-privacy-proxy',
    );
    // 170.x and 117.x are not Apple's
    expect(machineReason({ method: 'GET', userAgent: CHROME, ip: '170.1.2.3' })).toBeNull();
    expect(machineReason({ method: 'GET', userAgent: CHROME, ip: '117.1.2.3' })).toBeNull();
  });

  it('scanners, crawlers and HTTP libraries are machines; a missing user agent too', () => {
    for (const ua of [
      'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)',
      'Barracuda Sentinel (EE)',
      'Mozilla/5.0 (X11; Linux x86_64) HeadlessChrome/120.0 Safari/537.36',
      'python-requests/2.31.0',
      'curl/8.5.0',
      'Go-http-client/1.1',
      'Microsoft Office Protocol Discovery',
      '',
    ]) {
      expect(machineReason({ method: 'GET', userAgent: ua, ip: '198.51.100.7' }), ua).toBe('scanner-ua');
    }
    expect(machineReason({ method: 'GET', userAgent: undefined, ip: undefined })).toBe('scanner-ua');
  });

  it("people: browsers, mail clients and Google's image proxy", () => {
    for (const ua of [CHROME, GMAIL_PROXY, 'Microsoft Outlook 16.0.17328; Pro', 'Thunderbird/115.0']) {
      expect(machineReason({ method: 'GET', userAgent: ua, ip: '198.51.100.7' }), ua).toBeNull();
    }
  });
});
