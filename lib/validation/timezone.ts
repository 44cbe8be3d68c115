// IANA timezone names (Europe/Paris, America/New_York, UTC), as campaigns and mailboxes store them.
const ZONES = new Set<string>([...Intl.supportedValuesOf('timeZone'), 'UTC', 'Etc/UTC']);

/** True for a timezone name this runtime knows, canonical or an alias (Asia/Calcutta); never an offset. */
export function isTimeZone(value: string): boolean {
  if (ZONES.has(value)) return true;
  if (!/^[A-Za-z][A-Za-z0-9_+-]*(\/[A-Za-z0-9_+-]+){0,2}$/.test(value)) return false;
  try {
    return ZONES.has(new Intl.DateTimeFormat('en', { timeZone: value }).resolvedOptions().timeZone);
  } catch {
    return false;
  }
}
