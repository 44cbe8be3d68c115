import { describe, expect, it } from 'vitest';
import { DEFAULT_RATE_LIMITS, loadConfig, parseRateLimits } from './config.ts';
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
