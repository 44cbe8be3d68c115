// Matching key for people without a LinkedIn URL at the same company.

const COMBINING_MARKS = /[\u0300-\u036f]/g;
// Letters NFD does not decompose into base + accent.
const SPECIAL_LETTERS = /[œæßøłđðþı]/g;
const SPECIAL_REPLACEMENTS: Record<string, string> = {
  œ: 'oe',
  æ: 'ae',
  ß: 'ss',
  ø: 'o',
  ł: 'l',
  đ: 'd',
  ð: 'd',
  þ: 'th',
  ı: 'i',
};
// Hyphens, apostrophes and dots count as spaces so "Jean-Pierre" and "Jean Pierre", "N'Diaye" and "N Diaye" match.
const SEPARATOR_RUN = /[\s\-‐‑‒–—'’ʼ`´.,]+/g;
const NON_ASCII = /[\u0080-\uffff]/;

/** "first last" lower-cased, accents stripped, separators collapsed: "Élodie  Durand" → "elodie durand". */
export function nameKey(first: string | null | undefined, last: string | null | undefined): string | null {
  let key = `${first ?? ''} ${last ?? ''}`.toLowerCase();
  if (NON_ASCII.test(key)) {
    key = key
      .normalize('NFD')
      .replace(COMBINING_MARKS, '')
      .replace(SPECIAL_LETTERS, (letter) => SPECIAL_REPLACEMENTS[letter] ?? letter);
  }
  key = key.replace(SEPARATOR_RUN, ' ').trim();
  return key === '' ? null : key;
}
