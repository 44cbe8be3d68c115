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
  if (defaultRegion === 'FR') {
    const fast = frenchFastPath(text);
    if (fast !== null) return fast;
  }
  text = text.replace(FRENCH_EXTENSION, '');
  const phone = parsePhoneNumberFromString(text, { defaultCountry: defaultRegion });
  return phone?.isPossible() ? phone.number : null;
}

/**
 * Most Pharow numbers are plain French ones ("01 23 45 67 89", "+33 6 12 34 56 78", "0033612345678"):
 * answer those without libphonenumber, which costs ~4 µs a call. Gives exactly what libphonenumber gives
 * for these shapes (French national numbers are always 9 digits); anything else returns null and falls through.
 */
function frenchFastPath(text: string): string | null {
  let digits = '';
  let plus = false;
  // Only digits, one leading '+', and spaces, dots or hyphens as separators.
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      digits += text[i];
    } else if (c === 43 && i === 0) {
      plus = true;
    } else if (c !== 32 && c !== 46 && c !== 45) {
      return null;
    }
  }
  let national: string;
  if (plus) {
    if (digits.length !== 11 || !digits.startsWith('33')) return null;
    national = digits.slice(2);
  } else if (digits.length === 10 && digits.charCodeAt(0) === 48) {
    national = digits.slice(1);
  } else if (digits.length === 13 && digits.startsWith('0033')) {
    national = digits.slice(4);
  } else return null;
  // A leading 0 after the country code ("+33 0 1…") is left to libphonenumber.
  return national.charCodeAt(0) === 48 ? null : `+33${national}`;
}
