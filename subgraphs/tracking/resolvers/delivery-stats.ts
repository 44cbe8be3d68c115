// Roll-ups read per request in one statement per scope (campaign, step, variant), in the caller's organisation.
import { requireIdentity } from '../../../lib/auth/identity.ts';
import { isUuid } from '../../../lib/db/orm.ts';
import { byKeys, type RequestContext } from '../../../lib/graphql/context.ts';
import type { DeliveryStats } from '../entities/figures.ts';

export type Scope = 'campaign' | 'step' | 'variant';

interface RollupRow {
  scope_id: string;
  sent: number;
  opened: number;
  human_opened: number;
  clicked: number;
  replied: number;
  bounced: number;
  unsubscribed: number;
}

export function deliveryStats(row: Omit<RollupRow, 'scope_id'> | null): DeliveryStats {
  const sent = row?.sent ?? 0;
  const rate = (n: number) => (sent > 0 ? n / sent : 0);
  return {
    sent,
    opened: row?.opened ?? 0,
    humanOpened: row?.human_opened ?? 0,
    clicked: row?.clicked ?? 0,
    replied: row?.replied ?? 0,
    bounced: row?.bounced ?? 0,
    unsubscribed: row?.unsubscribed ?? 0,
    openRate: rate(row?.human_opened ?? 0),
    replyRate: rate(row?.replied ?? 0),
  };
}

/** The figures of a campaign, step or variant; all zero for an id with nothing counted (or not the caller's). */
export async function statsOf(ctx: RequestContext, scope: Scope, id: string): Promise<DeliveryStats> {
  if (!isUuid(id)) return deliveryStats(null);
  const row = await ctx
    .sqlLoader<string, RollupRow>(`stats:${scope}`, async (ids) => {
      const rows = await ctx.sql<RollupRow>(
        `SELECT scope_id, sent, opened, human_opened, clicked, replied, bounced, unsubscribed
         FROM tracking.stats_rollups
         WHERE organisation_id = $1 AND scope = $2 AND scope_id = ANY ($3::uuid[])`,
        [requireIdentity(ctx.identity).organisationId, scope, ids],
      );
      return byKeys(ids, rows, (r) => r.scope_id);
    })
    .load(id);
  return deliveryStats(row);
}
