// Website and LinkedIn URL normalisation, and the domain derived from a website.
import { cleanText } from './text.ts';

const HAS_SCHEME = /^[a-z][a-z0-9+.-]*:\/\//i;
// Schemes written without "//" would otherwise get "https://" prepended and parse as a host.
const OTHER_SCHEME = /^(?:mailto|javascript|data|tel|sms|ftp|file|blob|about|vbscript):/i;
// A DNS name with at least one dot and an alphabetic (or punycode) TLD; rejects IPs, "a..b.com", "-x.com".
const HOST = /^(?:[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?\.)+(?:[a-z]{2,63}|xn--[a-z0-9-]{1,59})$/;
const TRACKING_PARAMS = new Set(['gclid', 'fbclid', 'mc_cid', 'mc_eid', 'ref', 'trk']);

/**
 * Absolute http(s) URL: "https://" added when there is no scheme, scheme and host lower-cased (host kept,
 * including "www."; IDN hosts become punycode), fragment, credentials-free only, tracking parameters
 * (utm_*, gclid, fbclid, mc_cid, mc_eid, ref, trk) and trailing path slashes removed. Null when unusable.
 */
export function normaliseUrl(value: unknown): string | null {
  const text = cleanText(value);
  if (text === null) return null;
  let candidate: string;
  if (HAS_SCHEME.test(text)) candidate = text;
  else if (OTHER_SCHEME.test(text)) return null;
  else if (text.startsWith('//')) candidate = `https:${text}`;
  else candidate = `https://${text}`;
  let url: URL;
  try {
    url = new URL(candidate);
  } catch {
    return null;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return null;
  // "contact@acme.fr" typed into a website field parses as credentials: not a website.
  if (url.username !== '' || url.password !== '') return null;
  let host = url.hostname;
  if (host.endsWith('.')) host = host.slice(0, -1);
  if (!HOST.test(host)) return null;
  const port = url.port === '' ? '' : `:${url.port}`;
  const path = trimTrailingSlashes(url.pathname);
  const search = url.search === '' ? '' : stripTracking(url.search);
  return `${url.protocol}//${host}${port}${path}${search}`;
}

function trimTrailingSlashes(path: string): string {
  let end = path.length;
  while (end > 0 && path.charCodeAt(end - 1) === 47) end--;
  return end === path.length ? path : path.slice(0, end);
}

// Splits by hand rather than via URLSearchParams so the kept parameters keep their original encoding.
function stripTracking(search: string): string {
  const parts = search.slice(1).split('&');
  let kept = '';
  for (const part of parts) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const name = (eq === -1 ? part : part.slice(0, eq)).toLowerCase();
    if (name.startsWith('utm_') || TRACKING_PARAMS.has(name)) continue;
    kept = kept === '' ? `?${part}` : `${kept}&${part}`;
  }
  return kept;
}

/** Host of an already normalised URL (no credentials, lower-case), without port. */
export function hostOfNormalisedUrl(url: string): string {
  const start = url.indexOf('//') + 2;
  let end = start;
  while (end < url.length) {
    const c = url.charCodeAt(end);
    if (c === 47 || c === 63 || c === 58) break; // '/', '?', ':'
    end++;
  }
  return url.slice(start, end);
}

/** Registrable-ish domain of a website: the normalised host without a leading "www.". */
export function domainFromUrl(value: unknown): string | null {
  const url = normaliseUrl(value);
  return url === null ? null : stripWww(hostOfNormalisedUrl(url));
}

export function stripWww(host: string): string {
  return host.startsWith('www.') ? host.slice(4) : host;
}

export type LinkedinKind = 'person' | 'company';

// Scheme optional, www/m/country subdomain optional, then /in/<slug> or /company/<slug>; the rest is ignored.
const LINKEDIN =
  /^(?:https?:\/\/)?(?:(?:www|m|[a-z]{2})\.)?linkedin\.com(?::\d+)?\/(in|company)\/([^/?#\s]+)/i;
const BAD_SLUG = /[\s/?#\\<>"%]/;

/**
 * Canonical LinkedIn URL: https://www.linkedin.com/in/<slug> (person) or /company/<slug> (company),
 * slug percent-decoded, NFC and lower-cased. Null for non-LinkedIn URLs or the other kind of profile.
 */
export function normaliseLinkedinUrl(value: unknown, kind: LinkedinKind): string | null {
  const text = cleanText(value);
  if (text === null) return null;
  const match = LINKEDIN.exec(text);
  if (match === null) return null;
  const section = match[1]!.toLowerCase();
  if (section !== (kind === 'person' ? 'in' : 'company')) return null;
  let slug = match[2]!;
  if (slug.includes('%')) {
    try {
      // Decoded slugs may be in NFD; cleanText already NFC-normalised the undecoded ones.
      slug = decodeURIComponent(slug).normalize('NFC');
    } catch {
      return null;
    }
  }
  slug = slug.toLowerCase();
  if (slug.length === 0 || slug.length > 200 || BAD_SLUG.test(slug)) return null;
  return `https://www.linkedin.com/${section}/${slug}`;
}
