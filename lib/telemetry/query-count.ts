// SQL statements per request: a histogram for operators, and recent requests' counts by request id, so a
// test (or an operator chasing an N+1) can ask how many queries one request cost.
import type { ServerResponse } from 'node:http';
import type { Route } from '../http/service-server.ts';
import type { Metrics } from './metrics.ts';

const PATH = /^\/debug\/queries\/([A-Za-z0-9._:-]{1,128})$/;

export interface QueryCounts {
  /**
   * Adds the statements one request sent (a request id seen twice, e.g. two fetches of one gateway request,
   * adds up); `direct` of them went straight to the driver, unseen by the ORM's query counter.
   */
  record(requestId: string, queries: number, direct?: number): void;
  countOf(requestId: string): number | undefined;
  /** GET /debug/queries/<request id> -> { requestId, queries }; off in production. */
  route(): Route;
}

export function createQueryCounts(
  metrics: Metrics,
  options: { exposed: boolean; remember?: number },
): QueryCounts {
  const remember = options.remember ?? 1000;
  const recent = new Map<string, number>();
  return {
    record(requestId, queries, direct = 0) {
      metrics.dbQueriesPerRequest.observe(queries);
      if (direct > 0) metrics.dbQueries.inc(direct);
      const total = (recent.get(requestId) ?? 0) + queries;
      recent.delete(requestId);
      recent.set(requestId, total);
      // a Map iterates in insertion order: drop the oldest beyond the bound
      while (recent.size > remember) recent.delete(recent.keys().next().value as string);
    },
    countOf: (requestId) => recent.get(requestId),
    route: () => (req, res: ServerResponse) => {
      const match = PATH.exec(new URL(req.url ?? '/', 'http://localhost').pathname);
      if (!match || !options.exposed || req.method !== 'GET') return false;
      const body = JSON.stringify({ requestId: match[1], queries: recent.get(match[1]) ?? null });
      res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' });
      res.end(body);
      return true;
    },
  };
}
