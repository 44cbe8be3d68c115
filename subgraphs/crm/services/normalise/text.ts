// Text clean-up shared by every Pharow field: Pharow exports come from spreadsheets, so values carry
// NBSPs, zero-width characters and decomposed accents that would break equality and unique indexes.

export interface CleanTextOptions {
  /** Keep line breaks (free-text fields such as the company activity); other whitespace is still collapsed. */
  multiline?: boolean;
}

// Control characters (except tab/newline/CR, which become spaces), soft hyphen, zero-width and direction marks, BOM.
// biome-ignore lint/suspicious/noControlCharactersInRegex: removing control characters is the point
const INVISIBLE = /[\u0000-\u0008\u000e-\u001f\u007f\u00ad\u200b-\u200f\u2060\ufeff]/g;
// JS \s covers NBSP (U+00A0), the narrow NBSP (U+202F) French typography uses, and the other Unicode spaces.
const WHITESPACE_RUN = /\s+/g;
const HORIZONTAL_RUN = /[^\S\n]+/g;
const LINE_BREAK = /\r\n?/g;
const SPACED_NEWLINE = / ?\n ?/g;
const BLANK_LINES = /\n{3,}/g;
const NON_ASCII = /[\u0080-\uffff]/;

/**
 * Trims, removes invisible characters, NFC-normalises and collapses whitespace runs to one space.
 * Numbers and booleans are stringified; empty results, null, undefined, objects and non-finite numbers give null.
 */
export function cleanText(value: unknown, options?: CleanTextOptions): string | null {
  let text: string;
  if (typeof value === 'string') text = value;
  else if (typeof value === 'number') {
    if (!Number.isFinite(value)) return null;
    text = String(value);
  } else if (typeof value === 'boolean') text = value ? 'true' : 'false';
  else return null;
  // Most values are already clean ASCII: skip the regex passes for them.
  if (isPlainAscii(text)) return text.length === 0 ? null : text;
  let out = text.replace(INVISIBLE, '');
  if (NON_ASCII.test(out)) out = out.normalize('NFC');
  if (options?.multiline) {
    out = out
      .replace(LINE_BREAK, '\n')
      .replace(HORIZONTAL_RUN, ' ')
      .replace(SPACED_NEWLINE, '\n')
      .replace(BLANK_LINES, '\n\n');
  } else {
    out = out.replace(WHITESPACE_RUN, ' ');
  }
  out = out.trim();
  return out.length === 0 ? null : out;
}

/** True when the string is printable ASCII with single inner spaces and no leading/trailing space. */
function isPlainAscii(text: string): boolean {
  const n = text.length;
  if (n === 0) return true;
  if (text.charCodeAt(0) === 32 || text.charCodeAt(n - 1) === 32) return false;
  let previousSpace = false;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 32) {
      if (previousSpace) return false;
      previousSpace = true;
    } else if (c < 33 || c > 126) return false;
    else previousSpace = false;
  }
  return true;
}

const BOOLEANS = new Map<string, boolean>([
  ['true', true],
  ['false', false],
  ['1', true],
  ['0', false],
  ['oui', true],
  ['non', false],
  ['yes', true],
  ['no', false],
  ['vrai', true],
  ['faux', false],
]);

/** "true"/"false"/"1"/"0"/"oui"/"non"/"yes"/"no"/"vrai"/"faux" in any case, booleans and 0/1 numbers; else null. */
export function parseBoolean(value: unknown): boolean | null {
  if (typeof value === 'boolean') return value;
  if (typeof value === 'number') return value === 1 ? true : value === 0 ? false : null;
  const text = cleanText(value);
  if (text === null) return null;
  return BOOLEANS.get(text.toLowerCase()) ?? null;
}
