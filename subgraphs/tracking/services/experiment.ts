// Which variant of an A/B test leads on reply rate, and how sure that is: each variant's reply rate has the
// posterior Beta(1 + replies, 1 + sends - replies) (a uniform prior), and the confidence is the probability
// that the leader's rate is above every other variant's, integrated numerically (deterministic, no sampling).

/** Below this many sends in any variant there is no leader yet. */
export const MIN_SENDS_FOR_LEADER = 20;
// Simpson intervals over the leader's posterior mass: ample for 3 decimals at any sample size
const INTERVALS = 4000;
const SPAN_SDS = 12;

export interface VariantCounts {
  id: string;
  sent: number;
  replied: number;
}

export interface Leadership {
  leaderId: string | null;
  confidence: number | null;
}

export function experimentLeader(variants: readonly VariantCounts[]): Leadership {
  if (variants.length < 2 || variants.some((v) => v.sent < MIN_SENDS_FOR_LEADER)) {
    return { leaderId: null, confidence: null };
  }
  const posteriors = variants.map((v) => {
    const replied = Math.min(Math.max(v.replied, 0), v.sent);
    return { id: v.id, a: 1 + replied, b: 1 + v.sent - replied };
  });
  const mean = (p: { a: number; b: number }) => p.a / (p.a + p.b);
  // the highest posterior mean; ties go to the first listed
  const leader = posteriors.reduce((best, p) => (mean(p) > mean(best) ? p : best));
  const others = posteriors.filter((p) => p !== leader);
  return { leaderId: leader.id, confidence: probabilityBeatsAll(leader, others) };
}

/** P(X > Y_j for every j) with X ~ Beta(leader), Y_j ~ Beta(others[j]): ∫ pdf_X(x) ∏ cdf_Yj(x) dx. */
export function probabilityBeatsAll(
  leader: { a: number; b: number },
  others: ReadonlyArray<{ a: number; b: number }>,
): number {
  const { a, b } = leader;
  const m = a / (a + b);
  const sd = Math.sqrt((a * b) / ((a + b) ** 2 * (a + b + 1)));
  const lo = Math.max(0, m - SPAN_SDS * sd);
  const hi = Math.min(1, m + SPAN_SDS * sd);
  const h = (hi - lo) / INTERVALS;
  const logNorm = logBeta(a, b);
  let sum = 0;
  for (let i = 0; i <= INTERVALS; i++) {
    const x = lo + i * h;
    const weight = i === 0 || i === INTERVALS ? 1 : i % 2 === 1 ? 4 : 2;
    let f = betaPdf(x, a, b, logNorm);
    if (f === 0) continue;
    for (const o of others) f *= regularizedBeta(x, o.a, o.b);
    sum += weight * f;
  }
  return Math.min(1, Math.max(0, (sum * h) / 3));
}

function betaPdf(x: number, a: number, b: number, logNorm: number): number {
  if (x <= 0 || x >= 1) return 0;
  return Math.exp((a - 1) * Math.log(x) + (b - 1) * Math.log1p(-x) - logNorm);
}

function logBeta(a: number, b: number): number {
  return logGamma(a) + logGamma(b) - logGamma(a + b);
}

// Lanczos approximation (g = 7, n = 9): ~15 significant digits for x > 0.
const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
  12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
];
function logGamma(x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  const z = x - 1;
  let s = LANCZOS[0];
  for (let i = 1; i < 9; i++) s += LANCZOS[i] / (z + i);
  const t = z + 7.5;
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(s);
}

/** I_x(a, b), the Beta(a, b) CDF at x, by its continued fraction (Lentz). */
export function regularizedBeta(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const front = Math.exp(a * Math.log(x) + b * Math.log1p(-x) - logBeta(a, b));
  // the fraction converges fast for x below the mean; use the symmetry I_x(a,b) = 1 - I_{1-x}(b,a) above it
  if (x < (a + 1) / (a + b + 2)) return (front * betaFraction(x, a, b)) / a;
  return 1 - (front * betaFraction(1 - x, b, a)) / b;
}

function betaFraction(x: number, a: number, b: number): number {
  const tiny = 1e-300;
  let c = 1;
  let d = 1 - ((a + b) * x) / (a + 1);
  if (Math.abs(d) < tiny) d = tiny;
  d = 1 / d;
  let f = d;
  for (let m = 1; m <= 300; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((a + m2 - 1) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    f *= d * c;
    aa = (-(a + m) * (a + b + m) * x) / ((a + m2) * (a + m2 + 1));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const delta = d * c;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-14) break;
  }
  return f;
}
