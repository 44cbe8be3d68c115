// A tracking hit: one answered pixel fetch or link click, as the tracking endpoint hands it on. The same batch
// goes to the raw event store and to the counters; both dedupe by `id`, so a redelivered batch counts once.
import { BusError } from '../bus/types.ts';

export type HitKind = 'OPEN' | 'CLICK';

/** Why the endpoint already knows a hit came from a machine; null when it looks like a person. */
export type MachineReason = 'head' | 'scanner-ua' | 'apple-privacy-proxy';

export interface TrackingHit {
  /** A UUID, unique per hit. */
  id: string;
  kind: HitKind;
  organisationId: string;
  messageId: string;
  /** The clicked URL (CLICK), null for an open. */
  url: string | null;
  /** ISO-8601, when the endpoint received it. */
  at: string;
  machine: MachineReason | null;
  /** At most MAX_USER_AGENT_CHARS. */
  userAgent: string | null;
  /** A keyed hash of the client address, never the address itself. */
  ipHash: string | null;
}

/** A hit batch's message: the hits answered together, published once and confirmed once. */
export interface HitBatch {
  hits: TrackingHit[];
}

export const MAX_USER_AGENT_CHARS = 512;
/** Bounds one message: the endpoint's batches are far smaller. */
export const MAX_HITS_PER_BATCH = 5000;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const KINDS = new Set<string>(['OPEN', 'CLICK']);
const MACHINE = new Set<string>(['head', 'scanner-ua', 'apple-privacy-proxy']);
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z$/;

function nullableText(value: unknown, max: number): boolean {
  return value === null || (typeof value === 'string' && value.length <= max);
}

/** Throws unless `value` is a hit a consumer may store as it is (ids are UUIDs, the time is ISO UTC…). */
export function assertHit(value: unknown): asserts value is TrackingHit {
  const hit = value as Partial<TrackingHit> | null;
  const fail = (field: string) => {
    throw new BusError(`tracking hit: ${field} is not valid`);
  };
  if (typeof hit !== 'object' || hit === null || Array.isArray(hit)) fail('the hit');
  for (const key of ['id', 'organisationId', 'messageId'] as const)
    if (typeof hit![key] !== 'string' || !UUID.test(hit![key] as string)) fail(key);
  if (!KINDS.has(hit!.kind as string)) fail('kind');
  if (typeof hit!.at !== 'string' || !ISO.test(hit!.at) || Number.isNaN(Date.parse(hit!.at))) fail('at');
  if (hit!.machine !== null && !MACHINE.has(hit!.machine as string)) fail('machine');
  // a click names its URL, an open never does
  if (hit!.kind === 'CLICK' ? typeof hit!.url !== 'string' || hit!.url.length > 4096 : hit!.url !== null)
    fail('url');
  if (!nullableText(hit!.userAgent, MAX_USER_AGENT_CHARS)) fail('userAgent');
  if (!nullableText(hit!.ipHash, 128)) fail('ipHash');
}

/** Throws unless `value` is `{ hits: [...] }` with 1 to MAX_HITS_PER_BATCH valid hits. */
export function assertHitBatch(value: unknown): asserts value is HitBatch {
  const hits = (value as Partial<HitBatch> | null)?.hits;
  if (!Array.isArray(hits) || hits.length === 0 || hits.length > MAX_HITS_PER_BATCH)
    throw new BusError(`a hit batch carries 1 to ${MAX_HITS_PER_BATCH} hits`);
  for (const hit of hits) assertHit(hit);
}
