// Formatting for the bench's markdown report.
import type { Counts, IngestResult } from './client.ts';
import type { NaiveOutcome } from './naive.ts';

export interface Row {
  path: string;
  run: 'fresh' | 'repeat';
  items: number;
  ms: number;
  /** peak RSS of the CRM subgraph process while this call ran; undefined when the work ran elsewhere */
  peakRssKb?: number;
  /** ms of every round when the call ran several times (ms is then the median) */
  rounds?: number[];
}

export function itemsPerSecond(row: { items: number; ms: number }): number {
  return row.ms > 0 ? (row.items * 1000) / row.ms : 0;
}

export function mb(kb: number): string {
  return (kb / 1024).toFixed(0);
}

export function table(rows: Row[], naive: Record<Row['run'], Row>): string {
  const lines = [
    "| path | run | items | ms (median) | items/s | vs naive | rounds (ms) | CRM subgraph peak RSS during the first round's call (MB) |",
    '|---|---|---|---|---|---|---|---|',
  ];
  for (const row of rows) {
    const ratio = itemsPerSecond(row) / itemsPerSecond(naive[row.run]);
    lines.push(
      `| ${row.path} | ${row.run} | ${row.items} | ${row.ms.toFixed(0)} | ${itemsPerSecond(row).toFixed(0)} | ${ratio.toFixed(1)}x | ${row.rounds?.map((ms) => ms.toFixed(0)).join(', ') ?? '—'} | ${row.peakRssKb === undefined ? '—' : mb(row.peakRssKb)} |`,
    );
  }
  return lines.join('\n');
}

function counts(c: Counts): string {
  return `${c.created}/${c.updated}/${c.unchanged}`;
}

export function describeResult(label: string, r: IngestResult): string {
  return `${label}: received ${r.received}, companies ${counts(r.companies)}, people ${counts(r.people)}, positions ${counts(r.positions)} (created/updated/unchanged), rejected ${r.rejected.length}`;
}

export function describeNaive(label: string, r: NaiveOutcome): string {
  const c = (x: { created: number; updated: number }) => `${x.created}/${x.updated}`;
  return `${label}: received ${r.received}, companies ${c(r.companies)}, people ${c(r.people)}, positions ${c(r.positions)} (inserted/updated — it cannot tell unchanged), rejected ${r.rejected}`;
}

/** Problems with a repeat run: it must find everything already stored and reject the same items. */
export function repeatProblems(fresh: IngestResult, repeat: IngestResult): string[] {
  const problems: string[] = [];
  for (const entity of ['companies', 'people', 'positions'] as const) {
    const c = repeat[entity];
    if (c.created !== 0 || c.updated !== 0)
      problems.push(`${entity}: ${c.created} created, ${c.updated} updated (expected 0 and 0)`);
  }
  if (repeat.rejected.length !== fresh.rejected.length)
    problems.push(`rejected ${repeat.rejected.length} (fresh run rejected ${fresh.rejected.length})`);
  return problems;
}

/** Same item set, two entry points: the counts must agree. */
export function sameOutcome(a: IngestResult, b: IngestResult): boolean {
  const key = (r: IngestResult) =>
    JSON.stringify([r.received, r.companies, r.people, r.positions, r.rejected.length]);
  return key(a) === key(b);
}

export function verdict(met: boolean): string {
  return met ? 'met' : 'NOT met';
}

/** A markdown table from a header row and body rows of already formatted cells. */
export function markdownTable(header: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}
