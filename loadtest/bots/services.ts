/**
 * A throwaway PostgreSQL and Redis to point a local Tavern (or a PM2 fleet) at while trying the
 * bots: starts both on free ports (test/support/postgres.ts, test/support/redis.ts), prints the
 * `export DATABASE_URL=… REDIS_URL=…` lines (and writes them to the file given as first argument,
 * if any), and removes both when it gets SIGINT or SIGTERM.
 *
 *   npm run bot:services -- /tmp/tavern-services.env &
 *   . /tmp/tavern-services.env && npm start
 */
import { writeFileSync } from 'node:fs';
import { createDatabase, startPostgres } from '../../test/support/postgres.js';
import { startRedis } from '../../test/support/redis.js';

const pg = await startPostgres();
const redis = await startRedis();
const databaseUrl = await createDatabase(pg.url(), 'tavern');
const lines = `export DATABASE_URL=${databaseUrl}\nexport REDIS_URL=${redis.url}\n`;
process.stdout.write(lines);
if (process.argv[2]) writeFileSync(process.argv[2], lines);

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await Promise.allSettled([pg.stop(), redis.stop()]);
  process.stdout.write('services stopped\n');
  process.exit(0);
};
process.on('SIGINT', () => void stop());
process.on('SIGTERM', () => void stop());
setInterval(() => undefined, 1 << 30);
