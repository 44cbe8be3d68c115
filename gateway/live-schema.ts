// The live subgraph: the Subscription type the gateway serves over graphql-ws, composed with the four
// subgraphs so clients, codegen and Sandbox see it. It is never called over the network: the gateway
// answers its fetches in process (see liveDataSource).
import { LocalGraphQLDataSource } from '@apollo/gateway';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { GraphQLError, type GraphQLSchema, parse } from 'graphql';

/** Its name in the supergraph; its URL there is a placeholder nothing connects to. */
export const LIVE_SUBGRAPH = 'live';
export const LIVE_SUBGRAPH_URL = 'http://live.invalid/graphql';

/**
 * Root lookups that turn an event's ids into entity references. `@inaccessible` keeps them out of the
 * API schema clients see; only the gateway's internal payload executor (see livePayloadSupergraph)
 * plans them, so each entity's fields then resolve in their own subgraphs with the subscriber's
 * credentials, as any query does.
 */
export const LIVE_LOOKUPS = {
  Campaign: '_liveCampaign',
  Message: '_liveMessage',
  Enrollment: '_liveEnrollment',
} as const;

/**
 * The same lookups for a list of ids, one reference per id in order: the events of a moment resolve in one
 * query whose document (and so its plan) is the same for one event or a hundred.
 */
export const LIVE_LIST_LOOKUPS = {
  Campaign: '_liveCampaigns',
  Message: '_liveMessages',
  Enrollment: '_liveEnrollments',
} as const;

export const LIVE_SDL = `
extend schema
  @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key", "@shareable", "@inaccessible"])

type Campaign @key(fields: "id", resolvable: false) { id: ID! }
type Message @key(fields: "id", resolvable: false) { id: ID! }
type Enrollment @key(fields: "id", resolvable: false) { id: ID! }

"""An ISO-8601 date-time string, e.g. 2026-03-01T09:30:00.000Z"""
scalar DateTime

"""What happened in a campaign"""
enum ActivityKind {
  DRAFTED
  APPROVAL_NEEDED
  SENT
  OPENED
  CLICKED
  REPLIED
  BOUNCED
  UNSUBSCRIBED
  FAILED
  ENROLLMENT_CHANGED
}

"""One event of a campaign, as it happens"""
type CampaignActivity {
  kind: ActivityKind!
  at: DateTime!
  campaign: Campaign!
  """The message the event is about (none for ENROLLMENT_CHANGED)"""
  message: Message
  """The enrolment the event is about"""
  enrollment: Enrollment
}

"""Counts of one campaign, step or variant"""
type DeliveryStats @shareable {
  sent: Int!
  opened: Int!
  humanOpened: Int!
  clicked: Int!
  replied: Int!
  bounced: Int!
  unsubscribed: Int!
  openRate: Float!
  replyRate: Float!
}

"""Served by the gateway over graphql-ws on /graphql"""
type Subscription {
  """Every event of the campaign; the fields of campaign, message and enrollment resolve like any query's"""
  campaignActivity(campaignId: ID!): CampaignActivity!
  """The campaign's totals on subscribe, then after each change (at most one push a second)"""
  campaignStats(campaignId: ID!): DeliveryStats!
}

type Query {
  _liveCampaign(id: ID!): Campaign @inaccessible
  _liveMessage(id: ID!): Message @inaccessible
  _liveEnrollment(id: ID!): Enrollment @inaccessible
  _liveCampaigns(ids: [ID!]!): [Campaign]! @inaccessible
  _liveMessages(ids: [ID!]!): [Message]! @inaccessible
  _liveEnrollments(ids: [ID!]!): [Enrollment]! @inaccessible
}
`;

function reference(typename: string) {
  return (_: unknown, { id }: { id: string }) => ({ __typename: typename, id });
}

function references(typename: string) {
  return (_: unknown, { ids }: { ids: string[] }) => ids.map((id) => ({ __typename: typename, id }));
}

const servedByGateway = () => {
  throw new GraphQLError('Subscriptions are served over graphql-ws', {
    extensions: { code: 'BAD_REQUEST' },
  });
};

export function buildLiveSubgraphSchema(): GraphQLSchema {
  return buildSubgraphSchema({
    typeDefs: parse(LIVE_SDL),
    resolvers: {
      Query: {
        [LIVE_LOOKUPS.Campaign]: reference('Campaign'),
        [LIVE_LOOKUPS.Message]: reference('Message'),
        [LIVE_LOOKUPS.Enrollment]: reference('Enrollment'),
        [LIVE_LIST_LOOKUPS.Campaign]: references('Campaign'),
        [LIVE_LIST_LOOKUPS.Message]: references('Message'),
        [LIVE_LIST_LOOKUPS.Enrollment]: references('Enrollment'),
      },
      Subscription: {
        campaignActivity: { subscribe: servedByGateway },
        campaignStats: { subscribe: servedByGateway },
      },
    } as any,
  });
}

/** The in-process data source the gateway uses for the live subgraph. */
export function liveDataSource(): LocalGraphQLDataSource {
  return new LocalGraphQLDataSource(buildLiveSubgraphSchema());
}

/**
 * The supergraph the payload executor plans against: the served one with the lookups made reachable.
 * Only `@inaccessible` on the live lookups is dropped; everything else stays as composed.
 */
export function livePayloadSupergraph(supergraphSdl: string): string {
  let sdl = supergraphSdl;
  for (const field of [...Object.values(LIVE_LOOKUPS), ...Object.values(LIVE_LIST_LOOKUPS)]) {
    sdl = sdl.replace(new RegExp(`(\\b${field}\\([^)\\n]*\\): [^\\n]*?) @inaccessible`), '$1');
  }
  return sdl;
}
