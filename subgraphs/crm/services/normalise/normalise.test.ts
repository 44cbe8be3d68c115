import { parsePhoneNumberFromString } from 'libphonenumber-js/min';
import { describe, expect, it } from 'vitest';
import { generatePharowBatch } from '../../../../bench/fixtures/pharow-generator.ts';
import {
  CompanyMemo,
  checkEmail,
  cleanText,
  domainFromEmail,
  domainFromUrl,
  isFreeMailDomain,
  luhnValid,
  mapEmailStatus,
  type NormalisedItem,
  nameKey,
  normaliseLinkedinUrl,
  normaliseNafCode,
  normalisePharowItem,
  normalisePhone,
  normaliseSiren,
  normaliseSiret,
  normaliseUrl,
  parseBoolean,
  parseDate,
  parseEmployeeRange,
  parseInteger,
  parseReliability,
  parseYear,
  sirenProblem,
  siretProblem,
} from './index.ts';

describe('cleanText', () => {
  it('trims and collapses whitespace, including NBSP and the narrow NBSP', () => {
    expect(cleanText('  Élodie  ')).toBe('Élodie');
    expect(cleanText('Jean\u00a0\u00a0Pierre')).toBe('Jean Pierre');
    expect(cleanText('1\u202f000')).toBe('1 000');
    expect(cleanText('a\tb\n\nc')).toBe('a b c');
    expect(cleanText('plain ascii text')).toBe('plain ascii text');
  });

  it('removes zero-width characters, BOM, soft hyphens and control characters', () => {
    expect(cleanText('\u200bZoé\ufeff')).toBe('Zoé');
    expect(cleanText('Lef\u00adèvre')).toBe('Lefèvre');
    expect(cleanText('a\u0000b')).toBe('ab');
  });

  it('NFC-normalises decomposed accents', () => {
    const value = cleanText('E\u0301lodie');
    expect(value).toBe('\u00c9lodie');
    expect(value).toHaveLength(6);
  });

  it('turns empty and non-scalar values into null and stringifies numbers and booleans', () => {
    expect(cleanText('')).toBeNull();
    expect(cleanText('   ')).toBeNull();
    expect(cleanText('\u00a0\u200b')).toBeNull();
    expect(cleanText(null)).toBeNull();
    expect(cleanText(undefined)).toBeNull();
    expect(cleanText({})).toBeNull();
    expect(cleanText(['a'])).toBeNull();
    expect(cleanText(Number.NaN)).toBeNull();
    expect(cleanText(120)).toBe('120');
    expect(cleanText(true)).toBe('true');
  });

  it('keeps paragraph breaks in multiline mode', () => {
    expect(cleanText('Line  1  \r\n\r\n\r\n  Line\u00a02\nLine 3', { multiline: true })).toBe(
      'Line 1\n\nLine 2\nLine 3',
    );
  });
});

describe('SIREN / SIRET', () => {
  it('computes Luhn', () => {
    expect(luhnValid('732829320')).toBe(true);
    expect(luhnValid('732829321')).toBe(false);
    expect(luhnValid('73282932000074')).toBe(true);
  });

  it('accepts Luhn-valid 9-digit SIRENs written with spaces, dots or NBSPs', () => {
    expect(normaliseSiren('732829320')).toBe('732829320');
    expect(normaliseSiren('732 829 320')).toBe('732829320');
    expect(normaliseSiren('732.829.320')).toBe('732829320');
    expect(normaliseSiren(' 732\u00a0829\u00a0320 ')).toBe('732829320');
    expect(normaliseSiren(732829320)).toBe('732829320');
  });

  it('left-pads SIRENs that arrive as numbers (lost leading zero)', () => {
    expect(normaliseSiren(12345674)).toBe('012345674');
    expect(normaliseSiren('12345674')).toBeNull();
  });

  it('rejects wrong length, letters and Luhn failures', () => {
    expect(normaliseSiren('732829321')).toBeNull();
    expect(normaliseSiren('73282932')).toBeNull();
    expect(normaliseSiren('7328293200')).toBeNull();
    expect(normaliseSiren('73282932A')).toBeNull();
    expect(normaliseSiren('')).toBeNull();
    expect(normaliseSiren(null)).toBeNull();
  });

  it('accepts the La Poste SIREN', () => {
    expect(normaliseSiren('356000000')).toBe('356000000');
    expect(normaliseSiren('356 000 000')).toBe('356000000');
  });

  it('explains why a SIREN is refused', () => {
    expect(sirenProblem('732829321')).toBe('SIREN "732829321" fails the Luhn checksum');
    expect(sirenProblem('7328')).toBe('SIREN "7328" must be 9 digits');
    expect(sirenProblem('732829320')).toBeNull();
  });

  it('accepts Luhn-valid 14-digit SIRETs', () => {
    expect(normaliseSiret('73282932000074')).toBe('73282932000074');
    expect(normaliseSiret('732 829 320 00074')).toBe('73282932000074');
    expect(normaliseSiret(73282932000074)).toBe('73282932000074');
  });

  it('rejects wrong SIRETs, including digit-sum-of-5 ones outside La Poste', () => {
    expect(normaliseSiret('73282932000075')).toBeNull();
    expect(normaliseSiret('7328293200007')).toBeNull();
    expect(normaliseSiret('73282932000004')).toBeNull(); // digit sum 40, but not La Poste
    expect(siretProblem('73282932000075')).toBe('SIRET "73282932000075" fails the Luhn checksum');
    expect(siretProblem('123')).toBe('SIRET "123" must be 14 digits');
  });

  it('applies the La Poste rule (digit sum multiple of 5) to 356000000… SIRETs', () => {
    expect(normaliseSiret('35600000000048')).toBe('35600000000048'); // head office, Luhn-valid
    expect(luhnValid('35600000000038')).toBe(false);
    expect(normaliseSiret('35600000000038')).toBe('35600000000038'); // digit sum 25
    expect(normaliseSiret('35600000000371')).toBe('35600000000371'); // digit sum 25
    expect(normaliseSiret('35600000000054')).toBeNull(); // digit sum 23, not Luhn
  });

  it('formats NAF codes the INSEE way', () => {
    expect(normaliseNafCode('6201Z')).toBe('62.01Z');
    expect(normaliseNafCode('62.01z')).toBe('62.01Z');
    expect(normaliseNafCode(' 62 01 Z ')).toBe('62.01Z');
    expect(normaliseNafCode('Autre code')).toBe('Autre code');
    expect(normaliseNafCode('')).toBeNull();
  });
});

describe('normaliseUrl', () => {
  it('adds https:// and lower-cases scheme and host, keeping www', () => {
    expect(normaliseUrl('EXAMPLE.fr/Path/')).toBe('https://example.fr/Path');
    expect(normaliseUrl('www.Acme.FR')).toBe('https://www.acme.fr');
    expect(normaliseUrl('HTTP://WWW.Acme.fr/')).toBe('http://www.acme.fr');
    expect(normaliseUrl('//cdn.acme.fr/a')).toBe('https://cdn.acme.fr/a');
  });

  it('drops fragments, tracking parameters and trailing slashes', () => {
    expect(normaliseUrl('https://www.Example.com/?utm_source=x&a=1#frag')).toBe(
      'https://www.example.com?a=1',
    );
    expect(
      normaliseUrl('http://x.com/a/?ref=abc&trk=1&gclid=2&fbclid=3&mc_cid=4&mc_eid=5&UTM_MEDIUM=6&b=c%20d'),
    ).toBe('http://x.com/a?b=c%20d');
    expect(normaliseUrl('https://acme.fr/?utm_campaign=x')).toBe('https://acme.fr');
    expect(normaliseUrl('https://acme.fr/a//')).toBe('https://acme.fr/a');
    expect(normaliseUrl('https://acme.fr/?referrer=x')).toBe('https://acme.fr?referrer=x');
  });

  it('drops default ports and keeps others', () => {
    expect(normaliseUrl('www.acme.fr:443/')).toBe('https://www.acme.fr');
    expect(normaliseUrl('acme.fr:8080/x')).toBe('https://acme.fr:8080/x');
  });

  it('punycode-encodes IDN hosts and strips a trailing dot', () => {
    expect(normaliseUrl('https://café.fr/')).toBe('https://xn--caf-dma.fr');
    expect(normaliseUrl('https://acme.fr./x')).toBe('https://acme.fr/x');
  });

  it('rejects non-http(s) schemes, dotless hosts, IPs, malformed hosts and credentials', () => {
    expect(normaliseUrl('ftp://acme.fr')).toBeNull();
    expect(normaliseUrl('mailto:contact@acme.fr')).toBeNull();
    expect(normaliseUrl('javascript:alert(1)')).toBeNull();
    expect(normaliseUrl('localhost:3000')).toBeNull();
    expect(normaliseUrl('https://intranet/')).toBeNull();
    expect(normaliseUrl('https://1.2.3.4/')).toBeNull();
    expect(normaliseUrl('https://a..b.com')).toBeNull();
    expect(normaliseUrl('contact@acme.fr')).toBeNull();
    expect(normaliseUrl('not a url')).toBeNull();
    expect(normaliseUrl('')).toBeNull();
    expect(normaliseUrl(null)).toBeNull();
  });
});

describe('normaliseLinkedinUrl', () => {
  it('canonicalises person profile variants', () => {
    const expected = 'https://www.linkedin.com/in/jean-dupont';
    for (const url of [
      'https://www.linkedin.com/in/jean-dupont',
      'https://www.linkedin.com/in/jean-dupont/',
      'http://linkedin.com/in/Jean-Dupont',
      'linkedin.com/in/jean-dupont/',
      'https://fr.linkedin.com/in/jean-dupont?originalSubdomain=fr',
      'https://m.linkedin.com/in/jean-dupont/?trk=x#y',
      'www.linkedin.com/in/jean-dupont/recent-activity/',
      'HTTPS://WWW.LINKEDIN.COM/IN/JEAN-DUPONT',
    ]) {
      expect(normaliseLinkedinUrl(url, 'person'), url).toBe(expected);
    }
  });

  it('decodes percent-encoding and lower-cases the slug', () => {
    expect(normaliseLinkedinUrl('https://fr.linkedin.com/in/%C3%89lodie-Durand-123/', 'person')).toBe(
      'https://www.linkedin.com/in/élodie-durand-123',
    );
    expect(normaliseLinkedinUrl('https://www.linkedin.com/in/%E0%A4%A', 'person')).toBeNull();
  });

  it('canonicalises company pages', () => {
    expect(normaliseLinkedinUrl('http://m.linkedin.com/company/ACME-SAS/about/', 'company')).toBe(
      'https://www.linkedin.com/company/acme-sas',
    );
    expect(normaliseLinkedinUrl('linkedin.com/company/acme?trk=public_profile', 'company')).toBe(
      'https://www.linkedin.com/company/acme',
    );
  });

  it('rejects non-LinkedIn URLs, the wrong kind and empty slugs', () => {
    expect(normaliseLinkedinUrl('https://www.linkedin.com/company/acme', 'person')).toBeNull();
    expect(normaliseLinkedinUrl('https://www.linkedin.com/in/jean', 'company')).toBeNull();
    expect(normaliseLinkedinUrl('https://notlinkedin.com/in/jean', 'person')).toBeNull();
    expect(normaliseLinkedinUrl('https://linkedin.com.evil.com/in/jean', 'person')).toBeNull();
    expect(normaliseLinkedinUrl('https://www.linkedin.com/in/', 'person')).toBeNull();
    expect(normaliseLinkedinUrl('https://www.linkedin.com/pub/jean/1/2/3', 'person')).toBeNull();
    expect(normaliseLinkedinUrl('https://www.facebook.com/in/jean', 'person')).toBeNull();
    expect(normaliseLinkedinUrl(null, 'person')).toBeNull();
  });
});

describe('domains', () => {
  it('derives the domain of a website without www', () => {
    expect(domainFromUrl('https://www.Acme.fr/contact')).toBe('acme.fr');
    expect(domainFromUrl('blog.acme.fr')).toBe('blog.acme.fr');
    expect(domainFromUrl('www.acme.fr:8080/x')).toBe('acme.fr');
    expect(domainFromUrl('localhost')).toBeNull();
    expect(domainFromUrl('not a url')).toBeNull();
  });

  it('derives the domain of a work email and ignores free mail', () => {
    expect(domainFromEmail('Jean.Dupont@Acme.FR')).toBe('acme.fr');
    expect(domainFromEmail('jean@laposte.fr')).toBe('laposte.fr'); // La Poste the company
    expect(domainFromEmail('jean@laposte.net')).toBeNull();
    expect(domainFromEmail('jean@gmail.com')).toBeNull();
    expect(domainFromEmail('jean@yahoo.co.uk')).toBeNull();
    expect(domainFromEmail('jean@hotmail.com.br')).toBeNull();
    expect(domainFromEmail('jean@live.fr')).toBeNull();
    expect(domainFromEmail('jean@live-nation.fr')).toBe('live-nation.fr');
    expect(domainFromEmail('jean@hotmail.acme.com')).toBe('hotmail.acme.com');
    expect(domainFromEmail('jean@orange-business.com')).toBe('orange-business.com');
    expect(domainFromEmail('not an email')).toBeNull();
    expect(domainFromEmail(null)).toBeNull();
  });

  it('knows the free-mail providers', () => {
    for (const domain of [
      'gmail.com',
      'googlemail.com',
      'yahoo.fr',
      'yahoo.com',
      'hotmail.fr',
      'outlook.com',
      'live.com',
      'icloud.com',
      'me.com',
      'aol.com',
      'orange.fr',
      'wanadoo.fr',
      'free.fr',
      'sfr.fr',
      'laposte.net',
      'gmx.de',
      'protonmail.com',
      'proton.me',
      'yandex.ru',
      'mail.ru',
      'neuf.fr',
      'bbox.fr',
      'numericable.fr',
    ]) {
      expect(isFreeMailDomain(domain), domain).toBe(true);
    }
    expect(isFreeMailDomain('acme.fr')).toBe(false);
  });
});

describe('checkEmail', () => {
  it('lower-cases valid addresses and strips invisible characters', () => {
    expect(checkEmail(' Jean.Dupont@ACME.fr\u200b')).toEqual({ email: 'jean.dupont@acme.fr', error: null });
    expect(checkEmail('')).toEqual({ email: null, error: null });
    expect(checkEmail(null)).toEqual({ email: null, error: null });
  });

  it('says why an address is invalid', () => {
    expect(checkEmail('jeandupont.acme.fr').error).toBe('email "jeandupont.acme.fr" is missing the "@"');
    expect(checkEmail('jean..dupont@acme.fr').error).toBe(
      'email "jean..dupont@acme.fr" contains consecutive dots',
    );
    expect(checkEmail('jean@@acme.fr').error).toBe('email "jean@@acme.fr" contains more than one "@"');
    expect(checkEmail('jean @acme.fr').error).toBe('email "jean @acme.fr" contains whitespace');
    expect(checkEmail('jean@acme').error).toBe('email "jean@acme" has a domain without a dot');
    expect(checkEmail('élodie@acme.fr').error).toBe(
      'email "élodie@acme.fr" contains non-ASCII characters (accents are not allowed)',
    );
    expect(checkEmail('@acme.fr').error).toBe('email "@acme.fr" has nothing before the "@"');
    expect(checkEmail('.jean@acme.fr').error).toBe(
      'email ".jean@acme.fr" starts or ends its local part with a dot',
    );
    expect(checkEmail('jean@acme,fr').error).toBe('email "jean@acme,fr" has a domain without a dot');
    expect(checkEmail('jean@acme.f').error).toBe('email "jean@acme.f" is not a valid email address');
  });
});

describe('normalisePhone', () => {
  it('formats French numbers as E.164', () => {
    expect(normalisePhone('01 23 45 67 89')).toBe('+33123456789');
    expect(normalisePhone('06.12.34.56.78')).toBe('+33612345678');
    expect(normalisePhone('06-12-34-56-78')).toBe('+33612345678');
    expect(normalisePhone('+33 6 12 34 56 78')).toBe('+33612345678');
    expect(normalisePhone('0033612345678')).toBe('+33612345678');
    expect(normalisePhone('+33 (0)1 23 45 67 89')).toBe('+33123456789');
    expect(normalisePhone('01\u00a023\u00a045\u00a067\u00a089')).toBe('+33123456789');
    expect(normalisePhone(612345678)).toBe('+33612345678');
  });

  it('handles extensions and foreign numbers', () => {
    expect(normalisePhone('01 23 45 67 89 poste 12')).toBe('+33123456789');
    expect(normalisePhone('01 23 45 67 89 ext. 12')).toBe('+33123456789');
    expect(normalisePhone('+44 20 7946 0958')).toBe('+442079460958');
    expect(normalisePhone('+1 415 555 2671')).toBe('+14155552671');
  });

  it('returns null for unparseable or impossible numbers', () => {
    expect(normalisePhone('12')).toBeNull();
    expect(normalisePhone('abc')).toBeNull();
    expect(normalisePhone('01 23 45')).toBeNull();
    expect(normalisePhone('+33 1 23 45 67 89 10 11')).toBeNull();
    expect(normalisePhone('')).toBeNull();
    expect(normalisePhone(null)).toBeNull();
  });

  it('gives exactly what libphonenumber gives on the French fast path', () => {
    const shapes = [
      (d: string, r: string) => `0${d}${r}`,
      (d: string, r: string) => `0${d} ${r.match(/\d{2}/g)!.join(' ')}`,
      (d: string, r: string) => `0${d}.${r.match(/\d{2}/g)!.join('.')}`,
      (d: string, r: string) => `+33 ${d} ${r.match(/\d{2}/g)!.join(' ')}`,
      (d: string, r: string) => `+33${d}${r}`,
      (d: string, r: string) => `0033${d}${r}`,
      (d: string, r: string) => `0${d}${r}0`, // too long
      (d: string, r: string) => `+33${d}${r.slice(1)}`, // too short
      (d: string, r: string) => `+33 0${d}${r}`, // national prefix after the country code
    ];
    let seed = 7;
    for (let i = 0; i < 400; i++) {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      const d = String(seed % 10);
      const rest = String(seed).padStart(10, '0').slice(-8);
      const input = shapes[i % shapes.length]!(d, rest);
      const reference = parsePhoneNumberFromString(input, { defaultCountry: 'FR' });
      expect(normalisePhone(input), input).toBe(reference?.isPossible() ? reference.number : null);
    }
  });
});

describe('parseInteger', () => {
  it('reads thousands separators', () => {
    expect(parseInteger('1 250 000')).toBe(1250000);
    expect(parseInteger('1\u00a0250\u00a0000')).toBe(1250000);
    expect(parseInteger('1\u202f250\u202f000')).toBe(1250000);
    expect(parseInteger('1,250,000')).toBe(1250000);
    expect(parseInteger('1.250.000')).toBe(1250000);
    expect(parseInteger("1'250'000")).toBe(1250000);
    expect(parseInteger('1,250')).toBe(1250);
  });

  it('reads plain integers and numbers', () => {
    expect(parseInteger('50')).toBe(50);
    expect(parseInteger('  42 ')).toBe(42);
    expect(parseInteger('-3')).toBe(-3);
    expect(parseInteger(120)).toBe(120);
    expect(parseInteger(12.6)).toBe(13);
  });

  it('rounds decimals, with either decimal mark', () => {
    expect(parseInteger('12,5')).toBe(13);
    expect(parseInteger('1.5')).toBe(2);
    expect(parseInteger('1.250.000,50')).toBe(1250001);
    expect(parseInteger('1,250.4')).toBe(1250);
    expect(parseInteger('1250.000')).toBe(1250);
  });

  it('returns null for anything else', () => {
    expect(parseInteger('abc')).toBeNull();
    expect(parseInteger('12abc')).toBeNull();
    expect(parseInteger('1,2,3')).toBeNull();
    expect(parseInteger('1.250.000.50')).toBeNull();
    expect(parseInteger('')).toBeNull();
    expect(parseInteger('-')).toBeNull();
    expect(parseInteger(null)).toBeNull();
    expect(parseInteger(Number.POSITIVE_INFINITY)).toBeNull();
    expect(parseInteger('99999999999999999999')).toBeNull();
  });
});

describe('parseEmployeeRange', () => {
  it('reads closed ranges', () => {
    expect(parseEmployeeRange('50 - 99')).toEqual({ range: '50-99', min: 50, max: 99, count: null });
    expect(parseEmployeeRange('1 - 10')).toEqual({ range: '1-10', min: 1, max: 10, count: null });
    expect(parseEmployeeRange('50–99')).toEqual({ range: '50-99', min: 50, max: 99, count: null });
    expect(parseEmployeeRange('1 000 - 1 999')).toEqual({
      range: '1000-1999',
      min: 1000,
      max: 1999,
      count: null,
    });
    expect(parseEmployeeRange('Entre 10 et 19 salariés')).toEqual({
      range: '10-19',
      min: 10,
      max: 19,
      count: null,
    });
    expect(parseEmployeeRange('de 1 à 2 salariés')).toEqual({ range: '1-2', min: 1, max: 2, count: null });
  });

  it('reads open-ended ranges', () => {
    const open = { range: '10000+', min: 10000, max: null, count: null };
    expect(parseEmployeeRange('10 000+')).toEqual(open);
    expect(parseEmployeeRange('10000 +')).toEqual(open);
    expect(parseEmployeeRange('> 10000')).toEqual(open);
    expect(parseEmployeeRange('10\u00a0000 et plus')).toEqual(open);
    expect(parseEmployeeRange('+ de 10.000 salariés')).toEqual(open);
    expect(parseEmployeeRange('moins de 10')).toEqual({ range: '0-9', min: 0, max: 9, count: null });
  });

  it('reads an exact headcount', () => {
    expect(parseEmployeeRange('12')).toEqual({ range: '12', min: 12, max: 12, count: 12 });
    expect(parseEmployeeRange(12)).toEqual({ range: '12', min: 12, max: 12, count: 12 });
    expect(parseEmployeeRange('0 salarié')).toEqual({ range: '0', min: 0, max: 0, count: 0 });
  });

  it('returns null for unknown or inverted ranges', () => {
    expect(parseEmployeeRange('NN')).toBeNull();
    expect(parseEmployeeRange('Non renseigné')).toBeNull();
    expect(parseEmployeeRange('99 - 50')).toBeNull();
    expect(parseEmployeeRange('1 - 2 - 3')).toBeNull();
    expect(parseEmployeeRange('')).toBeNull();
    expect(parseEmployeeRange(-5)).toBeNull();
  });
});

describe('parseBoolean', () => {
  it('reads French and English spellings in any case', () => {
    for (const value of ['true', 'TRUE', '1', 'oui', 'Oui', 'yes', 'YES', ' vrai ', true, 1]) {
      expect(parseBoolean(value), String(value)).toBe(true);
    }
    for (const value of ['false', 'False', '0', 'non', 'NON', 'no', 'faux', false, 0]) {
      expect(parseBoolean(value), String(value)).toBe(false);
    }
    for (const value of ['', 'maybe', '2', 2, null, undefined, {}]) {
      expect(parseBoolean(value), String(value)).toBeNull();
    }
  });
});

describe('dates and years', () => {
  it('parses ISO and French dates', () => {
    expect(parseDate('2015-03-01')).toBe('2015-03-01');
    expect(parseDate('01/03/2015')).toBe('2015-03-01');
    expect(parseDate('1/3/2015')).toBe('2015-03-01');
    expect(parseDate('01.03.2015')).toBe('2015-03-01');
    expect(parseDate('2015/3/1')).toBe('2015-03-01');
    expect(parseDate('2015-03-01T00:00:00.000Z')).toBe('2015-03-01');
    expect(parseDate('2016-02-29')).toBe('2016-02-29');
  });

  it('refuses bare years, impossible dates and non-strings', () => {
    expect(parseDate('2015')).toBeNull();
    expect(parseDate('2015-02-30')).toBeNull();
    expect(parseDate('2015-02-29')).toBeNull();
    expect(parseDate('1900-02-29')).toBeNull();
    expect(parseDate('2000-02-29')).toBe('2000-02-29');
    expect(parseDate('31/04/2015')).toBeNull();
    expect(parseDate('2015-13-01')).toBeNull();
    expect(parseDate('01/03/15')).toBeNull();
    expect(parseDate('')).toBeNull();
    expect(parseDate(20150301)).toBeNull();
  });

  it('accepts years between 1800 and next year', () => {
    const nextYear = new Date().getUTCFullYear() + 1;
    expect(parseYear('2015')).toBe(2015);
    expect(parseYear(' 1800 ')).toBe(1800);
    expect(parseYear(2015)).toBe(2015);
    expect(parseYear(String(nextYear))).toBe(nextYear);
    expect(parseYear(String(nextYear + 1))).toBeNull();
    expect(parseYear('1799')).toBeNull();
    expect(parseYear('2015-03-01')).toBeNull();
    expect(parseYear('15')).toBeNull();
    expect(parseYear(2015.5)).toBeNull();
    expect(parseYear('')).toBeNull();
  });
});

describe('email status and reliability', () => {
  it('maps Pharow statuses', () => {
    for (const value of ['valid', 'VALID', 'Deliverable', 'safe'])
      expect(mapEmailStatus(value), value).toBe('VALID');
    for (const value of ['risky', 'catch-all', 'catch_all', 'Catch All', 'accept_all', 'unknown_catch_all']) {
      expect(mapEmailStatus(value), value).toBe('RISKY');
    }
    for (const value of ['invalid', 'undeliverable', 'BOUNCED'])
      expect(mapEmailStatus(value), value).toBe('INVALID');
    for (const value of ['unknown', 'pending', '', null, undefined]) {
      expect(mapEmailStatus(value), String(value)).toBe('UNKNOWN');
    }
  });

  it('parses reliability as a 0..100 integer', () => {
    expect(parseReliability('95%')).toBe(95);
    expect(parseReliability('95')).toBe(95);
    expect(parseReliability('0.95')).toBe(95);
    expect(parseReliability('0,95')).toBe(95);
    expect(parseReliability('95,5 %')).toBe(96);
    expect(parseReliability('100 %')).toBe(100);
    expect(parseReliability('0')).toBe(0);
    expect(parseReliability('1.0')).toBe(100);
    expect(parseReliability('1')).toBe(1);
    expect(parseReliability(0.95)).toBe(95);
    expect(parseReliability(80)).toBe(80);
  });

  it('returns null outside 0..100 and for junk', () => {
    expect(parseReliability('101')).toBeNull();
    expect(parseReliability('150%')).toBeNull();
    expect(parseReliability('-5')).toBeNull();
    expect(parseReliability('abc')).toBeNull();
    expect(parseReliability('')).toBeNull();
    expect(parseReliability(null)).toBeNull();
  });
});

describe('nameKey', () => {
  it('matches accents, case and whitespace variants', () => {
    expect(nameKey('Élodie ', ' Durand')).toBe('elodie durand');
    expect(nameKey('Élodie  Marie', 'Durand')).toBe('elodie marie durand');
    expect(nameKey('elodie', 'DURAND')).toBe('elodie durand');
    expect(nameKey('E\u0301lodie', 'Durand')).toBe('elodie durand');
    expect(nameKey('Thị Lan', 'Nguyễn')).toBe('thi lan nguyen');
    expect(nameKey('Zoë', 'Lefèvre')).toBe('zoe lefevre');
    expect(nameKey('Đặng', 'Œuvray')).toBe('dang oeuvray');
  });

  it('treats hyphens and apostrophes as spaces', () => {
    expect(nameKey('Jean-Pierre', "N'Diaye")).toBe('jean pierre n diaye');
    expect(nameKey('Jean Pierre', 'N’Diaye')).toBe('jean pierre n diaye');
    expect(nameKey('Anne', 'Dupont-Moreau')).toBe('anne dupont moreau');
  });

  it('handles missing parts', () => {
    expect(nameKey('Zoé', null)).toBe('zoe');
    expect(nameKey(null, 'Lefèvre')).toBe('lefevre');
    expect(nameKey(null, null)).toBeNull();
    expect(nameKey('', ' ')).toBeNull();
  });
});

function rawItem(overrides: { company?: object; person?: object; position?: object } = {}) {
  return {
    company: {
      pharowCompanyId: '64f1c2a9e4b0a1b2c3d4e5f6',
      companySiren: '732 829 320',
      companyHqSiret: '73282932000074',
      companyName: '  TRANSPORTS  LEFÈVRE SAS ',
      companyBrandName: 'Transports Lefèvre',
      companyLinkedinName: 'Transports Lefèvre',
      companyLinkedinUrl: 'https://fr.linkedin.com/company/Transports-Lefevre/',
      companyUrl: 'www.Transports-Lefevre.fr/?utm_source=pharow',
      companyMainPhone: '04 72 00 00 00',
      companyGenericEmail: 'Contact@Transports-Lefevre.fr',
      companyNafSector: 'Transports et entreposage',
      companyNafCode: '4941A',
      companyActivity: 'Transports routiers de fret interurbains',
      companyFoundingYear: '1987',
      companyFoundingDate: '12/05/1987',
      companyGrowing: 'Oui',
      companyNbEmployees: '120',
      companyEmployeeRangeCorrected: '100 - 199',
      companyHqFullAddress: '12 rue de la République, 69002\u00a0Lyon',
      companyAnnualRevenueEuros: '12\u00a0500\u00a0000',
      companyAnnualRevenueYear: '2023',
      ...overrides.company,
    },
    person: {
      personFirstName: ' Élodie ',
      personLastName: 'Durand',
      personSalutation: 'Mme',
      personLinkedinUrl: 'linkedin.com/in/Elodie-Durand-1a2b3c/',
      personMobilePhone: '06 12 34 56 78',
      personLocation: 'Lyon, Auvergne-Rhône-Alpes, France',
      ...overrides.person,
    },
    position: {
      positionJobTitle: 'Directrice  commerciale',
      positionEmail: 'Elodie.Durand@Transports-Lefevre.fr',
      positionEmailStatus: 'catch-all',
      positionEmailReliability: '95%',
      pharowListName: 'Prospects Lyon 2024',
      ...overrides.position,
    },
  };
}

const EXPECTED_ITEM: NormalisedItem = {
  index: 3,
  company: {
    pharowCompanyId: '64f1c2a9e4b0a1b2c3d4e5f6',
    siren: '732829320',
    hqSiret: '73282932000074',
    name: 'TRANSPORTS LEFÈVRE SAS',
    brandName: 'Transports Lefèvre',
    linkedinName: 'Transports Lefèvre',
    linkedinUrl: 'https://www.linkedin.com/company/transports-lefevre',
    websiteUrl: 'https://www.transports-lefevre.fr',
    domain: 'transports-lefevre.fr',
    mainPhone: '+33472000000',
    genericEmail: 'contact@transports-lefevre.fr',
    nafSector: 'Transports et entreposage',
    nafCode: '49.41A',
    activity: 'Transports routiers de fret interurbains',
    foundingYear: 1987,
    foundingDate: '1987-05-12',
    growing: true,
    employeeCount: 120,
    employeeRange: '100-199',
    employeeMin: 100,
    employeeMax: 199,
    hqAddress: '12 rue de la République, 69002 Lyon',
    annualRevenueEur: 12500000,
    annualRevenueYear: 2023,
  },
  person: {
    firstName: 'Élodie',
    lastName: 'Durand',
    salutation: 'Mme',
    linkedinUrl: 'https://www.linkedin.com/in/elodie-durand-1a2b3c',
    mobilePhone: '+33612345678',
    location: 'Lyon, Auvergne-Rhône-Alpes, France',
    nameKey: 'elodie durand',
  },
  position: {
    jobTitle: 'Directrice commerciale',
    email: 'elodie.durand@transports-lefevre.fr',
    emailStatus: 'RISKY',
    emailReliability: 95,
    pharowListName: 'Prospects Lyon 2024',
  },
};

function fieldsOf(result: ReturnType<typeof normalisePharowItem>): string[] {
  return result.rejections.map((r) => r.field);
}

describe('normalisePharowItem: accepted items', () => {
  it('normalises a complete item', () => {
    expect(normalisePharowItem(rawItem(), 3)).toEqual({ item: EXPECTED_ITEM, rejections: [] });
  });

  it('accepts numbers and booleans where strings are expected, and ignores unknown fields', () => {
    const result = normalisePharowItem(
      rawItem({
        company: {
          companySiren: 732829320,
          companyHqSiret: 73282932000074,
          companyNbEmployees: 120,
          companyGrowing: true,
          companyFoundingYear: 1987,
          companyAnnualRevenueEuros: 12500000,
          companyAnnualRevenueYear: 2023,
          companyMainPhone: 472000000,
          somethingNew: { nested: true },
        },
        position: { positionEmailReliability: 0.95 },
      }),
      3,
    );
    expect(result).toEqual({ item: EXPECTED_ITEM, rejections: [] });
  });

  it('turns empty strings into null and allows a missing email', () => {
    const result = normalisePharowItem(
      rawItem({
        company: { companyBrandName: '   ', companyUrl: '', companyGenericEmail: null },
        person: { personMobilePhone: '' },
        position: { positionEmail: '  ', positionEmailStatus: undefined, positionEmailReliability: '' },
      }),
      0,
    );
    expect(result.rejections).toEqual([]);
    expect(result.item?.company.brandName).toBeNull();
    expect(result.item?.company.websiteUrl).toBeNull();
    expect(result.item?.company.domain).toBeNull();
    expect(result.item?.person.mobilePhone).toBeNull();
    expect(result.item?.position).toEqual({
      jobTitle: 'Directrice commerciale',
      email: null,
      emailStatus: 'UNKNOWN',
      emailReliability: null,
      pharowListName: 'Prospects Lyon 2024',
    });
  });

  it('drops invalid URLs and phones instead of rejecting the prospect', () => {
    const result = normalisePharowItem(
      rawItem({
        company: {
          companyUrl: 'ftp://transports-lefevre.fr',
          companyLinkedinUrl: 'https://www.facebook.com/lefevre',
          companyMainPhone: '12',
        },
        person: { personLinkedinUrl: 'https://www.linkedin.com/company/acme', personMobilePhone: 'n/a' },
      }),
      0,
    );
    expect(result.rejections).toEqual([]);
    expect(result.item?.company.websiteUrl).toBeNull();
    expect(result.item?.company.linkedinUrl).toBeNull();
    expect(result.item?.company.mainPhone).toBeNull();
    expect(result.item?.person.linkedinUrl).toBeNull();
    expect(result.item?.person.mobilePhone).toBeNull();
    // Website gone: the domain comes from the work email.
    expect(result.item?.company.domain).toBe('transports-lefevre.fr');
  });

  it('takes the domain from the work email, then the generic email, skipping free mail', () => {
    const noWebsite = { companyUrl: null };
    expect(
      normalisePharowItem(
        rawItem({ company: { ...noWebsite, companyGenericEmail: 'contact@lefevre-group.fr' } }),
        0,
      ).item?.company.domain,
    ).toBe('transports-lefevre.fr');
    expect(
      normalisePharowItem(
        rawItem({
          company: { ...noWebsite, companyGenericEmail: 'contact@lefevre-group.fr' },
          position: { positionEmail: 'elodie.durand@gmail.com' },
        }),
        0,
      ).item?.company.domain,
    ).toBe('lefevre-group.fr');
    expect(
      normalisePharowItem(
        rawItem({
          company: { ...noWebsite, companyGenericEmail: 'lefevre@orange.fr' },
          position: { positionEmail: 'elodie.durand@gmail.com' },
        }),
        0,
      ).item?.company.domain,
    ).toBeNull();
  });

  it('does not take a domain from a social profile used as website', () => {
    const result = normalisePharowItem(
      rawItem({ company: { companyUrl: 'https://www.facebook.com/transportslefevre' } }),
      0,
    );
    expect(result.item?.company.websiteUrl).toBe('https://www.facebook.com/transportslefevre');
    expect(result.item?.company.domain).toBe('transports-lefevre.fr');
  });

  it('drops an invalid generic email without rejecting', () => {
    const result = normalisePharowItem(rawItem({ company: { companyGenericEmail: 'contact@@x' } }), 0);
    expect(result.rejections).toEqual([]);
    expect(result.item?.company.genericEmail).toBeNull();
  });

  it('recovers the SIREN from the SIRET', () => {
    const result = normalisePharowItem(rawItem({ company: { companySiren: '' } }), 0);
    expect(result.item?.company.siren).toBe('732829320');
    expect(result.item?.company.hqSiret).toBe('73282932000074');
  });

  it('accepts La Poste identifiers', () => {
    const result = normalisePharowItem(
      rawItem({ company: { companySiren: '356 000 000', companyHqSiret: '356 000 000 00038' } }),
      0,
    );
    expect(result.rejections).toEqual([]);
    expect(result.item?.company.siren).toBe('356000000');
    expect(result.item?.company.hqSiret).toBe('35600000000038');
  });

  it('accepts a person known only by LinkedIn, or only by a last name', () => {
    const linkedinOnly = normalisePharowItem(
      rawItem({ person: { personFirstName: null, personLastName: ' ' } }),
      0,
    );
    expect(linkedinOnly.rejections).toEqual([]);
    expect(linkedinOnly.item?.person.nameKey).toBeNull();
    const lastNameOnly = normalisePharowItem(
      rawItem({ person: { personFirstName: null, personLinkedinUrl: null } }),
      0,
    );
    expect(lastNameOnly.item?.person.nameKey).toBe('durand');
  });

  it('derives company numbers from messy values', () => {
    const result = normalisePharowItem(
      rawItem({
        company: {
          companyNbEmployees: '10 000+',
          companyEmployeeRangeCorrected: null,
          companyFoundingYear: null,
          companyFoundingDate: '2015-02-30',
          companyAnnualRevenueEuros: '-',
          companyAnnualRevenueYear: '23',
        },
      }),
      0,
    );
    expect(result.item?.company).toMatchObject({
      employeeCount: null,
      employeeRange: '10000+',
      employeeMin: 10000,
      employeeMax: null,
      foundingYear: null,
      foundingDate: null,
      annualRevenueEur: null,
      annualRevenueYear: null,
    });
    const fromDate = normalisePharowItem(
      rawItem({
        company: { companyFoundingYear: '', companyFoundingDate: '1987-05-12', companyNbEmployees: null },
      }),
      0,
    );
    expect(fromDate.item?.company.foundingYear).toBe(1987);
    expect(fromDate.item?.company.employeeCount).toBeNull();
    const exactRange = normalisePharowItem(
      rawItem({ company: { companyNbEmployees: null, companyEmployeeRangeCorrected: '12' } }),
      0,
    );
    expect(exactRange.item?.company).toMatchObject({
      employeeCount: 12,
      employeeRange: '12',
      employeeMin: 12,
      employeeMax: 12,
    });
  });

  it('accepts values at the length limits', () => {
    const url = `https://acme.fr/${'a'.repeat(2048 - 'https://acme.fr/'.length)}`;
    const result = normalisePharowItem(
      rawItem({ company: { companyActivity: 'x'.repeat(1000), companyUrl: url } }),
      0,
    );
    expect(result.rejections).toEqual([]);
    expect(result.item?.company.websiteUrl).toBe(url);
  });
});

describe('normalisePharowItem: rejected items', () => {
  it('rejects an item that is not an object', () => {
    expect(normalisePharowItem(null, 4)).toEqual({
      rejections: [
        { index: 4, field: 'item', message: 'item must be an object with company, person and position' },
      ],
    });
    expect(fieldsOf(normalisePharowItem('x', 4))).toEqual(['item']);
  });

  it('rejects missing or non-object groups, each with its own field', () => {
    expect(normalisePharowItem({}, 1)).toEqual({
      rejections: [
        { index: 1, field: 'company', message: 'company is missing' },
        { index: 1, field: 'person', message: 'person is missing' },
        { index: 1, field: 'position', message: 'position is missing' },
      ],
    });
    const { company, person } = rawItem();
    expect(normalisePharowItem({ company, person, position: [] }, 2).rejections).toEqual([
      { index: 2, field: 'position', message: 'position must be an object' },
    ]);
    expect(normalisePharowItem({ company: 'ACME', person, position: null }, 2).rejections).toEqual([
      { index: 2, field: 'company', message: 'company must be an object' },
      { index: 2, field: 'position', message: 'position is missing' },
    ]);
  });

  it('rejects an empty company name', () => {
    for (const companyName of ['', '   ', '\u00a0', null, undefined]) {
      expect(normalisePharowItem(rawItem({ company: { companyName } }), 5)).toEqual({
        rejections: [
          {
            index: 5,
            field: 'company.companyName',
            message: 'companyName is required (empty after trimming)',
          },
        ],
      });
    }
  });

  it('rejects an invalid position email with the reason', () => {
    expect(normalisePharowItem(rawItem({ position: { positionEmail: 'elodie.durand.acme.fr' } }), 6)).toEqual(
      {
        rejections: [
          {
            index: 6,
            field: 'position.positionEmail',
            message: 'email "elodie.durand.acme.fr" is missing the "@"',
          },
        ],
      },
    );
    expect(
      fieldsOf(normalisePharowItem(rawItem({ position: { positionEmail: 'a..b@acme.fr' } }), 6)),
    ).toEqual(['position.positionEmail']);
  });

  it('rejects an invalid SIREN', () => {
    expect(
      normalisePharowItem(rawItem({ company: { companySiren: '732829321', companyHqSiret: null } }), 7),
    ).toEqual({
      rejections: [
        { index: 7, field: 'company.companySiren', message: 'SIREN "732829321" fails the Luhn checksum' },
      ],
    });
    expect(
      normalisePharowItem(rawItem({ company: { companySiren: '7328293', companyHqSiret: null } }), 7)
        .rejections,
    ).toEqual([{ index: 7, field: 'company.companySiren', message: 'SIREN "7328293" must be 9 digits' }]);
  });

  it('rejects an invalid SIRET', () => {
    expect(
      normalisePharowItem(rawItem({ company: { companyHqSiret: '73282932000075' } }), 8).rejections,
    ).toEqual([
      {
        index: 8,
        field: 'company.companyHqSiret',
        message: 'SIRET "73282932000075" fails the Luhn checksum',
      },
    ]);
    expect(
      normalisePharowItem(rawItem({ company: { companyHqSiret: '7328293200007' } }), 8).rejections,
    ).toEqual([
      { index: 8, field: 'company.companyHqSiret', message: 'SIRET "7328293200007" must be 14 digits' },
    ]);
  });

  it('rejects a SIRET that belongs to another SIREN', () => {
    expect(normalisePharowItem(rawItem({ company: { companySiren: '552100554' } }), 9).rejections).toEqual([
      {
        index: 9,
        field: 'company.companyHqSiret',
        message: 'SIRET 73282932000074 belongs to SIREN 732829320, not to the companySiren 552100554',
      },
    ]);
  });

  it('rejects a person with neither names nor a valid LinkedIn URL', () => {
    const message = 'person needs a first name, a last name or a valid LinkedIn URL';
    expect(
      normalisePharowItem(
        rawItem({ person: { personFirstName: ' ', personLastName: null, personLinkedinUrl: null } }),
        10,
      ).rejections,
    ).toEqual([{ index: 10, field: 'person', message }]);
    expect(
      normalisePharowItem(
        rawItem({
          person: {
            personFirstName: '',
            personLastName: '',
            personLinkedinUrl: 'https://example.com/in/elodie',
          },
        }),
        10,
      ).rejections,
    ).toEqual([{ index: 10, field: 'person', message }]);
  });

  it('rejects over-long text and URLs with the field', () => {
    expect(
      normalisePharowItem(rawItem({ company: { companyActivity: 'x'.repeat(1001) } }), 11).rejections,
    ).toEqual([
      {
        index: 11,
        field: 'company.companyActivity',
        message: 'companyActivity is longer than 1000 characters (1001)',
      },
    ]);
    expect(
      normalisePharowItem(
        rawItem({ person: { personLinkedinUrl: `https://linkedin.com/in/${'a'.repeat(2030)}` } }),
        11,
      ).rejections,
    ).toEqual([
      {
        index: 11,
        field: 'person.personLinkedinUrl',
        message: 'personLinkedinUrl is longer than 2048 characters (2054)',
      },
    ]);
    // Measured after trimming: surrounding whitespace does not count.
    expect(
      normalisePharowItem(rawItem({ company: { companyActivity: `  ${'x'.repeat(1000)}  ` } }), 11)
        .rejections,
    ).toEqual([]);
  });

  it('rejects object values in scalar fields', () => {
    expect(
      normalisePharowItem(rawItem({ person: { personLastName: { value: 'Durand' } } }), 12).rejections,
    ).toEqual([
      {
        index: 12,
        field: 'person.personLastName',
        message: 'personLastName must be a string, number or boolean',
      },
    ]);
  });

  it('reports every problem of an item at once', () => {
    const result = normalisePharowItem(
      rawItem({
        company: { companyName: ' ', companySiren: '123456789' },
        person: { personFirstName: null, personLastName: null, personLinkedinUrl: 'not linkedin' },
        position: { positionEmail: 'nope' },
      }),
      13,
    );
    expect(result.item).toBeUndefined();
    expect(fieldsOf(result)).toEqual([
      'company.companyName',
      'company.companySiren',
      'person',
      'position.positionEmail',
    ]);
  });
});

describe('normalisePharowItem with a batch memo of companies', () => {
  it('gives every item of a generated batch what it gets without the memo', () => {
    const batch = generatePharowBatch(3000, 11);
    const memo = new CompanyMemo();
    const items = batch.data.map((raw, i) => normalisePharowItem(raw, i, memo));
    expect(items).toEqual(batch.data.map((raw, i) => normalisePharowItem(raw, i)));
    // companies repeat across items, and no two items hold the same object
    const companies = items.flatMap((r) => (r.item ? [r.item.company] : []));
    expect(new Set(companies).size).toBe(companies.length);
  });

  it("reports a repeated company's problems on each item that carries it", () => {
    const memo = new CompanyMemo();
    const bad = { companySiren: '123456789' };
    const first = normalisePharowItem(rawItem({ company: bad }), 4, memo);
    const second = normalisePharowItem(rawItem({ company: bad }), 9, memo);
    expect(second.rejections).toEqual(first.rejections.map((r) => ({ ...r, index: 9 })));
    expect(second.rejections.map((r) => r.field)).toEqual(['company.companySiren']);
  });

  it("fills each item's company domain from that item's own email", () => {
    const memo = new CompanyMemo();
    const company = { companyUrl: null, companyGenericEmail: null };
    const a = normalisePharowItem(rawItem({ company, position: { positionEmail: 'a@lefevre.fr' } }), 0, memo);
    const b = normalisePharowItem(
      rawItem({ company, position: { positionEmail: 'b@lefevre-tr.fr' } }),
      1,
      memo,
    );
    const c = normalisePharowItem(rawItem({ company, position: { positionEmail: null } }), 2, memo);
    expect([a, b, c].map((r) => r.item?.company.domain)).toEqual(['lefevre.fr', 'lefevre-tr.fr', null]);
  });

  it('tells apart companies that share a name but not every value', () => {
    const memo = new CompanyMemo();
    const lyon = normalisePharowItem(rawItem(), 0, memo);
    const paris = normalisePharowItem(
      rawItem({ company: { companyHqFullAddress: '1 rue de Rivoli, Paris' } }),
      1,
      memo,
    );
    const extra = normalisePharowItem(rawItem({ company: { companyUnknownColumn: 'x' } }), 2, memo);
    const nested = normalisePharowItem(rawItem({ company: { companyGrowing: { value: true } } }), 3, memo);
    expect(lyon.item?.company.hqAddress).toBe('12 rue de la République, 69002 Lyon');
    expect(paris.item?.company.hqAddress).toBe('1 rue de Rivoli, Paris');
    expect(extra.item?.company).toEqual(lyon.item?.company);
    expect(fieldsOf(nested)).toEqual(['company.companyGrowing']);
    expect(
      fieldsOf(normalisePharowItem(rawItem({ company: { companyGrowing: { value: true } } }), 4, memo)),
    ).toEqual(['company.companyGrowing']);
  });
});
