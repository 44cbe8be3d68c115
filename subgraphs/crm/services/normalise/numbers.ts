// Numbers as Pharow and French spreadsheets write them: "1 250 000", "1.250.000", "95,5 %", "50 - 99".
import { cleanText } from './text.ts';

// Group separators that are never decimal marks: spaces (incl. NBSP / narrow NBSP), apostrophes, underscores.
const GROUP_NOISE = /[\s'’_]/g;
const PLAIN_INT = /^[+-]?\d+$/;
// "1,250,000" / "1.250.000": one separator kind, groups of exactly three digits.
const GROUPED_INT = /^[+-]?\d{1,3}([.,])\d{3}(?:\1\d{3})*$/;
// Decimal number, integer part optionally grouped with the *other* separator ("1.250.000,50").
const DECIMAL = /^([+-]?(?:\d{1,3}(?:([.,])\d{3})(?:\2\d{3})*|\d+))([.,])(\d+)$/;
const ALL_GROUP_SEPARATORS = /[.,]/g;

/**
 * Integer from a number or a string with thousands separators. A single "," or "." followed by exactly
 * three digits is read as a thousands separator ("1,250" → 1250); other decimals are rounded ("12,5" → 13).
 */
export function parseInteger(value: unknown): number | null {
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) return null;
    const rounded = Math.round(value);
    return Number.isSafeInteger(rounded) ? rounded : null;
  }
  const text = cleanText(value);
  if (text === null) return null;
  const compact = text.replace(GROUP_NOISE, '');
  let result: number;
  if (PLAIN_INT.test(compact)) result = Number(compact);
  else if (GROUPED_INT.test(compact)) result = Number(compact.replace(ALL_GROUP_SEPARATORS, ''));
  else {
    const match = DECIMAL.exec(compact);
    // The decimal mark must differ from the grouping separator ("1.250.000,50", not "1.250.000.50").
    if (match === null || match[2] === match[3]) return null;
    result = Math.round(Number(`${match[1]!.replace(ALL_GROUP_SEPARATORS, '')}.${match[4]}`));
  }
  return Number.isSafeInteger(result) ? result : null;
}

const RELIABILITY = /^(\d+)(?:[.,](\d+))?\s*(%?)$/;

/**
 * Email reliability 0..100: "95%", "95", "0.95" → 95; "95,5 %" → 96 (rounded). A fraction ≤ 1 written with
 * a decimal mark and no "%" is a ratio ("1.0" → 100, but "1" → 1). Out of range → null.
 */
export function parseReliability(value: unknown): number | null {
  let result: number;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) return null;
    result = !Number.isInteger(value) && value > 0 && value < 1 ? value * 100 : value;
  } else {
    const text = cleanText(value);
    if (text === null) return null;
    const match = RELIABILITY.exec(text);
    if (match === null) return null;
    const fraction = match[2];
    result = fraction === undefined ? Number(match[1]) : Number(`${match[1]}.${fraction}`);
    if (match[3] === '' && fraction !== undefined && result <= 1) result *= 100;
  }
  result = Math.round(result);
  return result >= 0 && result <= 100 ? result : null;
}

export interface EmployeeRange {
  /** Canonical text: "50-99", "10000+", "0-9", or the exact count "12". */
  range: string;
  min: number | null;
  max: number | null;
  /** Set only when the value was an exact headcount. */
  count: number | null;
}

// "10 000" / "10.000" / "10,000" inside a range → "10000" (a separator followed by exactly three digits).
const DIGIT_GROUP = /(\d)[\s.,'’](?=\d{3}(?!\d))/g;
const NUMBER = /\d+/g;
const OPEN_ENDED = /\+|>|≥|plus|au-del|over|more|above/;
const BELOW = /<|≤|moins|less|under|fewer|below/;
const INCLUSIVE_BELOW = /<=|≤|=</;

/**
 * Employee range as Pharow/INSEE write it: "50 - 99", "Entre 10 et 19 salariés", "10 000+", "> 10000",
 * "moins de 10" (→ 0-9), or an exact number "12" (count, min and max 12). Null when unrecognised.
 */
export function parseEmployeeRange(value: unknown): EmployeeRange | null {
  if (typeof value === 'number') {
    if (!Number.isInteger(value) || value < 0) return null;
    return { range: String(value), min: value, max: value, count: value };
  }
  const text = cleanText(value);
  if (text === null) return null;
  const lower = text.toLowerCase().replace(DIGIT_GROUP, '$1');
  const numbers = lower.match(NUMBER);
  if (numbers === null || numbers.length > 2) return null;
  const first = Number(numbers[0]);
  if (!Number.isSafeInteger(first)) return null;
  if (numbers.length === 2) {
    const second = Number(numbers[1]);
    if (!Number.isSafeInteger(second) || second < first) return null;
    return { range: `${first}-${second}`, min: first, max: second, count: null };
  }
  if (OPEN_ENDED.test(lower)) return { range: `${first}+`, min: first, max: null, count: null };
  if (BELOW.test(lower)) {
    const max = INCLUSIVE_BELOW.test(lower) ? first : first - 1;
    return max < 0 ? null : { range: `0-${max}`, min: 0, max, count: null };
  }
  return { range: String(first), min: first, max: first, count: first };
}
