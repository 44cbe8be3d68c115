import { describe, expect, it } from 'vitest';
import { DEFAULT_RATE_LIMITS, loadConfig, parseRateLimits, parseTrustProxy } from './config.ts';
import { AppError } from './errors.ts';

describe('loadConfig', () => {
  it('runs on embedded defaults with nothing set', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      env: 'development',
      port: 4000,
      subgraphPorts: { iam: 4001, crm: 4002, outreach: 4003, tracking: 4004 },
      subgraphUrls: { crm: 'http://127.0.0.1:4002/graphql' },
      databaseUrl: undefined,
      amqpUrl: undefined,
      redisUrl: undefined,
      publicUrl: 'http://localhost:4000',
    });
    expect(config.limits.rates).toEqual(DEFAULT_RATE_LIMITS);
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('refuses bad values with a clear message instead of starting wrong', () => {
    expect(() => loadConfig({ PORT: 'eighty' })).toThrow(/PORT must be an integer/);
    expect(() => loadConfig({ DATABASE_URL: 'not a url' })).toThrow(/DATABASE_URL must be a URL/);
    expect(() => loadConfig({ LOG_LEVEL: 'loud' })).toThrow(/LOG_LEVEL/);
    expect(() => loadConfig({ JWT_PRIVATE_KEY: 'x' })).toThrow(/set together/);
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(AppError);
  });

  it('reads the drafting model settings and refuses out-of-range ones in one line', () => {
    expect(loadConfig({}).openai).toEqual({
      apiKey: undefined,
      baseUrl: undefined,
      model: 'gpt-4o-mini',
      timeoutMs: 60_000,
      maxRetries: 2,
      concurrency: 16,
      totalConcurrency: 64,
    });
    const config = loadConfig({
      OPENAI_BASE_URL: 'http://127.0.0.1:9999/v1',
      OPENAI_TIMEOUT_MS: '5000',
      OPENAI_MAX_RETRIES: '0',
      OPENAI_CONCURRENCY: '4',
      OPENAI_TOTAL_CONCURRENCY: '32',
    });
    expect(config.openai).toMatchObject({
      timeoutMs: 5000,
      maxRetries: 0,
      concurrency: 4,
      totalConcurrency: 32,
    });
    expect(() => loadConfig({ OPENAI_TIMEOUT_MS: '10' })).toThrow(
      /^OPENAI_TIMEOUT_MS must be an integer in \[1000, 600000\]$/,
    );
    expect(() => loadConfig({ OPENAI_CONCURRENCY: '0' })).toThrow(/^OPENAI_CONCURRENCY must be an integer/);
    expect(() => loadConfig({ OPENAI_MAX_RETRIES: 'many' })).toThrow(
      /^OPENAI_MAX_RETRIES must be an integer/,
    );
    expect(() => loadConfig({ OPENAI_BASE_URL: 'openai' })).toThrow(/^OPENAI_BASE_URL must be a URL$/);
  });

  it('reads the system mailer and the membership cache settings', () => {
    expect(loadConfig({}).mail).toEqual({ smtpUrl: undefined, from: 'ProspectFlow <no-reply@localhost>' });
    expect(loadConfig({}).auth.cacheSeconds).toBe(5);
    const config = loadConfig({
      SMTP_URL: 'smtps://user:pass@mail.example.fr:465',
      MAIL_FROM: 'Acme <ops@acme.fr>',
      AUTH_CACHE_SECONDS: '0',
    });
    expect(config.mail).toEqual({
      smtpUrl: 'smtps://user:pass@mail.example.fr:465',
      from: 'Acme <ops@acme.fr>',
    });
    expect(config.auth.cacheSeconds).toBe(0);
    expect(() => loadConfig({ SMTP_URL: 'http://mail.example.fr' })).toThrow(/SMTP_URL must be an smtp/);
    expect(() => loadConfig({ AUTH_CACHE_SECONDS: '-1' })).toThrow(/AUTH_CACHE_SECONDS/);
  });

  it("reads the sender's settings and the broker prefix, and refuses bad ones in one line", () => {
    expect(loadConfig({}).sender).toEqual({
      concurrency: 32,
      perMailbox: 2,
      leaseSeconds: 120,
      maxAttempts: 8,
    });
    expect(loadConfig({}).amqpPrefix).toBe('');
    expect(
      loadConfig({
        SENDER_CONCURRENCY: '64',
        SENDER_PER_MAILBOX: '1',
        SENDER_LEASE_SECONDS: '300',
        SENDER_MAX_ATTEMPTS: '3',
        AMQP_PREFIX: 'staging.',
      }),
    ).toMatchObject({
      sender: { concurrency: 64, perMailbox: 1, leaseSeconds: 300, maxAttempts: 3 },
      amqpPrefix: 'staging.',
    });
    expect(() => loadConfig({ SENDER_CONCURRENCY: '0' })).toThrow(/^SENDER_CONCURRENCY /);
    expect(() => loadConfig({ SENDER_LEASE_SECONDS: '1' })).toThrow(/^SENDER_LEASE_SECONDS /);
    expect(() => loadConfig({ AMQP_PREFIX: 'a b' })).toThrow(/^AMQP_PREFIX /);
  });

  it("reads the scheduler's interval", () => {
    expect(loadConfig({}).scheduler.intervalMs).toBe(1000);
    expect(loadConfig({ SCHEDULER_INTERVAL_MS: '250' }).scheduler.intervalMs).toBe(250);
    expect(() => loadConfig({ SCHEDULER_INTERVAL_MS: '0' })).toThrow(/^SCHEDULER_INTERVAL_MS /);
    expect(() => loadConfig({ SCHEDULER_INTERVAL_MS: 'soon' })).toThrow(/SCHEDULER_INTERVAL_MS/);
  });
});

describe('parseRateLimits', () => {
  it('merges overrides over the defaults', () => {
    const rates = parseRateLimits('ingestPharow=5/30, read=100/1');
    expect(rates.ingestPharow).toEqual({ limit: 5, windowSeconds: 30 });
    expect(rates.read).toEqual({ limit: 100, windowSeconds: 1 });
    expect(rates.createCampaign).toEqual(DEFAULT_RATE_LIMITS.createCampaign);
  });

  it('rejects malformed entries and zero windows', () => {
    expect(() => parseRateLimits('ingestPharow=5')).toThrow(/bad entry/);
    expect(() => parseRateLimits('read=5/0')).toThrow(/bad entry/);
  });
});

describe('proxies, Redis prefix and response ceiling', () => {
  it('defaults to no trusted proxy, the prospectflow: prefix and an 8 MB ceiling', () => {
    const config = loadConfig({});
    expect(config.trustProxy).toEqual({ kind: 'none' });
    expect(config.redisKeyPrefix).toBe('prospectflow:');
    expect(config.limits.maxResponseBytes).toBe(8_000_000);
  });

  it('reads TRUST_PROXY as a hop count or a list of IPv4/IPv6 addresses and CIDRs', () => {
    expect(parseTrustProxy('2')).toEqual({ kind: 'hops', hops: 2 });
    expect(parseTrustProxy('0')).toEqual({ kind: 'none' });
    expect(parseTrustProxy('10.0.0.0/8, 192.168.1.4,fd00::/8')).toEqual({
      kind: 'cidrs',
      cidrs: [
        { address: '10.0.0.0', prefix: 8, family: 'ipv4' },
        { address: '192.168.1.4', prefix: 32, family: 'ipv4' },
        { address: 'fd00::', prefix: 8, family: 'ipv6' },
      ],
    });
    expect(loadConfig({ TRUST_PROXY: '1', REDIS_KEY_PREFIX: 'staging:' })).toMatchObject({
      trustProxy: { kind: 'hops', hops: 1 },
      redisKeyPrefix: 'staging:',
    });
  });

  it('refuses a bad TRUST_PROXY or prefix with one clear line', () => {
    for (const bad of ['yes', '10.0.0.0/33', '10.0.0/8', 'fd00::/129', '10.0.0.0/8,', '10.0.0.0/8/1', '99']) {
      let message = '';
      try {
        loadConfig({ TRUST_PROXY: bad });
      } catch (error) {
        expect(error).toBeInstanceOf(AppError);
        message = (error as Error).message;
      }
      expect(message, bad).toMatch(/^TRUST_PROXY /);
      expect(message).not.toContain('\n');
    }
    expect(() => loadConfig({ REDIS_KEY_PREFIX: 'has space' })).toThrow(/^REDIS_KEY_PREFIX /);
    expect(() => loadConfig({ MAX_RESPONSE_BYTES: '10' })).toThrow(/MAX_RESPONSE_BYTES/);
  });
});
