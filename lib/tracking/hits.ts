// One answered hit on a tracking URL (pixel or click), as the endpoint hands it on in batches.

export interface TrackingHit {
  /** Unique per hit: a redelivered batch counts once. */
  id: string;
  kind: 'OPEN' | 'CLICK';
  organisationId: string;
  messageId: string;
  /** The clicked URL (CLICK), else null. */
  url: string | null;
  /** ISO-8601. */
  at: string;
  /** Why the endpoint already knows it is a machine ('head', 'scanner-ua', 'apple-privacy-proxy'), else null. */
  machine: string | null;
  userAgent: string | null;
  ipHash: string | null;
}
