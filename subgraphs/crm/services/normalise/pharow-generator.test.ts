// The bench fixture lives in bench/fixtures, which vitest does not scan; its test lives next to its consumer.
import { describe, expect, it } from 'vitest';
import {
  BAD_EMAIL_RATE,
  DUPLICATE_RATE,
  generatedItemKey,
  generatePharowBatch,
} from '../../../../bench/fixtures/pharow-generator.ts';
import { checkEmail, normalisePharowItem } from './index.ts';

describe('generatePharowBatch', () => {
  it('is deterministic for a seed and varies with it', () => {
    const a = JSON.stringify(generatePharowBatch(500, 42));
    expect(JSON.stringify(generatePharowBatch(500, 42))).toBe(a);
    expect(JSON.stringify(generatePharowBatch(500, 43))).not.toBe(a);
  });

  it('has ~5% bad emails, ~10% duplicates and shared companies; ~95% normalise', () => {
    const count = 10_000;
    const batch = generatePharowBatch(count, 20240601);
    expect(batch.version).toBe('V2');
    expect(batch.data).toHaveLength(count);

    const badEmails = batch.data.filter(
      (item) => checkEmail(item.position.positionEmail).error !== null,
    ).length;
    expect(badEmails / count).toBeCloseTo(BAD_EMAIL_RATE, 2);

    const duplicates = count - new Set(batch.data.map(generatedItemKey)).size;
    expect(duplicates / count).toBeCloseTo(DUPLICATE_RATE, 2);

    const companies = new Set(batch.data.map((item) => item.company.pharowCompanyId)).size;
    expect(companies).toBeLessThan(count / 3);

    // Warm-up pass (JIT, libphonenumber metadata), then a timed pass.
    for (let i = 0; i < batch.data.length; i++) normalisePharowItem(batch.data[i], i);
    const started = performance.now();
    let accepted = 0;
    const rejectedFields = new Set<string>();
    for (let i = 0; i < batch.data.length; i++) {
      const result = normalisePharowItem(batch.data[i], i);
      if (result.item) accepted++;
      for (const rejection of result.rejections) rejectedFields.add(rejection.field);
    }
    const elapsed = performance.now() - started;
    console.log(
      `normalised ${count} Pharow items in ${elapsed.toFixed(1)} ms: ${Math.round((count / elapsed) * 1000)} items/s`,
    );

    // Broken emails are the only defect the generator plants.
    expect(accepted).toBe(count - badEmails);
    expect(accepted / count).toBeGreaterThan(0.94);
    expect([...rejectedFields]).toEqual(['position.positionEmail']);
  });

  it('produces values the normaliser keeps', () => {
    const batch = generatePharowBatch(2000, 7);
    let withDomain = 0;
    let withMobile = 0;
    for (let i = 0; i < batch.data.length; i++) {
      const { item } = normalisePharowItem(batch.data[i], i);
      if (!item) continue;
      expect(item.company.siren).toMatch(/^\d{9}$/);
      expect(item.company.hqSiret?.slice(0, 9)).toBe(item.company.siren);
      expect(item.company.employeeRange).not.toBeNull();
      expect(item.person.nameKey).toMatch(/^[a-z ]+$/);
      if (item.company.domain !== null) withDomain++;
      if (item.person.mobilePhone !== null) withMobile++;
    }
    expect(withDomain / batch.data.length).toBeGreaterThan(0.85);
    expect(withMobile / batch.data.length).toBeGreaterThan(0.5);
  });

  it('includes La Poste, whose SIRETs need the digit-sum rule', () => {
    const batch = generatePharowBatch(200, 1);
    const laPoste = batch.data.find((item) =>
      item.company.companyHqSiret?.toString().startsWith('356000000'),
    );
    expect(laPoste).toBeDefined();
    expect(normalisePharowItem(laPoste, 0).item?.company.siren).toBe('356000000');
  });
});
