// Fan-out of domain events to live subscribers. One bus subscription per gateway process; subscribers
// with the same subscription (document, variables, campaign) and the same identity class form a group,
// and a group resolves each event once, whatever its size.
import type { DocumentNode, ExecutionResult, GraphQLSchema } from 'graphql';
import type { Identity } from '../lib/auth/identity.ts';
import type { Bus, Consumer, DomainEvent } from '../lib/bus/index.ts';
import type { Logger } from '../lib/telemetry/logger.ts';
import type { GatewayContext } from './gateway.ts';
import {
  type ActivityEvent,
  type ActivityQuery,
  activityBatch,
  activityQuery,
  type LiveOperation,
  type PayloadQuery,
  shapePayload,
  statsQuery,
} from './live-payload.ts';

export const ACTIVITY_KINDS: ReadonlySet<string> = new Set([
  'DRAFTED',
  'APPROVAL_NEEDED',
  'SENT',
  'OPENED',
  'CLICKED',
  'REPLIED',
  'BOUNCED',
  'UNSUBSCRIBED',
  'FAILED',
  'ENROLLMENT_CHANGED',
]);

/**
 * The event after which a campaign's counters have moved: the engagement worker publishes it once their change
 * is committed. The outreach events themselves (SENT, REPLIED…) arrive before the counters count them, so a
 * push on those would spend the second's push on totals that are already old.
 */
export const STATS_TRIGGERS: ReadonlySet<string> = new Set(['STATS_CHANGED']);

/** Routing keys are `campaign.<campaignId>.<NAME>`. */
export const LIVE_EVENT_PATTERNS = ['campaign.*.*'];

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Payloads not yet written to one slow client's socket; past this it is dropped rather than buffered without end. */
const MAX_QUEUED_PER_SUBSCRIBER = 256;
/** Events waiting for one group's resolution; past this the group skips events (and says so in the log). */
const MAX_PENDING_PER_GROUP = 1000;
/**
 * Most events one internal query resolves. Its document is the same whatever the count (lists of ids), so
 * this only bounds one response's size; a burst larger than this takes several queries.
 */
const MAX_BATCH_EVENTS = 256;

export type RunQuery = (
  document: DocumentNode,
  variables: Record<string, unknown>,
  context: GatewayContext,
) => Promise<ExecutionResult>;

/**
 * Where one subscriber's payloads go: its socket, each payload's JSON written as a `next` frame of its
 * subscription. `written` runs once the socket has taken the frame (or will never take it).
 */
export type Outlet = (payloadJson: string, written: () => void) => void;

/** The JSON of a `next` payload, as graphql-ws writes one: the result with its errors formatted. */
export function payloadJson(result: ExecutionResult): string {
  const { errors, ...rest } = result;
  return JSON.stringify(errors ? { ...rest, errors: errors.map((e) => e.toJSON()) } : rest);
}

/**
 * One subscriber. Its payloads go straight to its outlet, the same JSON for every member of its group, so
 * a payload is serialised once however many receive it. graphql-ws iterates it as the subscription's
 * stream, which yields nothing and ends on `return()` (complete or socket closed: it leaves the group) or
 * fails (the client gets an error message).
 */
class Subscriber implements AsyncGenerator<ExecutionResult> {
  private waiting:
    | { resolve: (r: IteratorResult<ExecutionResult>) => void; reject: (error: Error) => void }
    | undefined;
  private failure: Error | undefined;
  private done = false;
  /** Frames handed to the socket and not yet written. */
  private unwritten = 0;
  private readonly written = () => {
    this.unwritten--;
  };

  constructor(
    readonly context: GatewayContext,
    private readonly outlet: Outlet,
    private readonly leave: (s: Subscriber) => void,
  ) {}

  push(json: string): void {
    if (this.done) return;
    if (this.unwritten >= MAX_QUEUED_PER_SUBSCRIBER) {
      this.fail(new Error('This subscriber fell too far behind; subscribe again'));
      return;
    }
    this.unwritten++;
    this.outlet(json, this.written);
  }

  fail(error: Error): void {
    this.failure = error;
    this.finish();
  }

  next(): Promise<IteratorResult<ExecutionResult>> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.done) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
    });
  }

  async return(): Promise<IteratorResult<ExecutionResult>> {
    this.finish();
    return { value: undefined, done: true };
  }

  async throw(error: unknown): Promise<IteratorResult<ExecutionResult>> {
    await this.return();
    throw error;
  }

  [Symbol.asyncIterator]() {
    return this;
  }

  async [Symbol.asyncDispose]() {
    await this.return();
  }

  private finish() {
    if (this.done) return;
    this.done = true;
    this.leave(this);
    const waiting = this.waiting;
    this.waiting = undefined;
    if (this.failure) waiting?.reject(this.failure);
    else waiting?.resolve({ value: undefined, done: true });
  }
}

interface PendingActivity {
  group: Group;
  event: ActivityEvent;
  settle: { resolve: (payload: ExecutionResult) => void; reject: (error: Error) => void };
}

interface Group {
  key: string;
  campaignId: string;
  organisationId: string;
  op: LiveOperation;
  /** Groups of one shape (identity class, document, the variables payloads read) resolve events together. */
  shape: string;
  /** The internal query of its activity payloads (campaignActivity groups only). */
  activity: ActivityQuery | undefined;
  members: Set<Subscriber>;
  queries: Map<string, PayloadQuery>;
  chain: Promise<void>;
  pending: number;
}

/** Who may share one resolution: the verified identity without its credentials (user, organisation, role; or key, scopes). */
export function identityClassOf(identity: Identity): string {
  return JSON.stringify(
    identity.kind === 'user'
      ? ['user', identity.userId, identity.organisationId, identity.role]
      : ['apiKey', identity.apiKeyId, identity.organisationId, [...identity.scopes].sort().join(',')],
  );
}

export interface LiveHubOptions {
  bus: Bus;
  /** The client-facing schema with its Subscription type, on which payloads are shaped. */
  schema: GraphQLSchema;
  runQuery: RunQuery;
  log: Logger;
  /** At most one campaignStats push per campaign in this interval. */
  statsIntervalMs: number;
}

export class LiveHub {
  private readonly groups = new Map<string, Group>();
  private readonly byCampaign = new Map<string, Set<Group>>();
  private readonly stats = new Map<
    string,
    { lastAt: number; timer: NodeJS.Timeout | undefined; organisations: Set<string> }
  >();
  private consumer: Consumer | undefined;
  /** Activity events of this tick, resolved together on the next (see flushActivity). */
  private batch: PendingActivity[] = [];
  private flushing = false;

  constructor(private readonly options: LiveHubOptions) {}

  async start(): Promise<void> {
    this.consumer = await this.options.bus.subscribeEvents(LIVE_EVENT_PATTERNS, (event, key) =>
      this.onEvent(event, key),
    );
  }

  async close(): Promise<void> {
    await this.consumer?.close();
    for (const state of this.stats.values()) clearTimeout(state.timer);
    this.stats.clear();
    // what is being resolved finishes while the subgraphs are still reachable
    await Promise.allSettled([...this.groups.values()].map((g) => g.chain));
    for (const group of this.groups.values()) for (const m of group.members) await m.return();
  }

  get subscriberCount(): number {
    let n = 0;
    for (const g of this.groups.values()) n += g.members.size;
    return n;
  }

  get groupCount(): number {
    return this.groups.size;
  }

  /** A new subscriber of a checked operation on a campaign the caller may see. */
  join(
    op: LiveOperation,
    campaignId: string,
    context: GatewayContext,
    outlet: Outlet,
  ): AsyncGenerator<ExecutionResult> {
    const identity = context.identity!;
    const who = identityClassOf(identity);
    const text = op.document.loc?.source.body;
    const name = op.operation.name?.value ?? '';
    const key = JSON.stringify([who, campaignId, text, name, op.variables]);
    let group = this.groups.get(key);
    if (!group) {
      const activity = op.fieldName === 'campaignActivity' ? activityQuery(op) : undefined;
      group = {
        key,
        campaignId,
        organisationId: identity.organisationId,
        op,
        shape: JSON.stringify([who, text, name, activity?.variables ?? {}]),
        activity,
        members: new Set(),
        queries: new Map(),
        chain: Promise.resolve(),
        pending: 0,
      };
      this.groups.set(key, group);
      const campaignGroups = this.byCampaign.get(campaignId) ?? new Set();
      this.byCampaign.set(campaignId, campaignGroups);
      campaignGroups.add(group);
    }
    const joined = group;
    const subscriber = new Subscriber(context, outlet, (s) => this.leave(joined, s));
    group.members.add(subscriber);
    // campaignStats starts with the current totals, for this subscriber alone
    if (op.fieldName === 'campaignStats') {
      this.resolveStats(group, campaignId, subscriber.context).then(
        (payload) => subscriber.push(payloadJson(payload)),
        (err) => this.options.log.warn({ err: String(err) }, 'live stats could not be read'),
      );
    }
    return subscriber;
  }

  private leave(group: Group, subscriber: Subscriber) {
    group.members.delete(subscriber);
    if (group.members.size > 0) return;
    this.groups.delete(group.key);
    const campaignGroups = this.byCampaign.get(group.campaignId);
    campaignGroups?.delete(group);
    if (campaignGroups?.size === 0) {
      this.byCampaign.delete(group.campaignId);
      const state = this.stats.get(group.campaignId);
      if (state) clearTimeout(state.timer);
      this.stats.delete(group.campaignId);
    }
  }

  private onEvent(event: DomainEvent, routingKey: string): void {
    const [, campaignId, type] = routingKey.split('.');
    if (!campaignId || !type || !UUID.test(campaignId)) return;
    const groups = this.byCampaign.get(campaignId);
    if (!groups) return;
    const organisationId = event.organisationId;
    if (ACTIVITY_KINDS.has(type)) {
      const activity: ActivityEvent = {
        kind: type,
        at: typeof event.at === 'string' ? event.at : new Date().toISOString(),
        campaignId,
        messageId: idOf(event.messageId),
        enrollmentId: idOf(event.enrollmentId),
      };
      for (const group of groups) {
        // an organisation only ever hears its own campaigns' events
        if (group.organisationId !== organisationId || group.op.fieldName !== 'campaignActivity') continue;
        this.queueActivity(group, activity);
      }
    }
    if (STATS_TRIGGERS.has(type)) this.scheduleStats(campaignId, organisationId);
  }

  private enqueue(group: Group, task: () => Promise<ExecutionResult>) {
    if (group.pending >= MAX_PENDING_PER_GROUP) {
      this.options.log.warn({ campaignId: group.campaignId }, 'live group behind: event skipped');
      return;
    }
    group.pending++;
    // one group's events are delivered in the order they came
    group.chain = group.chain
      .then(task)
      .then(
        (payload) => {
          const json = payloadJson(payload);
          for (const member of group.members) member.push(json);
        },
        (err) => this.options.log.warn({ err: String(err) }, 'live event could not be resolved'),
      )
      .finally(() => {
        group.pending--;
      });
  }

  private representative(group: Group): GatewayContext | undefined {
    return group.members.values().next().value?.context;
  }

  /** The event joins this tick's batch; the group delivers its payloads in the order events came. */
  private queueActivity(group: Group, event: ActivityEvent) {
    let settle!: PendingActivity['settle'];
    const payload = new Promise<ExecutionResult>((resolve, reject) => {
      settle = { resolve, reject };
    });
    this.batch.push({ group, event, settle });
    this.enqueue(group, () => payload);
    if (this.flushing) return;
    this.flushing = true;
    setImmediate(() => this.flushActivity());
  }

  /** One internal query per shape for all of this tick's events, however many groups and campaigns. */
  private flushActivity() {
    this.flushing = false;
    const byShape = new Map<string, PendingActivity[]>();
    for (const entry of this.batch.splice(0)) {
      const list = byShape.get(entry.group.shape) ?? [];
      byShape.set(entry.group.shape, list);
      list.push(entry);
    }
    for (const entries of byShape.values()) {
      for (let i = 0; i < entries.length; i += MAX_BATCH_EVENTS) {
        void this.resolveActivities(entries.slice(i, i + MAX_BATCH_EVENTS));
      }
    }
  }

  private async resolveActivities(entries: PendingActivity[]): Promise<void> {
    try {
      const query = entries[0]!.group.activity!;
      const batch = activityBatch(
        query,
        entries.map((e) => e.event),
      );
      const context = entries.map((e) => this.representative(e.group)).find((c) => c !== undefined);
      const result =
        query.document && context
          ? await this.options.runQuery(query.document, batch.variables, context)
          : {};
      const parts = batch.split(result);
      entries.forEach((entry, i) => {
        const value = { kind: entry.event.kind, at: entry.event.at, ...parts[i]!.data };
        entry.settle.resolve(shapePayload(this.options.schema, entry.group.op, value, parts[i]!.errors));
      });
    } catch (error) {
      for (const entry of entries) entry.settle.reject(error as Error);
    }
  }

  private async resolveStats(
    group: Group,
    campaignId: string,
    context: GatewayContext,
  ): Promise<ExecutionResult> {
    let query = group.queries.get('stats');
    if (!query) {
      query = statsQuery(group.op);
      group.queries.set('stats', query);
    }
    const result = await this.options.runQuery(
      query.document,
      query.variables({ kind: 'STATS_CHANGED', at: '', campaignId }),
      context,
    );
    const campaign = result.data?.campaign as { stats?: unknown } | null | undefined;
    return shapePayload(this.options.schema, group.op, campaign?.stats ?? null, result.errors);
  }

  /** At most one push per campaign and interval: changes in between are folded into the next one. */
  private scheduleStats(campaignId: string, organisationId: string) {
    let state = this.stats.get(campaignId);
    if (!state) {
      state = { lastAt: 0, timer: undefined, organisations: new Set() };
      this.stats.set(campaignId, state);
    }
    state.organisations.add(organisationId);
    if (state.timer) return;
    const current = state;
    const delay = Math.max(0, current.lastAt + this.options.statsIntervalMs - Date.now());
    current.timer = setTimeout(() => {
      current.timer = undefined;
      current.lastAt = Date.now();
      const organisations = current.organisations;
      current.organisations = new Set();
      for (const group of this.byCampaign.get(campaignId) ?? []) {
        if (group.op.fieldName !== 'campaignStats' || !organisations.has(group.organisationId)) continue;
        this.enqueue(group, async () => {
          const context = this.representative(group);
          if (!context) throw new Error('group left');
          return this.resolveStats(group, campaignId, context);
        });
      }
    }, delay);
  }
}

function idOf(value: unknown): string | undefined {
  return typeof value === 'string' && UUID.test(value) ? value : undefined;
}
