import { describe, expect, it } from 'vitest';
import { instrumentHtml } from './instrument.ts';
import { MAX_TRACKED_URL_BYTES } from './tokens.ts';

const OPEN = 'https://t.example/t/o/TOKEN.gif';
const wrap = (url: string) => `https://t.example/t/c/${Buffer.from(url).toString('base64url')}`;

describe('email instrumentation', () => {
  it('puts the pixel just before </body>, or at the end without one', () => {
    expect(instrumentHtml('<html><body><p>Hi</p></body></html>', { openUrl: OPEN })).toBe(
      `<html><body><p>Hi</p><img src="${OPEN}" width="1" height="1" alt="" style="border:0;width:1px;height:1px;overflow:hidden" /></body></html>`,
    );
    const fragment = instrumentHtml('<p>Hi</p>', { openUrl: OPEN });
    expect(fragment.startsWith('<p>Hi</p>\n<img src="https://t.example/t/o/TOKEN.gif"')).toBe(true);
    // no pixel unless asked
    expect(instrumentHtml('<p>Hi</p>', {})).toBe('<p>Hi</p>');
  });

  it('wraps http(s) links with the URL they point at, entities decoded', () => {
    const html =
      '<p><a href="https://example.com/a?x=1&amp;y=2">A</a> <a class="b" href=\'http://example.com/b\'>B</a> <a href=https://example.com/c>C</a></p>';
    const seen: string[] = [];
    const out = instrumentHtml(html, {
      clickUrl: (url) => {
        seen.push(url);
        return wrap(url);
      },
    });
    expect(seen).toEqual(['https://example.com/a?x=1&y=2', 'http://example.com/b', 'https://example.com/c']);
    expect(out).toBe(
      `<p><a href="${wrap(seen[0]!)}">A</a> <a class="b" href="${wrap(seen[1]!)}">B</a> <a href="${wrap(seen[2]!)}">C</a></p>`,
    );
  });

  it('leaves mailto:, anchors, links the caller refuses and over-long URLs as they were', () => {
    const long = `https://example.com/${'x'.repeat(MAX_TRACKED_URL_BYTES)}`;
    const html = [
      '<a href="mailto:ann@example.com">mail</a>',
      '<a href="#top">top</a>',
      '<a href="https://t.example/t/u/UNSUB">unsubscribe</a>',
      `<a href="${long}">long</a>`,
      '<a href="https://example.com/ok">ok</a>',
    ].join('\n');
    const out = instrumentHtml(html, {
      clickUrl: (url) => (url.startsWith('https://t.example/t/u/') ? null : wrap(url)),
    });
    expect(out).toBe(html.replace('"https://example.com/ok"', `"${wrap('https://example.com/ok')}"`));
  });
});
