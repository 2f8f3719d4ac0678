/**
 * The Tavern processes of the `driver` scenario (loadtest/driver.ts): each a child running
 * loadtest/driver-server.ts with its driver, its own throwaway redis-server and its session listings.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { freePort } from '../test/support/ports.js';
import type { TestRedis } from '../test/support/redis.js';
import type { DriverServerReady } from './driver-server.js';
import { fmt, startChildServer, tavernEnv, throwawayRedis, type ChildServer } from './support.js';

export type Kind = 'tavern' | 'stock';

/** Same as driver-server.ts's (importing that file would start a server). */
const READY_PREFIX = 'BENCH_DRIVER_READY ';

async function waitReady(server: ChildServer, timeoutMs: number): Promise<DriverServerReady> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const line = server
      .output()
      .split('\n')
      .find((l) => l.startsWith(READY_PREFIX));
    if (line) return JSON.parse(line.slice(READY_PREFIX.length)) as DriverServerReady;
    if (Date.now() > deadline) throw new Error(`${server.name} did not report ready in ${timeoutMs} ms:\n${server.output()}`);
    await sleep(100);
  }
}

/** One configuration under test: a Tavern process with its driver, its own Redis, its listings. */
export interface Target {
  kind: Kind;
  sessions: number;
  server: ChildServer;
  redisServer: TestRedis;
  redis: Redis;
  ready: DriverServerReady;
  /** Distinguishes this target's chat channels. */
  tag: string;
}

export async function startTarget(
  opts: { databaseUrl: string; cpus?: string | undefined; log: (msg: string) => void },
  kind: Kind,
  sessions: number,
  runId: string,
): Promise<Target> {
  const redisServer = await throwawayRedis();
  const redis = new Redis(redisServer.url);
  const port = await freePort();
  opts.log(`driver / ${kind} / ${sessions} sessions: starting Tavern`);
  let server: ChildServer | undefined;
  try {
    server = await startChildServer({
      name: `Tavern (${kind} driver, ${sessions} sessions)`,
      script: 'loadtest/driver-server.ts',
      port,
      cpus: opts.cpus,
      env: tavernEnv(port, opts.databaseUrl, {
        BENCH_DRIVER: kind,
        BENCH_FAKE_SESSIONS: String(sessions),
        TAVERN_PUBLIC_ADDRESS: `127.0.0.1:${port}`,
        TAVERN_NODE_NAME: `bench-driver-${kind}-${sessions}`,
        REDIS_URL: redisServer.url,
        TAVERN_RUNTIME_PATH: './loadtest/modules',
      }),
    });
    const ready = await waitReady(server, 180_000);
    opts.log(
      `driver / ${kind} / ${sessions} sessions: ${ready.driver}, ${ready.recorded} listings recorded in ${fmt(ready.populateMs)} ms, ` +
        `${ready.listedSessions} listed`,
    );
    return { kind, sessions, server, redisServer, redis, ready, tag: `${runId}-${kind}-${sessions}` };
  } catch (err) {
    await server?.stop();
    redis.disconnect();
    await redisServer.stop();
    throw err;
  }
}

export async function stopTarget(t: Target): Promise<void> {
  await t.server.stop();
  t.redis.disconnect();
  await t.redisServer.stop();
}
