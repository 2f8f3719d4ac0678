/** `npm run migrate`: applies pending migrations to the configured database and exits. */
import { loadConfig, stdoutIsTty } from './config.js';
import { startEmbeddedDatabase } from './db/embedded.js';
import { migrate, openOrm } from './db/orm.js';
import { createLogger } from './logger.js';

const config = loadConfig();
const log = createLogger(config, stdoutIsTty());
const embedded = config.databaseUrl ? undefined : await startEmbeddedDatabase(config.dataDir);
const orm = await openOrm({
  ...(embedded ? { connection: embedded.connection } : { url: config.databaseUrl! }),
  poolSize: 1,
  logger: log,
});
try {
  const applied = await migrate(orm, config.databaseUrl);
  log.info({ applied }, applied.length > 0 ? 'migrations applied' : 'database is up to date');
} finally {
  await orm.close(true);
  await embedded?.stop();
}
