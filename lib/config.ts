// The one place that reads the environment: validated once, typed, frozen, then passed down.
import { AppError, ErrorCode } from './errors.ts';

export type SubgraphName = 'iam' | 'crm' | 'outreach' | 'tracking';
export const SUBGRAPHS: readonly SubgraphName[] = ['iam', 'crm', 'outreach', 'tracking'];

export interface RateLimitRule {
  limit: number;
  windowSeconds: number;
}

export interface Config {
  env: 'development' | 'production' | 'test';
  port: number;
  subgraphPorts: Record<SubgraphName, number>;
  subgraphUrls: Record<SubgraphName, string>;
  databaseUrl: string | undefined;
  /** Passwords of the per-service database roles (DB_PASSWORD_IAM…), for servers that ask for one. */
  databasePasswords: Partial<Record<SubgraphName | 'gateway', string>>;
  embeddedPgPort: number | undefined;
  amqpUrl: string | undefined;
  redisUrl: string | undefined;
  clickhouseUrl: string | undefined;
  jwtPrivateKey: string | undefined;
  jwtPublicKey: string | undefined;
  trackingSecret: string | undefined;
  publicUrl: string;
  openai: { apiKey: string | undefined; baseUrl: string | undefined; model: string };
  gmail: { apiUrl: string | undefined; tokenUrl: string | undefined; serviceAccountKey: string | undefined };
  logLevel: string;
  dataDir: string;
  limits: {
    bodyBytes: number;
    webhookBodyBytes: number;
    maxDepth: number;
    maxCost: number;
    ingestMaxItems: number;
    rates: Record<string, RateLimitRule>;
  };
  auth: { accessTokenSeconds: number; refreshTokenDays: number };
}

// Per-organisation, per-operation limits. `write` and `read` are the fallbacks for mutations and queries.
export const DEFAULT_RATE_LIMITS: Record<string, RateLimitRule> = {
  ingestPharow: { limit: 10, windowSeconds: 60 },
  createCampaign: { limit: 20, windowSeconds: 60 },
  signUp: { limit: 20, windowSeconds: 60 },
  login: { limit: 30, windowSeconds: 60 },
  write: { limit: 600, windowSeconds: 60 },
  read: { limit: 6000, windowSeconds: 60 },
};

type Env = Record<string, string | undefined>;

function invalid(name: string, why: string): never {
  throw new AppError(ErrorCode.ConfigInvalid, `${name} ${why}`);
}

function int(env: Env, name: string, fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max)
    invalid(name, `must be an integer in [${min}, ${max}]`);
  return value;
}

function url(env: Env, name: string): string | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  try {
    new URL(raw);
  } catch {
    invalid(name, 'must be a URL');
  }
  return raw;
}

function text(env: Env, name: string): string | undefined {
  const raw = env[name];
  return raw === undefined || raw === '' ? undefined : raw;
}

/** `RATE_LIMITS="ingestPharow=10/60,read=6000/60"`: overrides merged over the defaults. */
export function parseRateLimits(raw: string | undefined): Record<string, RateLimitRule> {
  const rates = { ...DEFAULT_RATE_LIMITS };
  if (!raw) return rates;
  for (const part of raw.split(',')) {
    const m = /^\s*(\w+)\s*=\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(part);
    if (!m || Number(m[3]) === 0)
      invalid('RATE_LIMITS', `has a bad entry "${part}" (expected name=limit/seconds)`);
    rates[m[1]] = { limit: Number(m[2]), windowSeconds: Number(m[3]) };
  }
  return rates;
}

export function loadConfig(env: Env = process.env): Readonly<Config> {
  const nodeEnv =
    env.NODE_ENV === 'production' ? 'production' : env.NODE_ENV === 'test' ? 'test' : 'development';
  const port = int(env, 'PORT', 4000, 0, 65535);
  const subgraphPorts = {
    iam: int(env, 'IAM_PORT', 4001, 0, 65535),
    crm: int(env, 'CRM_PORT', 4002, 0, 65535),
    outreach: int(env, 'OUTREACH_PORT', 4003, 0, 65535),
    tracking: int(env, 'TRACKING_PORT', 4004, 0, 65535),
  };
  const subgraphUrl = (name: SubgraphName) =>
    url(env, `${name.toUpperCase()}_URL`) ?? `http://127.0.0.1:${subgraphPorts[name]}/graphql`;
  const logLevel = text(env, 'LOG_LEVEL') ?? (nodeEnv === 'test' ? 'warn' : 'info');
  if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(logLevel)) {
    invalid('LOG_LEVEL', 'must be one of fatal, error, warn, info, debug, trace, silent');
  }
  const config: Config = {
    env: nodeEnv,
    port,
    subgraphPorts,
    subgraphUrls: {
      iam: subgraphUrl('iam'),
      crm: subgraphUrl('crm'),
      outreach: subgraphUrl('outreach'),
      tracking: subgraphUrl('tracking'),
    },
    databaseUrl: url(env, 'DATABASE_URL'),
    databasePasswords: Object.fromEntries(
      [...SUBGRAPHS, 'gateway' as const]
        .map((name) => [name, text(env, `DB_PASSWORD_${name.toUpperCase()}`)])
        .filter(([, password]) => password !== undefined),
    ),
    embeddedPgPort: env.EMBEDDED_PG_PORT ? int(env, 'EMBEDDED_PG_PORT', 0, 1, 65535) : undefined,
    amqpUrl: url(env, 'AMQP_URL'),
    redisUrl: url(env, 'REDIS_URL'),
    clickhouseUrl: url(env, 'CLICKHOUSE_URL'),
    jwtPrivateKey: text(env, 'JWT_PRIVATE_KEY'),
    jwtPublicKey: text(env, 'JWT_PUBLIC_KEY'),
    trackingSecret: text(env, 'TRACKING_SECRET'),
    publicUrl: url(env, 'PUBLIC_URL') ?? `http://localhost:${port}`,
    openai: {
      apiKey: text(env, 'OPENAI_API_KEY'),
      baseUrl: url(env, 'OPENAI_BASE_URL'),
      model: text(env, 'OPENAI_MODEL') ?? 'gpt-4o-mini',
    },
    gmail: {
      apiUrl: url(env, 'GMAIL_API_URL'),
      tokenUrl: url(env, 'GOOGLE_TOKEN_URL'),
      serviceAccountKey: text(env, 'GOOGLE_SERVICE_ACCOUNT_KEY'),
    },
    logLevel,
    dataDir: text(env, 'DATA_DIR') ?? '.data',
    limits: {
      bodyBytes: int(env, 'MAX_BODY_BYTES', 16_000_000, 1024),
      webhookBodyBytes: int(env, 'MAX_WEBHOOK_BODY_BYTES', 16_000_000, 1024),
      maxDepth: int(env, 'MAX_QUERY_DEPTH', 12, 2, 100),
      maxCost: int(env, 'MAX_QUERY_COST', 50_000, 10),
      ingestMaxItems: int(env, 'INGEST_MAX_ITEMS', 10_000, 1),
      rates: parseRateLimits(text(env, 'RATE_LIMITS')),
    },
    auth: {
      accessTokenSeconds: int(env, 'ACCESS_TOKEN_SECONDS', 900, 10, 86_400),
      refreshTokenDays: int(env, 'REFRESH_TOKEN_DAYS', 30, 1, 365),
    },
  };
  if ((config.jwtPrivateKey === undefined) !== (config.jwtPublicKey === undefined)) {
    invalid('JWT_PRIVATE_KEY', 'and JWT_PUBLIC_KEY must be set together');
  }
  if (config.env === 'production') {
    if (!config.databaseUrl) invalid('DATABASE_URL', 'is required in production');
    if (!config.jwtPublicKey) invalid('JWT_PUBLIC_KEY', 'is required in production');
  }
  return Object.freeze(config);
}
