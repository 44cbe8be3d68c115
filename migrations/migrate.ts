// `npm run migrate`: applies pending migrations to DATABASE_URL (or the embedded database) as the owner,
// then sets the service roles' passwords given as DB_PASSWORD_<SERVICE>; with CLICKHOUSE_URL, ClickHouse's too.
import { clickhouseTarget } from '../lib/clickhouse/client.ts';
import { migrateClickHouse } from '../lib/clickhouse/migrate.ts';
import { loadConfig } from '../lib/config.ts';
import { startEmbeddedPostgres } from '../lib/db/embedded.ts';
import { migrate } from '../lib/db/migrate.ts';
import { setServicePasswords } from '../lib/db/roles.ts';
import { runMain } from '../lib/startup.ts';

await runMain(async () => {
  const config = loadConfig();
  const embedded = config.databaseUrl
    ? undefined
    : await startEmbeddedPostgres(config.dataDir, { port: config.embeddedPgPort });
  try {
    const url = config.databaseUrl ?? embedded!.url;
    const result = await migrate(url, (msg) => console.log(msg));
    await setServicePasswords(url, { ...embedded?.passwords, ...config.databasePasswords });
    console.log(`migrations: ${result.applied.length} applied, ${result.skipped} already in place`);
    if (config.clickhouseUrl) {
      const clickhouse = await migrateClickHouse(clickhouseTarget(config.clickhouseUrl), (msg) =>
        console.log(msg),
      );
      console.log(`clickhouse migrations: ${clickhouse.applied.length} applied`);
    }
  } finally {
    await embedded?.stop();
  }
});
