// Sending windows in a timezone: when a campaign may send, the next opening, and delays counted in the
// window's own days. Pure (Intl only): wall-clock times are converted to instants per date, so a window
// keeps its local hours across a DST change.
import { isTimeZone } from '../../../lib/validation/timezone.ts';

/** When a campaign may send: days 1 = Monday ... 7 = Sunday, local hours startHour (inclusive) to endHour (exclusive). */
export interface SendWindow {
  timezone: string;
  days: readonly number[];
  startHour: number;
  endHour: number;
}

interface LocalDate {
  year: number;
  month: number;
  day: number;
}

interface LocalTime extends LocalDate {
  hour: number;
  minute: number;
  second: number;
  millisecond: number;
}

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
// a window has at least one day a week, so an opening is always within 8 local dates
const SEARCH_DAYS = 8;

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timezone: string): Intl.DateTimeFormat {
  let f = formatters.get(timezone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: timezone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timezone, f);
  }
  return f;
}

/** Why a window cannot be used, or undefined when it can. */
export function scheduleProblem(window: SendWindow): string | undefined {
  if (!isTimeZone(window.timezone)) return `unknown timezone "${window.timezone}"`;
  if (window.days.length === 0 || window.days.some((d) => !Number.isInteger(d) || d < 1 || d > 7)) {
    return 'days must be a non-empty list of 1 (Monday) to 7 (Sunday)';
  }
  const { startHour, endHour } = window;
  if (!Number.isInteger(startHour) || !Number.isInteger(endHour) || startHour < 0 || endHour > 24) {
    return 'startHour and endHour must be whole hours between 0 and 24';
  }
  if (startHour >= endHour) return 'startHour must be before endHour';
  return undefined;
}

const MINUTE_MS = 60_000;
/** Offsets looked up, per zone and minute: a zone's offset only changes on a whole minute. */
const offsets = new Map<string, number>();
const MAX_OFFSETS = 50_000;

function wallClockMs(t: LocalTime): number {
  return Date.UTC(t.year, t.month - 1, t.day, t.hour, t.minute, t.second, t.millisecond);
}

/** The zone's offset from UTC at an instant, in ms (Intl asked once per zone and minute). */
function offsetAt(timezone: string, ms: number): number {
  const minute = Math.floor(ms / MINUTE_MS) * MINUTE_MS;
  const key = `${timezone} ${minute}`;
  let offset = offsets.get(key);
  if (offset === undefined) {
    const parts: Record<string, number> = {};
    for (const p of formatter(timezone).formatToParts(new Date(minute))) {
      if (p.type !== 'literal') parts[p.type] = Number(p.value);
    }
    const wall = Date.UTC(parts.year, parts.month - 1, parts.day, parts.hour, parts.minute, parts.second);
    offset = wall - minute;
    if (offsets.size >= MAX_OFFSETS) offsets.clear();
    offsets.set(key, offset);
  }
  return offset;
}

/** The wall-clock time at an instant in a zone. */
export function localTime(timezone: string, at: Date): LocalTime {
  const wall = new Date(at.getTime() + offsetAt(timezone, at.getTime()));
  return {
    year: wall.getUTCFullYear(),
    month: wall.getUTCMonth() + 1,
    day: wall.getUTCDate(),
    hour: wall.getUTCHours(),
    minute: wall.getUTCMinutes(),
    second: wall.getUTCSeconds(),
    millisecond: wall.getUTCMilliseconds(),
  };
}

/**
 * The instant a wall-clock time occurs in a zone. A time skipped by a DST jump maps to the same distance
 * after the jump (02:00 on a spring-forward night is 03:00); a repeated time maps to its first occurrence.
 */
export function zonedInstant(timezone: string, t: LocalTime): Date {
  const wall = wallClockMs(t);
  // the offsets half a day either side: a zone changes offset at most once in that span
  const earlier = wall - offsetAt(timezone, wall - 12 * HOUR_MS);
  const later = wall - offsetAt(timezone, wall + 12 * HOUR_MS);
  const shows = (ms: number) => wallClockMs(localTime(timezone, new Date(ms))) === wall;
  const candidates = [Math.min(earlier, later), Math.max(earlier, later)].filter(shows);
  // none shows it: the time was skipped, and the later mapping is the same distance after the jump
  return new Date(candidates[0] ?? Math.max(earlier, later));
}

function addDays(date: LocalDate, days: number): LocalDate {
  const d = new Date(Date.UTC(date.year, date.month - 1, date.day) + days * DAY_MS);
  return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate() };
}

/** 1 = Monday ... 7 = Sunday. */
export function isoWeekday(date: LocalDate): number {
  const d = new Date(Date.UTC(date.year, date.month - 1, date.day)).getUTCDay();
  return d === 0 ? 7 : d;
}

function atHour(timezone: string, date: LocalDate, hour: number): Date {
  // endHour 24 is the next day's midnight
  const d = hour === 24 ? addDays(date, 1) : date;
  return zonedInstant(timezone, { ...d, hour: hour % 24, minute: 0, second: 0, millisecond: 0 });
}

/** The window's opening and closing on one local date. */
function windowOn(window: SendWindow, date: LocalDate): { start: Date; end: Date } {
  return {
    start: atHour(window.timezone, date, window.startHour),
    end: atHour(window.timezone, date, window.endHour),
  };
}

/** The window that contains `at` or comes next: `at` itself when inside, else the next opening. */
export function nextOpening(window: SendWindow, at: Date): Date {
  return currentOrNextWindow(window, at).from;
}

/** The window containing `at` or the next one, as [from, end): `from` is `at` when inside. */
export function currentOrNextWindow(window: SendWindow, at: Date): { from: Date; end: Date } {
  const today = localTime(window.timezone, at);
  // the day before too: a window ending at midnight may still be open just after it on a DST day
  for (let i = -1; i < SEARCH_DAYS; i++) {
    const date = addDays(today, i);
    if (!window.days.includes(isoWeekday(date))) continue;
    const { start, end } = windowOn(window, date);
    if (at.getTime() < end.getTime()) {
      return { from: at.getTime() >= start.getTime() ? at : start, end };
    }
  }
  throw new Error('a send window must have at least one day');
}

export function isOpen(window: SendWindow, at: Date): boolean {
  return nextOpening(window, at).getTime() === at.getTime();
}

/**
 * `days` window days after `at`, at the same local time of day, then into the window: with Mon–Fri, two
 * days after a Friday is Tuesday; zero days is `at` itself (or the next opening when outside).
 */
export function addWindowDays(window: SendWindow, at: Date, days: number): Date {
  if (days <= 0) return nextOpening(window, at);
  const local = localTime(window.timezone, at);
  let date: LocalDate = local;
  for (let counted = 0; counted < days; ) {
    date = addDays(date, 1);
    if (window.days.includes(isoWeekday(date))) counted++;
  }
  return nextOpening(window, zonedInstant(window.timezone, { ...local, ...date }));
}

/** The local midnight that starts the day containing `at`, and the next one. */
export function localDay(timezone: string, at: Date): { start: Date; end: Date } {
  const date = localTime(timezone, at);
  return { start: atHour(timezone, date, 0), end: atHour(timezone, addDays(date, 1), 0) };
}
