// Building Pharow items for tests: every value a string, as Pharow sends them.
import { randomUUID } from 'node:crypto';
import type { PharowItemInput } from '../generated/graphql.ts';

let counter = 0;

/** A valid Luhn SIREN built from a random 8-digit prefix. */
export function validSiren(): string {
  for (;;) {
    const base = String(10_000_000 + Math.floor(Math.random() * 89_999_999));
    for (let d = 0; d <= 9; d++) {
      const candidate = base + d;
      let sum = 0;
      for (let i = 0; i < 9; i++) {
        let n = Number(candidate[8 - i]);
        if (i % 2 === 1) {
          n *= 2;
          if (n > 9) n -= 9;
        }
        sum += n;
      }
      if (sum % 10 === 0) return candidate;
    }
  }
}

export interface ItemOverrides {
  company?: Partial<PharowItemInput['company']>;
  person?: Partial<PharowItemInput['person']>;
  position?: Partial<PharowItemInput['position']>;
}

/** A complete, valid item for a unique company and person; overrides replace fields (null clears one). */
export function pharowItem(overrides: ItemOverrides = {}): PharowItemInput {
  const n = ++counter;
  const tag = randomUUID().slice(0, 8);
  return {
    company: {
      pharowCompanyId: `ph-${tag}`,
      companySiren: validSiren(),
      companyName: `Société ${tag} SAS`,
      companyUrl: `https://www.${tag}.fr`,
      companyNafSector: 'Programmation informatique',
      companyNbEmployees: '42',
      ...overrides.company,
    },
    person: {
      personFirstName: 'Élodie',
      personLastName: `Durand${n}`,
      personLinkedinUrl: `https://www.linkedin.com/in/elodie-durand-${tag}`,
      ...overrides.person,
    },
    position: {
      positionJobTitle: 'Directrice commerciale',
      positionEmail: `elodie.durand${n}@${tag}.fr`,
      positionEmailStatus: 'valid',
      positionEmailReliability: '95%',
      ...overrides.position,
    },
  };
}
