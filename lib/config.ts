// The one place that reads the environment: validated once, typed, frozen, then passed down.
import { isIP } from 'node:net';
import { AppError, ErrorCode } from './errors.ts';

export type SubgraphName = 'iam' | 'crm' | 'outreach' | 'tracking';
export const SUBGRAPHS: readonly SubgraphName[] = ['iam', 'crm', 'outreach', 'tracking'];

export interface RateLimitRule {
  limit: number;
  windowSeconds: number;
}

/** Which proxies may set X-Forwarded-For: none (socket address only), a hop count, or their addresses. */
export type TrustProxy =
  | { kind: 'none' }
  | { kind: 'hops'; hops: number }
  | { kind: 'cidrs'; cidrs: { address: string; prefix: number; family: 'ipv4' | 'ipv6' }[] };

export interface Config {
  env: 'development' | 'production' | 'test';
  port: number;
  subgraphPorts: Record<SubgraphName, number>;
  subgraphUrls: Record<SubgraphName, string>;
  databaseUrl: string | undefined;
  /** Passwords of the per-service database roles (DB_PASSWORD_IAM…), for servers that ask for one. */
  databasePasswords: Partial<Record<SubgraphName | 'gateway' | 'worker', string>>;
  embeddedPgPort: number | undefined;
  amqpUrl: string | undefined;
  /** Prefix of every queue and exchange name, so several deployments (or test runs) can share one broker. */
  amqpPrefix: string;
  redisUrl: string | undefined;
  /** Prepended to every Redis key, so several deployments can share one Redis. */
  redisKeyPrefix: string;
  trustProxy: TrustProxy;
  clickhouseUrl: string | undefined;
  jwtPrivateKey: string | undefined;
  jwtPublicKey: string | undefined;
  /** HMAC keys of tracking and unsubscribe tokens: the current one signs, both verify (rotation). */
  trackingSecret: string | undefined;
  trackingSecretPrevious: string | undefined;
  /** AES-256 key sealing stored secrets (mailbox credentials); generated under DATA_DIR/keys/ when unset. */
  secretsKey: Buffer | undefined;
  publicUrl: string;
  openai: {
    apiKey: string | undefined;
    baseUrl: string | undefined;
    model: string;
    /** One completion request, each attempt: the client's own default (10 minutes) would hold a draft far too long. */
    timeoutMs: number;
    /** The client's retries of one request on 408/409/429/5xx and connection errors, honouring retry-after. */
    maxRetries: number;
    /** Completions in flight per organisation, so one big campaign cannot take every slot. */
    concurrency: number;
    /** Completions in flight per drafter process, all organisations together. */
    totalConcurrency: number;
  };
  gmail: { apiUrl: string | undefined; tokenUrl: string | undefined; serviceAccountKey: string | undefined };
  logLevel: string;
  dataDir: string;
  limits: {
    bodyBytes: number;
    webhookBodyBytes: number;
    maxDepth: number;
    maxCost: number;
    maxResponseBytes: number;
    ingestMaxItems: number;
    rates: Record<string, RateLimitRule>;
  };
  auth: { accessTokenSeconds: number; refreshTokenDays: number; cacheSeconds: number };
  mail: { smtpUrl: string | undefined; from: string };
  /** /metrics: served when enabled, and then only to `Authorization: Bearer <token>` when a token is set. */
  metrics: { enabled: boolean; token: string | undefined };
  /** Gateway to subgraphs: keep-alive connections per subgraph; identical in-flight queries sent once. */
  gateway: { subgraphConnections: number; dedupeSubgraphRequests: boolean };
  /** The scheduler looks for due tasks this often (and at once again while a round fills its batch). */
  scheduler: { intervalMs: number };
  /** Each Gmail mailbox's inbox is read this often (replies, automatic replies, bounces). */
  inbox: { pollSeconds: number };
  /** The sender: sends in flight per process and per mailbox, a send's lease, attempts before giving up. */
  sender: { concurrency: number; perMailbox: number; leaseSeconds: number; maxAttempts: number };
}

// Per-organisation, per-operation limits. `write` and `read` are the fallbacks for mutations and queries.
export const DEFAULT_RATE_LIMITS: Record<string, RateLimitRule> = {
  ingestPharow: { limit: 10, windowSeconds: 60 },
  createCampaign: { limit: 20, windowSeconds: 60 },
  signUp: { limit: 20, windowSeconds: 60 },
  login: { limit: 30, windowSeconds: 60 },
  requestPasswordReset: { limit: 10, windowSeconds: 60 },
  write: { limit: 600, windowSeconds: 60 },
  read: { limit: 6000, windowSeconds: 60 },
};

// Root fields a request may carry once only: each does heavy work or guards an account.
export const ONCE_PER_REQUEST: readonly string[] = [
  'ingestPharow',
  'signUp',
  'login',
  'requestPasswordReset',
];

// Root fields called without an account: counted per client IP and per email (the argument at this path),
// whatever token the request carries, so neither a token nor a new organisation buys a fresh budget.
export const ACCOUNT_OPERATIONS: Readonly<Record<string, string>> = {
  login: 'email',
  signUp: 'input.email',
  requestPasswordReset: 'email',
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

function onOff(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (raw === 'on') return true;
  if (raw === 'off') return false;
  invalid(name, 'must be on or off');
}

function redisKeyPrefix(raw: string | undefined): string {
  if (raw === undefined) return 'prospectflow:';
  if (!/^[\w.:{}-]{1,64}$/.test(raw)) {
    invalid('REDIS_KEY_PREFIX', 'must be 1-64 letters, digits or . : - _ { } (e.g. "prospectflow:")');
  }
  return raw;
}

function amqpPrefix(raw: string | undefined): string {
  if (raw === undefined) return '';
  if (!/^[\w.-]{1,64}$/.test(raw))
    invalid('AMQP_PREFIX', 'must be 1-64 letters, digits or . - _ (e.g. "staging.")');
  return raw;
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

/** `TRUST_PROXY`: unset = socket address only; `2` = two proxy hops; `10.0.0.0/8,::1` = these proxies. */
export function parseTrustProxy(raw: string | undefined): TrustProxy {
  if (raw === undefined || raw.trim() === '') return { kind: 'none' };
  const value = raw.trim();
  if (/^\d+$/.test(value)) {
    const hops = Number(value);
    if (hops > 20) invalid('TRUST_PROXY', 'must be a hop count in [0, 20] or a comma list of CIDRs');
    return hops === 0 ? { kind: 'none' } : { kind: 'hops', hops };
  }
  const cidrs = value.split(',').map((part) => {
    const [address, prefixText, extra] = part.trim().split('/');
    const version = isIP(address ?? '');
    const max = version === 6 ? 128 : 32;
    const prefix = prefixText === undefined ? max : Number(prefixText);
    if (
      !version ||
      extra !== undefined ||
      !/^\d*$/.test(prefixText ?? '') ||
      prefixText === '' ||
      prefix > max
    ) {
      invalid(
        'TRUST_PROXY',
        `has a bad entry "${part.trim()}" (expected a hop count, or a comma list of IPv4/IPv6 addresses or CIDRs such as 10.0.0.0/8,fd00::/8)`,
      );
    }
    return { address, prefix, family: version === 6 ? ('ipv6' as const) : ('ipv4' as const) };
  });
  return { kind: 'cidrs', cidrs };
}

function trackingSecret(env: Env, name: string): string | undefined {
  const value = text(env, name);
  if (value !== undefined && (value.length < 32 || value.length > 512 || /\s/.test(value))) {
    invalid(name, 'must be 32 to 512 characters without spaces (generate one with: openssl rand -base64 32)');
  }
  return value;
}

/** SECRETS_KEY: exactly 32 bytes, base64 (`openssl rand -base64 32`). */
function secretsKey(raw: string | undefined): Buffer | undefined {
  if (raw === undefined) return undefined;
  const key = Buffer.from(raw.trim(), 'base64');
  // Buffer.from skips characters that are not base64: re-encoding shows whether the text was the key
  if (key.length !== 32 || key.toString('base64') !== raw.trim()) {
    invalid('SECRETS_KEY', 'must be 32 bytes in base64 (generate one with: openssl rand -base64 32)');
  }
  return key;
}

/**
 * METRICS_TOKEN guards /metrics wherever it is set. Without one, development and tests serve /metrics
 * openly, and production does not serve it at all: metrics name operations and internals.
 */
function metricsAccess(env: Env, nodeEnv: Config['env']): Config['metrics'] {
  const token = text(env, 'METRICS_TOKEN');
  if (token !== undefined && !/^[\x21-\x7e]{16,256}$/.test(token)) {
    invalid('METRICS_TOKEN', 'must be 16 to 256 printable characters without spaces');
  }
  return { enabled: token !== undefined || nodeEnv !== 'production', token };
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
      [...SUBGRAPHS, 'gateway' as const, 'worker' as const]
        .map((name) => [name, text(env, `DB_PASSWORD_${name.toUpperCase()}`)])
        .filter(([, password]) => password !== undefined),
    ),
    embeddedPgPort: env.EMBEDDED_PG_PORT ? int(env, 'EMBEDDED_PG_PORT', 0, 1, 65535) : undefined,
    amqpUrl: url(env, 'AMQP_URL'),
    amqpPrefix: amqpPrefix(text(env, 'AMQP_PREFIX')),
    redisUrl: url(env, 'REDIS_URL'),
    redisKeyPrefix: redisKeyPrefix(text(env, 'REDIS_KEY_PREFIX')),
    trustProxy: parseTrustProxy(env.TRUST_PROXY),
    clickhouseUrl: url(env, 'CLICKHOUSE_URL'),
    jwtPrivateKey: text(env, 'JWT_PRIVATE_KEY'),
    jwtPublicKey: text(env, 'JWT_PUBLIC_KEY'),
    trackingSecret: trackingSecret(env, 'TRACKING_SECRET'),
    trackingSecretPrevious: trackingSecret(env, 'TRACKING_SECRET_PREVIOUS'),
    secretsKey: secretsKey(text(env, 'SECRETS_KEY')),
    publicUrl: url(env, 'PUBLIC_URL') ?? `http://localhost:${port}`,
    openai: {
      apiKey: text(env, 'OPENAI_API_KEY'),
      baseUrl: url(env, 'OPENAI_BASE_URL'),
      model: text(env, 'OPENAI_MODEL') ?? 'gpt-4o-mini',
      timeoutMs: int(env, 'OPENAI_TIMEOUT_MS', 60_000, 1000, 600_000),
      maxRetries: int(env, 'OPENAI_MAX_RETRIES', 2, 0, 10),
      concurrency: int(env, 'OPENAI_CONCURRENCY', 16, 1, 1000),
      totalConcurrency: int(env, 'OPENAI_TOTAL_CONCURRENCY', 64, 1, 1000),
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
      maxResponseBytes: int(env, 'MAX_RESPONSE_BYTES', 8_000_000, 1024),
      ingestMaxItems: int(env, 'INGEST_MAX_ITEMS', 10_000, 1),
      rates: parseRateLimits(text(env, 'RATE_LIMITS')),
    },
    auth: {
      accessTokenSeconds: int(env, 'ACCESS_TOKEN_SECONDS', 900, 10, 86_400),
      refreshTokenDays: int(env, 'REFRESH_TOKEN_DAYS', 30, 1, 365),
      // how long a service trusts a membership's role and status before reading them again
      cacheSeconds: int(env, 'AUTH_CACHE_SECONDS', 5, 0, 300),
    },
    mail: {
      smtpUrl: url(env, 'SMTP_URL'),
      from: text(env, 'MAIL_FROM') ?? 'ProspectFlow <no-reply@localhost>',
    },
    metrics: metricsAccess(env, nodeEnv),
    gateway: {
      subgraphConnections: int(env, 'SUBGRAPH_CONNECTIONS', 128, 1, 10_000),
      dedupeSubgraphRequests: onOff(env, 'SUBGRAPH_DEDUPE', true),
    },
    scheduler: { intervalMs: int(env, 'SCHEDULER_INTERVAL_MS', 1000, 10, 3_600_000) },
    inbox: { pollSeconds: int(env, 'INBOX_POLL_SECONDS', 60, 1, 86_400) },
    sender: {
      concurrency: int(env, 'SENDER_CONCURRENCY', 32, 1, 1000),
      perMailbox: int(env, 'SENDER_PER_MAILBOX', 2, 1, 10),
      // longer than a send's HTTP timeout (half of it): a lease never ends while its send may still be in flight
      leaseSeconds: int(env, 'SENDER_LEASE_SECONDS', 120, 2, 3600),
      maxAttempts: int(env, 'SENDER_MAX_ATTEMPTS', 8, 1, 100),
    },
  };
  if (config.trackingSecretPrevious && !config.trackingSecret) {
    invalid('TRACKING_SECRET_PREVIOUS', 'needs TRACKING_SECRET (the key that replaced it)');
  }
  if ((config.jwtPrivateKey === undefined) !== (config.jwtPublicKey === undefined)) {
    invalid('JWT_PRIVATE_KEY', 'and JWT_PUBLIC_KEY must be set together');
  }
  if (config.mail.smtpUrl && !/^smtps?:$/.test(new URL(config.mail.smtpUrl).protocol)) {
    invalid('SMTP_URL', 'must be an smtp:// or smtps:// URL');
  }
  if (config.env === 'production') {
    if (!config.databaseUrl) invalid('DATABASE_URL', 'is required in production');
    if (!config.jwtPublicKey) invalid('JWT_PUBLIC_KEY', 'is required in production');
    if (!config.trackingSecret) invalid('TRACKING_SECRET', 'is required in production');
  }
  return Object.freeze(config);
}
