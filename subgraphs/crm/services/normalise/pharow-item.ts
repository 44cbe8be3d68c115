// One Pharow V2 item ({ company, person, position }) → rows for crm.companies / crm.people / crm.positions.
// A change to what an item normalises to must bump NORMALISATION_VERSION (../known-items.ts): raw items
// stored earlier are otherwise still recognised and skipped with what the old rules made of them.
import { parseDate, parseYear } from './dates.ts';
import { checkEmail, domainFromEmail, type EmailStatus, mapEmailStatus } from './emails.ts';
import { compactIdentifier, normaliseNafCode, sirenProblem, siretProblem } from './identifiers.ts';
import { nameKey } from './names.ts';
import { parseEmployeeRange, parseInteger, parseReliability } from './numbers.ts';
import { normalisePhone } from './phone.ts';
import { cleanText, parseBoolean } from './text.ts';
import { hostOfNormalisedUrl, normaliseLinkedinUrl, normaliseUrl, stripWww } from './urls.ts';

export interface Rejection {
  index: number;
  field: string;
  message: string;
}

export interface NormalisedCompany {
  pharowCompanyId: string | null;
  siren: string | null;
  hqSiret: string | null;
  name: string;
  brandName: string | null;
  linkedinName: string | null;
  linkedinUrl: string | null;
  websiteUrl: string | null;
  domain: string | null;
  mainPhone: string | null;
  genericEmail: string | null;
  nafSector: string | null;
  nafCode: string | null;
  activity: string | null;
  foundingYear: number | null;
  /** YYYY-MM-DD */
  foundingDate: string | null;
  growing: boolean | null;
  employeeCount: number | null;
  employeeRange: string | null;
  employeeMin: number | null;
  employeeMax: number | null;
  hqAddress: string | null;
  annualRevenueEur: number | null;
  annualRevenueYear: number | null;
}

export interface NormalisedPerson {
  firstName: string | null;
  lastName: string | null;
  salutation: string | null;
  linkedinUrl: string | null;
  mobilePhone: string | null;
  location: string | null;
  nameKey: string | null;
}

export interface NormalisedPosition {
  jobTitle: string | null;
  email: string | null;
  emailStatus: EmailStatus;
  emailReliability: number | null;
  pharowListName: string | null;
}

export interface NormalisedItem {
  index: number;
  company: NormalisedCompany;
  person: NormalisedPerson;
  position: NormalisedPosition;
}

export interface NormalisationResult {
  item?: NormalisedItem;
  rejections: Rejection[];
}

export const MAX_TEXT_LENGTH = 1000;
export const MAX_URL_LENGTH = 2048;
const MAX_INT = 2_147_483_647;

// Hosts that are profiles or directories, not the company's own site: their domain must not identify the company.
const NON_COMPANY_HOSTS = new Set([
  'linkedin.com',
  'facebook.com',
  'instagram.com',
  'twitter.com',
  'x.com',
  'youtube.com',
  'google.com',
  'sites.google.com',
  'societe.com',
  'pagesjaunes.fr',
  'pappers.fr',
  'infogreffe.fr',
]);

type Group = Record<string, unknown>;

interface Context {
  index: number;
  rejections: Rejection[];
}

function isGroup(value: unknown): value is Group {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function reject(ctx: Context, field: string, message: string): void {
  ctx.rejections.push({ index: ctx.index, field, message });
}

const MULTILINE = { multiline: true } as const;

/** Cleaned text of `group[key]`; rejects non-scalar values and values longer than `max`. */
function readText(
  ctx: Context,
  group: Group,
  path: string,
  key: string,
  max = MAX_TEXT_LENGTH,
  multiline = false,
): string | null {
  const value = group[key];
  if (value === undefined || value === null) return null;
  const type = typeof value;
  if (type !== 'string' && type !== 'number' && type !== 'boolean') {
    reject(ctx, `${path}.${key}`, `${key} must be a string, number or boolean`);
    return null;
  }
  const text = cleanText(value, multiline ? MULTILINE : undefined);
  if (text !== null && text.length > max) {
    reject(ctx, `${path}.${key}`, `${key} is longer than ${max} characters (${text.length})`);
    return null;
  }
  return text;
}

// Companies kept per name in one batch's memo: a name shared by many different companies stays cheap to look up.
const MEMO_PER_NAME = 8;

interface MemoEntry {
  raw: Group;
  keyCount: number;
  company: NormalisedCompany;
  rejections: { field: string; message: string }[];
}

/**
 * One batch's normalised companies, by their raw values. An export repeats a company's columns on every row
 * of its people (10,000 items carry a few thousand companies): each distinct raw company is normalised once.
 * The same raw values always normalise to the same company and the same rejections.
 */
export class CompanyMemo {
  private readonly byName = new Map<string, MemoEntry[]>();

  /** What `normalise` makes of `raw`, pushing its rejections into `ctx`, done once per distinct raw value. */
  get(ctx: Context, raw: Group, normalise: (ctx: Context, raw: Group) => NormalisedCompany) {
    const name = raw.companyName;
    if (typeof name !== 'string') return normalise(ctx, raw);
    const entries = this.byName.get(name);
    const hit = entries?.find((entry) => sameGroup(entry, raw));
    if (hit) {
      for (const r of hit.rejections) reject(ctx, r.field, r.message);
      // each item gets its own object: the item's email can still give it a domain
      return { ...hit.company };
    }
    const before = ctx.rejections.length;
    const company = normalise(ctx, raw);
    const list = entries ?? [];
    if (list.length < MEMO_PER_NAME) {
      list.push({
        raw,
        keyCount: Object.keys(raw).length,
        company: { ...company },
        rejections: ctx.rejections.slice(before).map(({ field, message }) => ({ field, message })),
      });
      this.byName.set(name, list);
    }
    return company;
  }
}

/** Whether `raw` has exactly the entry's keys and values (scalars compare by value, anything else never). */
function sameGroup(entry: MemoEntry, raw: Group): boolean {
  let count = 0;
  for (const key in raw) {
    const value = raw[key];
    if (value !== entry.raw[key] || (typeof value === 'object' && value !== null)) return false;
    count++;
  }
  return count === entry.keyCount;
}

/**
 * Normalises one raw Pharow item. Values may be strings, numbers, booleans, null or missing; unknown fields are
 * ignored. Returns the item, or every rejection found for it (field = Pharow path such as
 * "company.companySiren"; "item" when the item itself is not an object). A batch passes one `memo` to all
 * its items.
 */
export function normalisePharowItem(raw: unknown, index: number, memo?: CompanyMemo): NormalisationResult {
  const ctx: Context = { index, rejections: [] };
  if (!isGroup(raw)) {
    reject(ctx, 'item', 'item must be an object with company, person and position');
    return { rejections: ctx.rejections };
  }
  const companyRaw = raw.company;
  const personRaw = raw.person;
  const positionRaw = raw.position;
  if (!isGroup(companyRaw)) reject(ctx, 'company', missingGroupMessage('company', companyRaw));
  if (!isGroup(personRaw)) reject(ctx, 'person', missingGroupMessage('person', personRaw));
  if (!isGroup(positionRaw)) reject(ctx, 'position', missingGroupMessage('position', positionRaw));
  if (!isGroup(companyRaw) || !isGroup(personRaw) || !isGroup(positionRaw))
    return { rejections: ctx.rejections };

  const company = memo ? memo.get(ctx, companyRaw, normaliseCompany) : normaliseCompany(ctx, companyRaw);
  const person = normalisePerson(ctx, personRaw);
  const position = normalisePosition(ctx, positionRaw);
  if (ctx.rejections.length > 0) return { rejections: ctx.rejections };

  // Website first; then the person's work email, then the generic email (both only when not free mail).
  company.domain ??= domainFromEmail(position.email) ?? domainFromEmail(company.genericEmail);
  return { item: { index, company, person, position }, rejections: ctx.rejections };
}

function missingGroupMessage(name: string, value: unknown): string {
  return value === undefined || value === null ? `${name} is missing` : `${name} must be an object`;
}

function normaliseCompany(ctx: Context, c: Group): NormalisedCompany {
  const p = 'company';
  const name = readText(ctx, c, p, 'companyName');
  if (name === null && !hasRejection(ctx, 'company.companyName')) {
    reject(ctx, 'company.companyName', 'companyName is required (empty after trimming)');
  }

  const givenSiren = readSiren(ctx, c);
  const hqSiret = readSiret(ctx, c, givenSiren);
  // A valid SIRET starts with its SIREN: recover it so the company still dedupes on SIREN.
  const siren =
    givenSiren ??
    (hqSiret !== null && sirenProblem(hqSiret.slice(0, 9)) === null ? hqSiret.slice(0, 9) : null);

  // Invalid website / LinkedIn URLs are dropped, not rejected: Pharow data is messy and losing one URL is
  // better than losing the prospect. Over-long URLs are still rejected by readText.
  const websiteUrl = normaliseUrl(readText(ctx, c, p, 'companyUrl', MAX_URL_LENGTH));
  const linkedinUrl = normaliseLinkedinUrl(
    readText(ctx, c, p, 'companyLinkedinUrl', MAX_URL_LENGTH),
    'company',
  );
  let domain: string | null = null;
  if (websiteUrl !== null) {
    const host = stripWww(hostOfNormalisedUrl(websiteUrl));
    if (!NON_COMPANY_HOSTS.has(host)) domain = host;
  }

  // A bad generic email only loses that value: the rejection rule is for the person's email.
  const genericEmail = checkEmail(readText(ctx, c, p, 'companyGenericEmail')).email;

  const foundingDateText = readText(ctx, c, p, 'companyFoundingDate');
  const foundingDate = parseDate(foundingDateText);
  const foundingYear =
    parseYear(readText(ctx, c, p, 'companyFoundingYear')) ??
    (foundingDate !== null ? parseYear(foundingDate.slice(0, 4)) : parseYear(foundingDateText));

  // Headcount: an exact number, or (messy data) a range written in the count field.
  const countText = readText(ctx, c, p, 'companyNbEmployees');
  let employeeCount = parseInteger(countText);
  const countAsRange = employeeCount === null && countText !== null ? parseEmployeeRange(countText) : null;
  const range = parseEmployeeRange(readText(ctx, c, p, 'companyEmployeeRangeCorrected')) ?? countAsRange;
  employeeCount ??= range?.count ?? null;
  if (employeeCount !== null && (employeeCount < 0 || employeeCount > MAX_INT)) employeeCount = null;

  const revenue = parseInteger(readText(ctx, c, p, 'companyAnnualRevenueEuros'));

  return {
    pharowCompanyId: readText(ctx, c, p, 'pharowCompanyId'),
    siren,
    hqSiret,
    name: name ?? '',
    brandName: readText(ctx, c, p, 'companyBrandName'),
    linkedinName: readText(ctx, c, p, 'companyLinkedinName'),
    linkedinUrl,
    websiteUrl,
    domain,
    mainPhone: normalisePhone(readText(ctx, c, p, 'companyMainPhone')),
    genericEmail,
    nafSector: readText(ctx, c, p, 'companyNafSector'),
    nafCode: normaliseNafCode(readText(ctx, c, p, 'companyNafCode')),
    activity: readText(ctx, c, p, 'companyActivity', MAX_TEXT_LENGTH, true),
    foundingYear,
    foundingDate,
    growing: parseBoolean(readText(ctx, c, p, 'companyGrowing')),
    employeeCount,
    employeeRange: range?.range ?? null,
    employeeMin: range !== null && range.min !== null && range.min <= MAX_INT ? range.min : null,
    employeeMax: range !== null && range.max !== null && range.max <= MAX_INT ? range.max : null,
    hqAddress: readText(ctx, c, p, 'companyHqFullAddress'),
    annualRevenueEur: revenue !== null && revenue >= 0 ? revenue : null,
    annualRevenueYear: parseYear(readText(ctx, c, p, 'companyAnnualRevenueYear')),
  };
}

function readSiren(ctx: Context, c: Group): string | null {
  if (readText(ctx, c, 'company', 'companySiren') === null) return null;
  const siren = compactIdentifier(c.companySiren, 9);
  if (siren === null) return null;
  const problem = sirenProblem(siren);
  if (problem !== null) {
    reject(ctx, 'company.companySiren', problem);
    return null;
  }
  return siren;
}

function readSiret(ctx: Context, c: Group, siren: string | null): string | null {
  if (readText(ctx, c, 'company', 'companyHqSiret') === null) return null;
  const siret = compactIdentifier(c.companyHqSiret, 14);
  if (siret === null) return null;
  const problem = siretProblem(siret);
  if (problem !== null) {
    reject(ctx, 'company.companyHqSiret', problem);
    return null;
  }
  const sirenOfSiret = siret.slice(0, 9);
  if (siren !== null && sirenOfSiret !== siren) {
    reject(
      ctx,
      'company.companyHqSiret',
      `SIRET ${siret} belongs to SIREN ${sirenOfSiret}, not to the companySiren ${siren}`,
    );
    return null;
  }
  return siret;
}

function normalisePerson(ctx: Context, g: Group): NormalisedPerson {
  const p = 'person';
  const firstName = readText(ctx, g, p, 'personFirstName');
  const lastName = readText(ctx, g, p, 'personLastName');
  // Dropped when invalid (see the company URLs); the identity check below then uses what is left.
  const linkedinUrl = normaliseLinkedinUrl(
    readText(ctx, g, p, 'personLinkedinUrl', MAX_URL_LENGTH),
    'person',
  );
  if (firstName === null && lastName === null && linkedinUrl === null && !hasRejection(ctx, 'person.')) {
    reject(ctx, 'person', 'person needs a first name, a last name or a valid LinkedIn URL');
  }
  return {
    firstName,
    lastName,
    salutation: readText(ctx, g, p, 'personSalutation'),
    linkedinUrl,
    mobilePhone: normalisePhone(readText(ctx, g, p, 'personMobilePhone')),
    location: readText(ctx, g, p, 'personLocation'),
    nameKey: nameKey(firstName, lastName),
  };
}

function normalisePosition(ctx: Context, g: Group): NormalisedPosition {
  const p = 'position';
  const emailText = readText(ctx, g, p, 'positionEmail');
  const { email, error } = checkEmail(emailText);
  if (error !== null) reject(ctx, 'position.positionEmail', error);
  return {
    jobTitle: readText(ctx, g, p, 'positionJobTitle'),
    email,
    emailStatus: mapEmailStatus(readText(ctx, g, p, 'positionEmailStatus')),
    emailReliability: parseReliability(readText(ctx, g, p, 'positionEmailReliability')),
    pharowListName: readText(ctx, g, p, 'pharowListName'),
  };
}

function hasRejection(ctx: Context, prefix: string): boolean {
  for (const r of ctx.rejections) if (r.field.startsWith(prefix)) return true;
  return false;
}
