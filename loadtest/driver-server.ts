/**
 * A Tavern process for the `driver` scenario of `npm run bench` (loadtest/driver.ts), run as a
 * child process: `startServer(parseConfig(env), logger, { driver })` from src/server.ts with the
 * room registry the scenario asks for, then (optionally) the registry filled with the session room
 * listings of a busy fleet, before it says it is ready.
 *
 * Env: everything src/main.ts reads (TAVERN_PORT, DATABASE_URL, REDIS_URL, TAVERN_PUBLIC_ADDRESS …),
 * plus
 * - BENCH_DRIVER: `tavern` — no `driver` option, so the server picks its default registry for
 *   REDIS_URL (Tavern's own Redis driver) — or `stock` — `@colyseus/redis-driver`'s RedisDriver on
 *   the same REDIS_URL;
 * - BENCH_FAKE_SESSIONS (0): session room listings to record through the driver, as Colyseus records
 *   a room: `initializeRoomCache({ name: 'session', roomId: 'session_<uuid>', processId: <this
 *   process>, private, locked, clients 1, maxClients 1, publicAddress, metadata { userId } })` then
 *   `driver.insert(listing)` (or `persist(listing, true)` for a driver without insert-if-absent).
 *   Their process is this live one, so health checks and sweeps leave them alone; no room object
 *   stands behind them, which no join of the scenario needs (session rooms are private and locked).
 *
 * When done it prints one line `BENCH_DRIVER_READY {json}` on stdout: the driver's class, the
 * process id, listings recorded, the count a `query({ name: 'session' })` finds and the time taken.
 */
import { randomUUID } from 'node:crypto';
import { initializeRoomCache, matchMaker, type MatchMakerDriver } from '@colyseus/core';
import { RedisDriver } from '@colyseus/redis-driver';
import { parseConfig } from '../src/config.js';
import { createLogger } from '../src/logger.js';
import { startServer, type ServerOptions } from '../src/server.js';

/** The line the bench waits for (loadtest/driver.ts has the same constant: importing this file would start a server). */
const READY_PREFIX = 'BENCH_DRIVER_READY ';

/** What the ready line carries. */
export interface DriverServerReady {
  driver: string;
  processId: string;
  recorded: number;
  refused: number;
  listedSessions: number;
  populateMs: number;
}

const kind = process.env.BENCH_DRIVER ?? 'tavern';
const fake = Number(process.env.BENCH_FAKE_SESSIONS ?? 0);
if (kind !== 'tavern' && kind !== 'stock') throw new Error(`BENCH_DRIVER must be tavern or stock, not ${kind}`);
if (!Number.isInteger(fake) || fake < 0) throw new Error('BENCH_FAKE_SESSIONS must be a whole number');

const config = parseConfig(process.env);
if (!config.redisUrl) throw new Error('the driver bench server needs REDIS_URL');
const log = createLogger(config, false);
const options: ServerOptions = kind === 'stock' ? { driver: new RedisDriver(config.redisUrl) } : {};
const server = await startServer(config, log, options);
process.once('SIGTERM', () => {
  server.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
});

/** Records `n` session listings of this process, 256 writes in flight. */
async function populate(driver: MatchMakerDriver, n: number): Promise<{ recorded: number; refused: number }> {
  let recorded = 0;
  let refused = 0;
  let next = 0;
  const worker = async () => {
    while (next < n) {
      next++;
      const listing = initializeRoomCache({
        name: 'session',
        roomId: `session_${randomUUID()}`,
        processId: matchMaker.processId,
        clients: 1,
        maxClients: 1,
        locked: true,
        private: true,
        metadata: { userId: randomUUID() },
        ...(config.publicAddress ? { publicAddress: config.publicAddress } : {}),
      });
      const ok = driver.insert ? await driver.insert(listing) : await driver.persist(listing, true);
      if (ok) recorded++;
      else refused++;
    }
  };
  await Promise.all(Array.from({ length: Math.min(256, n) }, worker));
  return { recorded, refused };
}

const t0 = performance.now();
const driver = matchMaker.driver;
const { recorded, refused } = await populate(driver, fake);
const populateMs = performance.now() - t0;
const listedSessions = (await driver.query({ name: 'session' })).length;
const ready: DriverServerReady = {
  driver: driver.constructor.name,
  processId: matchMaker.processId,
  recorded,
  refused,
  listedSessions,
  populateMs,
};
process.stdout.write(`${READY_PREFIX}${JSON.stringify(ready)}\n`);
