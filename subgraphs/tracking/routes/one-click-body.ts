// RFC 8058: a one-click unsubscribe POST carries `List-Unsubscribe=One-Click`, form-encoded or as multipart
// form data. Mail providers differ in the content type they declare, so the body alone decides.

const FIELD = 'List-Unsubscribe';
const VALUE = 'One-Click';

/** Whether the body asks for a one-click unsubscribe. */
export function isOneClickBody(body: Buffer): boolean {
  const text = body.toString('utf8');
  if (text.startsWith('--')) return multipartHasOneClick(text);
  return new URLSearchParams(text.trim()).getAll(FIELD).includes(VALUE);
}

/** Multipart form data: the boundary is the body's first line, each part a header block and a value. */
function multipartHasOneClick(text: string): boolean {
  const firstLine = /^--([^\r\n]{1,70})\r?\n/.exec(text);
  if (!firstLine) return false;
  for (const part of text.split(`--${firstLine[1]}`)) {
    const split = /\r?\n\r?\n/.exec(part);
    if (!split) continue;
    const headers = part.slice(0, split.index);
    const value = part.slice(split.index + split[0].length).replace(/\r?\n$/, '');
    const name = /content-disposition:\s*form-data;[^\r\n]*\bname="([^"]*)"/i.exec(headers)?.[1];
    if (name === FIELD && value.trim() === VALUE) return true;
  }
  return false;
}
