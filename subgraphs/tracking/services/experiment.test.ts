import { describe, expect, it } from 'vitest';
import { experimentLeader, probabilityBeatsAll, regularizedBeta } from './experiment.ts';

// Evan Miller's closed form of P(A > B) for integer Beta parameters: an independent check of the integration.
function exactBeats(A: { a: number; b: number }, B: { a: number; b: number }): number {
  const lnGamma = (n: number) => {
    let s = 0;
    for (let k = 2; k < n; k++) s += Math.log(k);
    return s;
  };
  const lnBeta = (x: number, y: number) => lnGamma(x) + lnGamma(y) - lnGamma(x + y);
  let total = 0;
  for (let i = 0; i < A.a; i++) {
    total += Math.exp(lnBeta(B.a + i, A.b + B.b) - Math.log(A.b + i) - lnBeta(1 + i, A.b) - lnBeta(B.a, B.b));
  }
  return total;
}

const posterior = (sent: number, replied: number) => ({ a: 1 + replied, b: 1 + sent - replied });

describe('A/B leader and confidence', () => {
  it('two equal variants: either could lead, confidence about one half', () => {
    const result = experimentLeader([
      { id: 'a', sent: 100, replied: 10 },
      { id: 'b', sent: 100, replied: 10 },
    ]);
    expect(result.leaderId).toBe('a');
    expect(result.confidence).toBeCloseTo(0.5, 3);
  });

  it('30/100 against 10/100: the first leads, confidence above 0.99 and as the closed form says', () => {
    const result = experimentLeader([
      { id: 'low', sent: 100, replied: 10 },
      { id: 'high', sent: 100, replied: 30 },
    ]);
    expect(result.leaderId).toBe('high');
    expect(result.confidence).toBeGreaterThan(0.99);
    expect(result.confidence).toBeCloseTo(exactBeats(posterior(100, 30), posterior(100, 10)), 4);
  });

  it('matches the closed form on close and on large samples', () => {
    for (const [[n1, r1], [n2, r2]] of [
      [
        [50, 12],
        [50, 9],
      ],
      [
        [2000, 130],
        [2100, 120],
      ],
      [
        [25, 3],
        [40, 2],
      ],
    ]) {
      const A = posterior(n1, r1);
      const B = posterior(n2, r2);
      expect(probabilityBeatsAll(A, [B])).toBeCloseTo(exactBeats(A, B), 4);
    }
  });

  it('against several variants: the chance to beat them all is below the chance to beat each', () => {
    const result = experimentLeader([
      { id: 'a', sent: 200, replied: 40 },
      { id: 'b', sent: 200, replied: 34 },
      { id: 'c', sent: 200, replied: 20 },
    ]);
    expect(result.leaderId).toBe('a');
    const vsB = exactBeats(posterior(200, 40), posterior(200, 34));
    const vsC = exactBeats(posterior(200, 40), posterior(200, 20));
    expect(result.confidence!).toBeLessThan(Math.min(vsB, vsC));
    // b and c are nearly independent events here, c being almost certain: close to their product
    expect(result.confidence!).toBeCloseTo(vsB * vsC, 2);
  });

  it('no leader below 20 sends in any variant, nor with a single variant', () => {
    expect(
      experimentLeader([
        { id: 'a', sent: 19, replied: 10 },
        { id: 'b', sent: 500, replied: 1 },
      ]),
    ).toEqual({ leaderId: null, confidence: null });
    expect(experimentLeader([{ id: 'a', sent: 500, replied: 50 }])).toEqual({
      leaderId: null,
      confidence: null,
    });
  });

  it('the Beta CDF is right at known points', () => {
    expect(regularizedBeta(0.5, 3, 3)).toBeCloseTo(0.5, 12);
    expect(regularizedBeta(0.3, 1, 1)).toBeCloseTo(0.3, 12);
    // I_x(2, 1) = x^2
    expect(regularizedBeta(0.7, 2, 1)).toBeCloseTo(0.49, 12);
  });
});
