// A prospect's timezone from where they are: Pharow gives a person's location as "City, Region, Country"
// (French or English names). Only countries that keep one zone are mapped; for any other the campaign's
// timezone stands.

const COUNTRY_ZONES: Readonly<Record<string, string>> = {
  france: 'Europe/Paris',
  belgium: 'Europe/Brussels',
  belgique: 'Europe/Brussels',
  switzerland: 'Europe/Zurich',
  suisse: 'Europe/Zurich',
  luxembourg: 'Europe/Luxembourg',
  germany: 'Europe/Berlin',
  allemagne: 'Europe/Berlin',
  netherlands: 'Europe/Amsterdam',
  'pays-bas': 'Europe/Amsterdam',
  italy: 'Europe/Rome',
  italie: 'Europe/Rome',
  spain: 'Europe/Madrid',
  espagne: 'Europe/Madrid',
  portugal: 'Europe/Lisbon',
  'united kingdom': 'Europe/London',
  'royaume-uni': 'Europe/London',
  ireland: 'Europe/Dublin',
  irlande: 'Europe/Dublin',
  austria: 'Europe/Vienna',
  autriche: 'Europe/Vienna',
  poland: 'Europe/Warsaw',
  pologne: 'Europe/Warsaw',
  sweden: 'Europe/Stockholm',
  suède: 'Europe/Stockholm',
  denmark: 'Europe/Copenhagen',
  danemark: 'Europe/Copenhagen',
  norway: 'Europe/Oslo',
  norvège: 'Europe/Oslo',
  finland: 'Europe/Helsinki',
  finlande: 'Europe/Helsinki',
  greece: 'Europe/Athens',
  grèce: 'Europe/Athens',
  morocco: 'Africa/Casablanca',
  maroc: 'Africa/Casablanca',
  tunisia: 'Africa/Tunis',
  tunisie: 'Africa/Tunis',
  algeria: 'Africa/Algiers',
  algérie: 'Africa/Algiers',
  senegal: 'Africa/Dakar',
  sénégal: 'Africa/Dakar',
  japan: 'Asia/Tokyo',
  japon: 'Asia/Tokyo',
  singapore: 'Asia/Singapore',
  singapour: 'Asia/Singapore',
  india: 'Asia/Kolkata',
  inde: 'Asia/Kolkata',
  israel: 'Asia/Jerusalem',
  israël: 'Asia/Jerusalem',
  'united arab emirates': 'Asia/Dubai',
  'émirats arabes unis': 'Asia/Dubai',
};

/** The zone of a location's country (its last comma-separated part), or undefined when unknown. */
export function timezoneOfLocation(location: string | null | undefined): string | undefined {
  if (typeof location !== 'string') return undefined;
  const country = location.split(',').at(-1)?.trim().toLowerCase();
  return country ? COUNTRY_ZONES[country] : undefined;
}
