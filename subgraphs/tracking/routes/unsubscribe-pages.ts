// The small self-contained pages of the unsubscribe link: no script, no external asset, no cookie, nothing cached.
import type { ServerResponse } from 'node:http';

// frame-ancestors: no other site may frame the button and trick a click on it
const CSP = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'";

const STYLE = `body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1f2933;
background:#f5f7fa}main{max-width:28rem;margin:12vh auto;padding:2rem;background:#fff;border-radius:8px;
box-shadow:0 1px 3px rgba(0,0,0,.12)}h1{font-size:1.4rem;margin:0 0 1rem}button{font:inherit;padding:.6rem 1.4rem;
border:0;border-radius:6px;background:#1f2933;color:#fff;cursor:pointer}`;

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function html(title: string, content: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex"><title>${escapeHtml(title)}</title><style>${STYLE}</style></head>
<body><main><h1>${escapeHtml(title)}</h1>${content}</main></body></html>
`;
}

/** Asks before unsubscribing: the button POSTs the one-click body to the same URL (a GET never unsubscribes). */
export function confirmationPage(token: string): string {
  // relative to /t/u/<token>, the token alone is the same URL, whatever path prefix PUBLIC_URL has
  return html(
    'Unsubscribe',
    `<p>Do you want to stop receiving these emails?</p>
<form method="post" action="${escapeHtml(token)}"><input type="hidden" name="List-Unsubscribe" value="One-Click">
<button type="submit">Unsubscribe</button></form>`,
  );
}

export const PAGES = {
  unsubscribed: html(
    'You are unsubscribed',
    '<p>You will not receive any more of these emails. You can close this page.</p>',
  ),
  invalid: html('This link is not valid', '<p>Nothing was changed.</p>'),
  notOneClick: html(
    'Nothing was changed',
    '<p>This request did not ask to unsubscribe. Open the link and use the button.</p>',
  ),
  tooLarge: html('Nothing was changed', '<p>This request was too large.</p>'),
  notAllowed: html('Nothing was changed', '<p>Open the link in a browser to unsubscribe.</p>'),
  unavailable: html(
    'Please try again',
    '<p>Your request could not be taken right now and nothing was changed. Please try again in a minute.</p>',
  ),
} as const;

/** Sends a page (its headers only for HEAD). */
export function sendPage(
  res: ServerResponse,
  status: number,
  page: string,
  options: { requestId: string; head?: boolean; headers?: Record<string, string> },
): void {
  const body = Buffer.from(page, 'utf8');
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'content-length': String(body.length),
    'cache-control': 'no-store',
    'content-security-policy': CSP,
    'x-content-type-options': 'nosniff',
    // the URL holds the token: no page it links to (there is none) may learn it
    'referrer-policy': 'no-referrer',
    'x-request-id': options.requestId,
    ...options.headers,
  });
  res.end(options.head ? undefined : body);
}
