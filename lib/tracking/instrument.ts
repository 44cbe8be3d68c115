// Tracking in an outgoing email's HTML: the open pixel before </body>, and http(s) links pointed at their click
// URLs. The plain-text part is left alone, so it keeps readable links; mailto: and other schemes are never
// touched, and a link the caller does not sign (the unsubscribe link, one too long for a token) stays as it was.
import { MAX_TRACKED_URL_BYTES, type TokenSigner, trackingUrl } from './tokens.ts';

export interface Instrumentation {
  /** The pixel's URL when opens are tracked. */
  openUrl?: string;
  /** The click URL standing in for `url`, or null to leave the link as it is; absent when clicks are not tracked. */
  clickUrl?: (url: string) => string | null;
}

// an <a> tag's href, quoted either way or bare
const ANCHOR_HREF = /(<a\b[^>]*?\shref\s*=\s*)(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))/gi;
const ENTITY = /&(?:#(\d+)|#x([0-9a-f]+)|(amp|lt|gt|quot|apos));/gi;
const NAMED: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function decodeEntities(text: string): string {
  return text.replace(ENTITY, (whole, dec: string, hex: string, name: string) => {
    if (name) return NAMED[name.toLowerCase()] ?? whole;
    const code = dec ? Number.parseInt(dec, 10) : Number.parseInt(hex, 16);
    return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : whole;
  });
}

function escapeAttribute(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Whether a link may be wrapped: http(s) only, and short enough to travel inside a click token. */
export function isTrackableUrl(url: string): boolean {
  return /^https?:\/\/[^\s]+$/i.test(url) && Buffer.byteLength(url, 'utf8') <= MAX_TRACKED_URL_BYTES;
}

export function pixelTag(openUrl: string): string {
  return `<img src="${escapeAttribute(openUrl)}" width="1" height="1" alt="" style="border:0;width:1px;height:1px;overflow:hidden" />`;
}

export function instrumentHtml(html: string, tracking: Instrumentation): string {
  let out = html;
  const { clickUrl, openUrl } = tracking;
  if (clickUrl) {
    out = out.replace(ANCHOR_HREF, (whole, start: string, dq?: string, sq?: string, bare?: string) => {
      const url = decodeEntities((dq ?? sq ?? bare ?? '').trim());
      if (!isTrackableUrl(url)) return whole;
      const wrapped = clickUrl(url);
      return wrapped === null ? whole : `${start}"${escapeAttribute(wrapped)}"`;
    });
  }
  if (openUrl) {
    const pixel = pixelTag(openUrl);
    const end = out.search(/<\/body\s*>(?![\s\S]*<\/body\s*>)/i);
    out = end === -1 ? `${out}\n${pixel}` : `${out.slice(0, end)}${pixel}${out.slice(end)}`;
  }
  return out;
}

/**
 * An outgoing email's HTML as it goes out: the drafter stores every draft's HTML (built from its text when the
 * step has none), and this adds the campaign's tracking to it. Links to our own /t/ paths (the unsubscribe
 * link) are never wrapped. A text-only email (no HTML) stays untracked.
 */
export function trackedHtml(
  email: {
    organisationId: string;
    messageId: string;
    bodyHtml: string | null;
    trackOpens: boolean;
    trackClicks: boolean;
  },
  links: { publicUrl: string; signer: TokenSigner },
): string | null {
  if (email.bodyHtml === null) return null;
  const ids = { organisationId: email.organisationId, messageId: email.messageId };
  const ours = `${links.publicUrl.replace(/\/+$/, '')}/t/`;
  const open = { kind: 'open' as const, ...ids };
  return instrumentHtml(email.bodyHtml, {
    openUrl: email.trackOpens ? trackingUrl(links.publicUrl, open, links.signer.sign(open)) : undefined,
    clickUrl: email.trackClicks
      ? (url) => {
          if (url.startsWith(ours)) return null;
          const click = { kind: 'click' as const, ...ids, url };
          return trackingUrl(links.publicUrl, click, links.signer.sign(click));
        }
      : undefined,
  });
}
