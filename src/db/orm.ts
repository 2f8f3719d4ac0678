/** Opens the ORM on PostgreSQL (or the embedded database) and applies the committed migrations. */
import { MikroORM, PostgreSqlDriver } from '@mikro-orm/postgresql';
import { Migrator } from '@mikro-orm/migrations';
import pg from 'pg';
import type { Logger } from 'pino';
import { entities, migrations } from '../entities/index.js';

export type Orm = MikroORM;

export interface OrmOptions {
  /** A PostgreSQL URL, or discrete settings (the embedded database's Unix socket). */
  url?: string;
  connection?: { host: string; port: number; user: string; dbName: string };
  poolSize: number;
  logger: Logger;
}

export async function openOrm({ url, connection, poolSize, logger }: OrmOptions): Promise<Orm> {
  const log = logger.child({ scope: 'orm' });
  return MikroORM.init<PostgreSqlDriver>({
    driver: PostgreSqlDriver,
    ...(url ? { clientUrl: url } : connection),
    entities,
    extensions: [Migrator],
    migrations: { migrationsList: migrations, transactional: true, allOrNothing: true, snapshot: false },
    allowGlobalContext: false,
    ensureDatabase: false,
    discovery: { warnWhenNoEntities: true },
    pool: { min: 0, max: poolSize, idleTimeoutMillis: 30_000 },
    // pg-pool applies this limit both to opening a connection and to waiting for a free one, so it
    // must outlast a burst of requests queued on one hot row (1,000 wallet updates of one user),
    // yet still turn a hung database into 503s. A stopped database refuses at once either way.
    driverOptions: { connectionTimeoutMillis: 15_000 },
    logger: (message: string) => log.debug(message),
  });
}

/** Key of the advisory lock processes take turns on to migrate one database ("tavern" in ASCII). */
const MIGRATION_LOCK = 0x74_61_76_65_72_6e;

/**
 * Applies every pending migration; returns the names applied. On PostgreSQL (`url`), processes
 * started together on one database take turns under an advisory lock: without it, two processes
 * migrating an empty database both create the same tables and one dies on a duplicate key. The
 * lock is a session lock on a connection of its own, released when it ends.
 */
export async function migrate(orm: Orm, url?: string): Promise<string[]> {
  if (!url) return (await orm.migrator.up()).map((m) => m.name);
  const lock = new pg.Client({ connectionString: url });
  await lock.connect();
  try {
    await lock.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    return (await orm.migrator.up()).map((m) => m.name);
  } finally {
    await lock.end();
  }
}
