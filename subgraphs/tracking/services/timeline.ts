// A campaign's timeline: per hour or per local day of the campaign's timezone, how many of its emails were sent,
// first opened, first clicked by a person and answered, with empty buckets included. Whole buckets: the first
// starts at the hour or local midnight at or before `from`, the last is the one holding the instant before `to`.
import { badInput } from '../../../lib/errors.ts';

export const MAX_BUCKETS = 2000;
export const BUCKETS = ['hour', 'day'] as const;
export type Bucket = (typeof BUCKETS)[number];

export interface TimelineQuery {
  bucket: Bucket;
  from: Date;
  to: Date;
  timezone: string;
}

export interface TimelineRow {
  start: Date;
  sent: number;
  opened: number;
  clicked: number;
  replied: number;
}

const HOUR_MS = 3_600_000;

/** Checks the arguments; every refusal is a BAD_USER_INPUT saying what to change. */
export function timelineQuery(
  args: { from: Date; to: Date; bucket: string },
  timezone: string,
): TimelineQuery {
  const { from, to, bucket } = args;
  if (!(BUCKETS as readonly string[]).includes(bucket)) {
    throw badInput(`bucket must be "hour" or "day", not ${JSON.stringify(bucket.slice(0, 20))}`, {
      field: 'bucket',
    });
  }
  if (Number.isNaN(from.getTime()) || Number.isNaN(to.getTime()) || from >= to) {
    throw badInput('from must be before to', { field: 'from' });
  }
  // a local day is 23 to 25 hours: one more bucket at most either way
  const buckets =
    Math.ceil((to.getTime() - from.getTime()) / (bucket === 'hour' ? HOUR_MS : 23 * HOUR_MS)) + 1;
  if (buckets > MAX_BUCKETS) {
    throw badInput(`a timeline has at most ${MAX_BUCKETS} buckets: shorten the range or use day buckets`, {
      field: 'to',
      maxBuckets: MAX_BUCKETS,
    });
  }
  return { bucket: bucket as Bucket, from, to, timezone: validTimezone(timezone) };
}

function validTimezone(timezone: string): string {
  try {
    new Intl.DateTimeFormat('en', { timeZone: timezone });
    return timezone;
  } catch {
    return 'UTC';
  }
}

// Hours are instants an hour apart from the local hour holding `from` (right across DST changes); days are local
// days, 23 to 25 hours long.
const BUCKETS_SQL: Record<Bucket, string> = {
  hour: `SELECT generate_series(
           date_trunc('hour', $1::timestamptz AT TIME ZONE $3) AT TIME ZONE $3,
           $2::timestamptz - interval '1 microsecond', interval '1 hour') AS start`,
  day: `SELECT local AT TIME ZONE $3 AS start, (local + interval '1 day') AT TIME ZONE $3 AS next
        FROM generate_series(date_trunc('day', $1::timestamptz AT TIME ZONE $3),
           ($2::timestamptz - interval '1 microsecond') AT TIME ZONE $3, interval '1 day') AS local`,
};
const KEY_SQL: Record<Bucket, string> = {
  hour: `span.lo + floor(extract(epoch FROM f.t - span.lo) / 3600) * interval '1 hour'`,
  day: `date_trunc('day', f.t AT TIME ZONE $3) AT TIME ZONE $3`,
};

const SPAN_END_SQL: Record<Bucket, string> = {
  hour: `max(start) + interval '1 hour'`,
  day: 'max(next)',
};

/** The statement for one bucket size: `$1` from, `$2` to, `$3` timezone, `$4` campaign, `$5` organisation. */
export function timelineSql(bucket: Bucket): string {
  return `
    WITH buckets AS (${BUCKETS_SQL[bucket]} LIMIT ${MAX_BUCKETS + 2}),
    span AS (SELECT min(start) AS lo, ${SPAN_END_SQL[bucket]} AS hi FROM buckets),
    facts AS (
      SELECT ${KEY_SQL[bucket]} AS start, f.k
      FROM span, LATERAL (
        SELECT s.sent_at AS t, 's' AS k FROM tracking.message_stats s
        WHERE s.organisation_id = $5 AND s.campaign_id = $4
          AND s.sent_at >= span.lo AND s.sent_at < span.hi
        UNION ALL
        SELECT s.first_opened_at, 'o' FROM tracking.message_stats s
        WHERE s.organisation_id = $5 AND s.campaign_id = $4 AND s.sent_at IS NOT NULL
          AND s.first_opened_at >= span.lo AND s.first_opened_at < span.hi
        UNION ALL
        SELECT s.first_human_clicked_at, 'c' FROM tracking.message_stats s
        WHERE s.organisation_id = $5 AND s.campaign_id = $4 AND s.sent_at IS NOT NULL
          AND s.first_human_clicked_at >= span.lo AND s.first_human_clicked_at < span.hi
        UNION ALL
        SELECT s.replied_at, 'r' FROM tracking.message_stats s
        WHERE s.organisation_id = $5 AND s.campaign_id = $4 AND s.sent_at IS NOT NULL
          AND s.replied_at >= span.lo AND s.replied_at < span.hi
      ) f
    )
    SELECT b.start,
      count(f.k) FILTER (WHERE f.k = 's')::int AS sent,
      count(f.k) FILTER (WHERE f.k = 'o')::int AS opened,
      count(f.k) FILTER (WHERE f.k = 'c')::int AS clicked,
      count(f.k) FILTER (WHERE f.k = 'r')::int AS replied
    FROM buckets b LEFT JOIN facts f ON f.start = b.start
    GROUP BY b.start ORDER BY b.start`;
}
