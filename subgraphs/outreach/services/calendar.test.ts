import { describe, expect, it } from 'vitest';
import {
  addWindowDays,
  isOpen,
  localDay,
  nextOpening,
  type SendWindow,
  scheduleProblem,
  zonedInstant,
} from './calendar.ts';
import { timezoneOfLocation } from './prospect-timezone.ts';

const paris: SendWindow = { timezone: 'Europe/Paris', days: [1, 2, 3, 4, 5], startHour: 9, endHour: 18 };
const newYork: SendWindow = {
  timezone: 'America/New_York',
  days: [1, 2, 3, 4, 5],
  startHour: 9,
  endHour: 17,
};
const iso = (d: Date) => d.toISOString();

describe('send windows', () => {
  it('is open inside the local hours of a window day only', () => {
    // Wednesday 2026-03-04, Paris is UTC+1
    expect(isOpen(paris, new Date('2026-03-04T08:00:00Z'))).toBe(true); // 09:00 local
    expect(isOpen(paris, new Date('2026-03-04T07:59:59Z'))).toBe(false);
    expect(isOpen(paris, new Date('2026-03-04T16:59:59Z'))).toBe(true);
    expect(isOpen(paris, new Date('2026-03-04T17:00:00Z'))).toBe(false); // 18:00: end is exclusive
    expect(isOpen(paris, new Date('2026-03-07T10:00:00Z'))).toBe(false); // Saturday
  });

  it('finds the next opening: later today, the next window day, or after a weekend', () => {
    expect(iso(nextOpening(paris, new Date('2026-03-04T06:00:00Z')))).toBe('2026-03-04T08:00:00.000Z');
    expect(iso(nextOpening(paris, new Date('2026-03-04T12:34:00Z')))).toBe('2026-03-04T12:34:00.000Z');
    expect(iso(nextOpening(paris, new Date('2026-03-04T19:00:00Z')))).toBe('2026-03-05T08:00:00.000Z');
    // Friday evening -> Monday 09:00
    expect(iso(nextOpening(paris, new Date('2026-03-06T17:30:00Z')))).toBe('2026-03-09T08:00:00.000Z');
  });

  it('keeps local hours across DST changes in both directions', () => {
    // Paris springs forward on Sunday 2026-03-29: Friday opens 08:00Z, Monday 07:00Z
    expect(iso(nextOpening(paris, new Date('2026-03-27T00:00:00Z')))).toBe('2026-03-27T08:00:00.000Z');
    expect(iso(nextOpening(paris, new Date('2026-03-27T20:00:00Z')))).toBe('2026-03-30T07:00:00.000Z');
    // New York falls back on Sunday 2026-11-01: Friday 13:00Z, Monday 14:00Z
    expect(iso(nextOpening(newYork, new Date('2026-10-30T05:00:00Z')))).toBe('2026-10-30T13:00:00.000Z');
    expect(iso(nextOpening(newYork, new Date('2026-10-30T22:00:00Z')))).toBe('2026-11-02T14:00:00.000Z');
    // a window day that is itself the change: Sunday opening, same local hour
    const everyDay = { ...paris, days: [1, 2, 3, 4, 5, 6, 7] };
    expect(iso(nextOpening(everyDay, new Date('2026-03-28T20:00:00Z')))).toBe('2026-03-29T07:00:00.000Z');
  });

  it('maps wall-clock times skipped or repeated by DST', () => {
    // 02:30 does not exist in Paris on 2026-03-29: it maps to the same distance after the jump
    const skipped = zonedInstant('Europe/Paris', {
      year: 2026,
      month: 3,
      day: 29,
      hour: 2,
      minute: 30,
      second: 0,
      millisecond: 0,
    });
    expect(iso(skipped)).toBe('2026-03-29T01:30:00.000Z');
    // 02:30 happens twice on 2026-10-25: the first one
    const repeated = zonedInstant('Europe/Paris', {
      year: 2026,
      month: 10,
      day: 25,
      hour: 2,
      minute: 30,
      second: 0,
      millisecond: 0,
    });
    expect(iso(repeated)).toBe('2026-10-25T00:30:00.000Z');
  });

  it('counts delays in window days at the same local time', () => {
    // sent Friday 2026-03-06 15:00 Paris; 2 window days (Mon-Fri) later is Tuesday 15:00
    expect(iso(addWindowDays(paris, new Date('2026-03-06T14:00:00Z'), 2))).toBe('2026-03-10T14:00:00.000Z');
    // zero days: at once when inside the window, else the next opening
    expect(iso(addWindowDays(paris, new Date('2026-03-06T14:00:00Z'), 0))).toBe('2026-03-06T14:00:00.000Z');
    expect(iso(addWindowDays(paris, new Date('2026-03-06T17:30:00Z'), 0))).toBe('2026-03-09T08:00:00.000Z');
    // across the spring-forward weekend: Friday 10:00 local + 1 day = Monday 10:00 local (one hour less UTC)
    expect(iso(addWindowDays(paris, new Date('2026-03-27T09:00:00Z'), 1))).toBe('2026-03-30T08:00:00.000Z');
    // sent after hours: the same local time the next window day is outside too, so the opening after it
    expect(iso(addWindowDays(paris, new Date('2026-03-04T19:00:00Z'), 1))).toBe('2026-03-06T08:00:00.000Z');
  });

  it('gives local days from midnight to midnight, 23 or 25 hours long on DST days', () => {
    const spring = localDay('Europe/Paris', new Date('2026-03-29T12:00:00Z'));
    expect([iso(spring.start), iso(spring.end)]).toEqual([
      '2026-03-28T23:00:00.000Z',
      '2026-03-29T22:00:00.000Z',
    ]);
    const autumn = localDay('America/New_York', new Date('2026-11-01T12:00:00Z'));
    expect(autumn.end.getTime() - autumn.start.getTime()).toBe(25 * 3_600_000);
  });

  it('windows in two zones open at their own local hours', () => {
    const at = new Date('2026-03-04T06:00:00Z');
    expect(iso(nextOpening(paris, at))).toBe('2026-03-04T08:00:00.000Z');
    expect(iso(nextOpening(newYork, at))).toBe('2026-03-04T14:00:00.000Z');
    const tokyo = { ...paris, timezone: 'Asia/Tokyo' };
    // 06:00Z is 15:00 in Tokyo: open
    expect(iso(nextOpening(tokyo, at))).toBe(iso(at));
  });

  it('explains an unusable schedule', () => {
    expect(scheduleProblem(paris)).toBeUndefined();
    expect(scheduleProblem({ ...paris, timezone: 'Mars/Olympus' })).toMatch(/unknown timezone/);
    expect(scheduleProblem({ ...paris, days: [] })).toMatch(/days/);
    expect(scheduleProblem({ ...paris, days: [0, 8] })).toMatch(/days/);
    expect(scheduleProblem({ ...paris, startHour: 18, endHour: 9 })).toMatch(/before/);
    expect(scheduleProblem({ ...paris, startHour: 0, endHour: 24 })).toBeUndefined();
  });

  it("maps a prospect's location to their country's zone", () => {
    expect(timezoneOfLocation('Lyon, Auvergne-Rhône-Alpes, France')).toBe('Europe/Paris');
    expect(timezoneOfLocation('Tokyo, Japan')).toBe('Asia/Tokyo');
    expect(timezoneOfLocation('Austin, Texas, United States')).toBeUndefined();
    expect(timezoneOfLocation(null)).toBeUndefined();
  });
});
