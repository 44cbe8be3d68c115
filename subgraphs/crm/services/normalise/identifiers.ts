// SIREN / SIRET (French company and establishment numbers) and NAF codes.
import { cleanText } from './text.ts';

// Pharow and users write "732 829 320" or "732.829.320"; \s includes NBSP.
const SEPARATORS = /[\s.]/g;
const DIGITS_ONLY = /^\d+$/;
const NAF_CODE = /^(\d{2})\.?(\d{2})([a-z])$/i;
const NAF_SPACES = /\s/g;

// La Poste's establishments share SIREN 356000000 and their SIRETs follow a different check rule.
const LA_POSTE_SIREN = '356000000';

/** Luhn checksum over a string of ASCII digits. */
export function luhnValid(digits: string): boolean {
  let sum = 0;
  const n = digits.length;
  for (let i = 0; i < n; i++) {
    let d = digits.charCodeAt(n - 1 - i) - 48;
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

function digitSum(digits: string): number {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) sum += digits.charCodeAt(i) - 48;
  return sum;
}

/**
 * The identifier without spaces/dots, or null when empty. A JSON number lost its leading zeros
 * (spreadsheet export), so numbers are left-padded to the expected width.
 */
export function compactIdentifier(value: unknown, width: number): string | null {
  const text = cleanText(value);
  if (text === null) return null;
  const compact = text.replace(SEPARATORS, '');
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0) return compact.padStart(width, '0');
  return compact.length === 0 ? null : compact;
}

/** Why a compact SIREN is invalid, or null when it is valid. */
export function sirenProblem(siren: string): string | null {
  if (siren.length !== 9 || !DIGITS_ONLY.test(siren)) return `SIREN ${quote(siren)} must be 9 digits`;
  // 356000000 happens to pass Luhn too; kept explicit because it is the documented exception.
  if (siren === LA_POSTE_SIREN) return null;
  if (!luhnValid(siren)) return `SIREN ${quote(siren)} fails the Luhn checksum`;
  return null;
}

/** Why a compact SIRET is invalid, or null when it is valid. */
export function siretProblem(siret: string): string | null {
  if (siret.length !== 14 || !DIGITS_ONLY.test(siret)) return `SIRET ${quote(siret)} must be 14 digits`;
  if (luhnValid(siret)) return null;
  // La Poste establishments: the sum of the digits is a multiple of 5 instead of Luhn.
  if (siret.startsWith(LA_POSTE_SIREN) && digitSum(siret) % 5 === 0) return null;
  return `SIRET ${quote(siret)} fails the Luhn checksum`;
}

/** 9-digit Luhn-valid SIREN (spaces and dots removed), or null. */
export function normaliseSiren(value: unknown): string | null {
  const compact = compactIdentifier(value, 9);
  return compact !== null && sirenProblem(compact) === null ? compact : null;
}

/** 14-digit Luhn-valid SIRET (La Poste rule for 356000000…), or null. */
export function normaliseSiret(value: unknown): string | null {
  const compact = compactIdentifier(value, 14);
  return compact !== null && siretProblem(compact) === null ? compact : null;
}

/** NAF/APE code in INSEE form "62.01Z" when recognisable; other non-empty values are kept as cleaned text. */
export function normaliseNafCode(value: unknown): string | null {
  const text = cleanText(value);
  if (text === null) return null;
  const match = NAF_CODE.exec(text.replace(NAF_SPACES, ''));
  return match ? `${match[1]}.${match[2]}${match[3]!.toUpperCase()}` : text;
}

function quote(value: string): string {
  return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
}
