// Dates and years: ISO or French day/month/year; a bare year is not a date.
import { cleanText } from './text.ts';

const ISO_DATE =
  /^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/;
// French order: day/month/year.
const FRENCH_DATE = /^(\d{1,2})[-/.](\d{1,2})[-/.](\d{4})$/;
const YEAR = /^\d{4}$/;
const MIN_YEAR = 1800;

// Cached so hot loops do not allocate a Date per call; refreshed once the cached year is over.
let cachedYear = 0;
let cachedYearEndsAt = 0;
function currentYear(): number {
  const now = Date.now();
  if (now >= cachedYearEndsAt) {
    cachedYear = new Date(now).getUTCFullYear();
    cachedYearEndsAt = Date.UTC(cachedYear + 1, 0, 1);
  }
  return cachedYear;
}

/** A year between 1800 and next year (number or 4-digit string), else null. */
export function parseYear(value: unknown): number | null {
  let year: number;
  if (typeof value === 'number') year = value;
  else {
    const text = cleanText(value);
    if (text === null || !YEAR.test(text)) return null;
    year = Number(text);
  }
  return Number.isInteger(year) && year >= MIN_YEAR && year <= currentYear() + 1 ? year : null;
}

/**
 * "YYYY-MM-DD" from "2015-03-01" (a time part is ignored), "2015/03/01" or French "01/03/2015";
 * null for a bare year, impossible dates (2015-02-30) and anything else.
 */
export function parseDate(value: unknown): string | null {
  if (typeof value !== 'string') return null;
  const text = cleanText(value);
  if (text === null) return null;
  let year: number;
  let month: number;
  let day: number;
  let match = ISO_DATE.exec(text);
  if (match !== null) {
    year = Number(match[1]);
    month = Number(match[2]);
    day = Number(match[3]);
  } else {
    match = FRENCH_DATE.exec(text);
    if (match === null) return null;
    day = Number(match[1]);
    month = Number(match[2]);
    year = Number(match[3]);
  }
  if (year < 1000 || month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return null;
  return `${year}-${month < 10 ? '0' : ''}${month}-${day < 10 ? '0' : ''}${day}`;
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}
