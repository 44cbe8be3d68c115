// Which hits the endpoint can already tell came from a machine, from the request alone. Rules that need the
// send time (a hit within seconds of sending, every link clicked at once) belong to the counters.
import type { MachineReason } from './hits.ts';

/**
 * User agents of security scanners, link checkers, crawlers and HTTP libraries: substrings, matched without
 * case. Mail proxies that fetch images on a person's behalf (Google's GoogleImageProxy, Yahoo's) are not here.
 */
export const SCANNER_USER_AGENTS: readonly string[] = [
  'bot',
  'crawler',
  'spider',
  'scanner',
  'headless',
  'phantomjs',
  'curl/',
  'wget/',
  'python-requests',
  'python-urllib',
  'aiohttp',
  'go-http-client',
  'java/',
  'okhttp',
  'apache-httpclient',
  'libwww-perl',
  'node-fetch',
  'axios/',
  'barracuda',
  'mimecast',
  'proofpoint',
  'messagelabs',
  'symantec',
  'forcepoint',
  'fireeye',
  'trend micro',
  'sophos',
  'ironport',
  'zscaler',
  'safelinks',
  'microsoft office protocol discovery',
  'facebookexternalhit',
  'whatsapp',
  'skypeuripreview',
];
const SCANNER_PATTERN = new RegExp(
  SCANNER_USER_AGENTS.map((s) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')).join('|'),
  'i',
);
/** Google fetches images for Gmail users as they open: a person behind it. */
const HUMAN_PROXIES = /GoogleImageProxy|YahooMailProxy/i;
/** Apple Mail Privacy Protection fetches every image ahead of time, with a bare UA, from Apple's 17.0.0.0/8. */
const APPLE_PROXY_USER_AGENT = 'Mozilla/5.0';

function inAppleNetwork(ip: string | undefined): boolean {
  if (!ip) return false;
  const v4 = ip.startsWith('::ffff:') ? ip.slice(7) : ip;
  return /^17\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(v4);
}

export function machineReason(request: {
  method: string;
  userAgent: string | undefined;
  ip: string | undefined;
}): MachineReason | null {
  // a mail client fetches the image or follows the link; only checkers ask for the headers alone
  if (request.method === 'HEAD') return 'head';
  const ua = request.userAgent?.trim() ?? '';
  if (inAppleNetwork(request.ip) || ua === APPLE_PROXY_USER_AGENT) return 'apple-privacy-proxy';
  if (HUMAN_PROXIES.test(ua)) return null;
  // every mail client and browser names itself
  if (ua === '' || SCANNER_PATTERN.test(ua)) return 'scanner-ua';
  return null;
}
