// `npm run migrate`: applies pending migrations to DATABASE_URL (or the embedded database).
import { loadConfig } from '../lib/config.ts';
import { startEmbeddedPostgres } from '../lib/db/embedded.ts';
import { migrate } from '../lib/db/migrate.ts';

const config = loadConfig();
const embedded = config.databaseUrl ? undefined : await startEmbeddedPostgres(config.dataDir);
try {
  const result = await migrate(config.databaseUrl ?? embedded!.url, (msg) => console.log(msg));
  console.log(`migrations: ${result.applied.length} applied, ${result.skipped} already in place`);
} finally {
  await embedded?.stop();
}
