// Phone numbers to E.164. The `min` metadata only checks lengths (isPossible), which is what we want:
// stricter digit patterns go stale as new number ranges are assigned.
import { type CountryCode, parsePhoneNumberFromString } from 'libphonenumber-js/min';
import { cleanText } from './text.ts';

// libphonenumber understands "ext"/"x" but not the French "poste 12"; the extension is dropped from E.164 anyway.
const FRENCH_EXTENSION = /\s*(?:poste|p\.)\s*\d{1,6}$/i;

/** E.164 (e.g. "+33123456789") with `defaultRegion` for national numbers; null when unparseable or impossible. */
export function normalisePhone(value: unknown, defaultRegion: CountryCode = 'FR'): string | null {
  let text = cleanText(value);
  if (text === null) return null;
  text = text.replace(FRENCH_EXTENSION, '');
  const phone = parsePhoneNumberFromString(text, { defaultCountry: defaultRegion });
  return phone?.isPossible() ? phone.number : null;
}
