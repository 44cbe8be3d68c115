// Pure normalisation of Pharow prospects (company / person / position) for the CRM ingest.
export { parseDate, parseYear } from './dates.ts';
export {
  checkEmail,
  domainFromEmail,
  type EmailCheck,
  type EmailStatus,
  isFreeMailDomain,
  mapEmailStatus,
  normaliseEmailValue,
} from './emails.ts';
export {
  compactIdentifier,
  luhnValid,
  normaliseNafCode,
  normaliseSiren,
  normaliseSiret,
  sirenProblem,
  siretProblem,
} from './identifiers.ts';
export { nameKey } from './names.ts';
export { type EmployeeRange, parseEmployeeRange, parseInteger, parseReliability } from './numbers.ts';
export {
  CompanyMemo,
  MAX_TEXT_LENGTH,
  MAX_URL_LENGTH,
  type NormalisationResult,
  type NormalisedCompany,
  type NormalisedItem,
  type NormalisedPerson,
  type NormalisedPosition,
  normalisePharowItem,
  type Rejection,
} from './pharow-item.ts';
export { normalisePhone } from './phone.ts';
export { type CleanTextOptions, cleanText, parseBoolean } from './text.ts';
export { domainFromUrl, type LinkedinKind, normaliseLinkedinUrl, normaliseUrl } from './urls.ts';
