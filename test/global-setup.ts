// Starts the whole platform once for the test run, on a fresh database in the real PostgreSQL.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { loadConfig } from '../lib/config.ts';
import { type RunningStack, startStack } from '../stack.ts';
import { type GoogleFake, startGoogleFake } from './fakes/google.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    gatewayUrl: string;
    gatewayOrigin: string;
    databaseUrl: string;
    adminDatabaseUrl: string;
    subgraphUrls: Record<string, string>;
    dataDir: string;
    /** Mailboxes of this domain may be connected with domain-wide delegation (the fake service account). */
    delegatedDomain: string;
  }
}

const ADMIN_URL = process.env.TEST_DATABASE_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

async function freshDatabase(name: string): Promise<string> {
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

let stack: RunningStack | undefined;
let dataDir: string | undefined;
let google: GoogleFake | undefined;
const DELEGATED_DOMAIN = 'delegated.example';

export default async function setup(project: TestProject) {
  const databaseUrl = await freshDatabase(`prospectflow_test_${process.pid}`);
  dataDir = await mkdtemp(path.join(tmpdir(), 'prospectflow-test-'));
  google = await startGoogleFake({ dir: dataDir, delegatedDomains: [DELEGATED_DOMAIN] });
  const config = loadConfig({
    NODE_ENV: 'test',
    DATABASE_URL: databaseUrl,
    DATA_DIR: dataDir,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'fatal',
    // sign-ups, logins and reset requests all come from 127.0.0.1 here
    RATE_LIMITS: 'signUp=100000/60,login=100000/60,requestPasswordReset=100000/60',
    GOOGLE_TOKEN_URL: google.tokenUrl,
    // the stack's sender talks to the fake Gmail, never to Google
    GMAIL_API_URL: google.gmailUrl,
    GOOGLE_SERVICE_ACCOUNT_KEY: google.serviceAccountFile,
    // prompt steps can be saved; nothing at authoring time calls OpenAI
    OPENAI_API_KEY: 'sk-test-not-used',
  });
  stack = await startStack(config, { ephemeralPorts: true });
  project.provide('gatewayUrl', stack.gateway.url);
  project.provide('gatewayOrigin', `http://localhost:${stack.gateway.port}`);
  project.provide('databaseUrl', databaseUrl);
  project.provide('adminDatabaseUrl', ADMIN_URL);
  project.provide('subgraphUrls', stack.config.subgraphUrls);
  project.provide('dataDir', dataDir);
  project.provide('delegatedDomain', DELEGATED_DOMAIN);
  return async () => {
    await stack?.stop();
    await google?.close();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
    const admin = new pg.Client({ connectionString: ADMIN_URL });
    await admin.connect();
    await admin
      .query(`DROP DATABASE IF EXISTS prospectflow_test_${process.pid} WITH (FORCE)`)
      .catch(() => {});
    await admin.end();
  };
}
