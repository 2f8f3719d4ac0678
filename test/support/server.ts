/**
 * Starts a real Tavern server in this test process on a free port, on a fresh PostgreSQL database
 * (or the embedded PGlite when `TAVERN_TEST_DB=pglite`), with its logs captured for assertions.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { parseConfig, type SETTINGS } from '../../src/config.js';
import { REDACT_PATHS } from '../../src/logger.js';
import { startServer, type ServerOptions, type Tavern } from '../../src/server.js';
import { createDatabase } from './postgres.js';
import { TEST_DATABASES } from './redis.js';

export type Overrides = Partial<Record<keyof typeof SETTINGS, unknown>>;

export interface TestServer extends Tavern {
  /** Every log line written so far, parsed. */
  logs: Record<string, unknown>[];
  /** Which database the server runs on. */
  db: 'postgres' | 'pglite';
  /** The database URL (PostgreSQL only). */
  databaseUrl?: string;
  stop(): Promise<void>;
}

let counter = 0;

/** The database the suite runs on: PostgreSQL unless `TAVERN_TEST_DB=pglite`. */
export function testDb(): 'postgres' | 'pglite' {
  return process.env.TAVERN_TEST_DB === 'pglite' ? 'pglite' : 'postgres';
}

/** URL of the PostgreSQL server tests use: `TEST_DATABASE_URL`, or the cluster the global setup started. */
export function adminUrl(): string {
  const url = process.env.TEST_DATABASE_URL ?? process.env.TAVERN_TEST_PG_URL;
  if (!url) throw new Error('no test PostgreSQL: run through `npm test` (global setup) or set TEST_DATABASE_URL');
  return url;
}

export async function startTestServer(
  overrides: Overrides = {},
  opts: { db?: 'postgres' | 'pglite'; databaseUrl?: string } & ServerOptions = {},
): Promise<TestServer> {
  const db = opts.db ?? testDb();
  let dataDir: string | undefined;
  let databaseUrl = opts.databaseUrl;
  if (db === 'postgres' && !databaseUrl) {
    databaseUrl = await createDatabase(adminUrl(), `t_${process.pid}_${++counter}`);
  }
  if (db === 'pglite') dataDir = mkdtempSync(path.join(tmpdir(), 'tavern-pglite-'));
  // The room suites run a second time on Redis presence (test/run.ts sets TAVERN_TEST_PRESENCE).
  const presenceOverride =
    process.env.TAVERN_TEST_PRESENCE === 'redis' && db === 'postgres' && !('redisUrl' in overrides) ? { redisUrl: redisUrl() } : {};
  const config = parseConfig({}, [], {
    port: 0,
    host: '127.0.0.1',
    logLevel: 'debug',
    logFormat: 'json',
    rateLimitPerIp: 0,
    // No designer modules unless a test asks for a folder of its own.
    runtimePath: path.join(tmpdir(), 'tavern-no-modules'),
    ...(databaseUrl ? { databaseUrl } : {}),
    ...(dataDir ? { dataDir } : {}),
    ...presenceOverride,
    ...overrides,
  });
  const logs: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString('utf8').split('\n')) if (line) logs.push(JSON.parse(line) as Record<string, unknown>);
      cb();
    },
  });
  const log = pino({ level: config.logLevel, redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, sink);
  const server = await startServer(config, log, {
    ...(opts.clock ? { clock: opts.clock } : {}),
    ...(opts.schedulerIntervalMs !== undefined ? { schedulerIntervalMs: opts.schedulerIntervalMs } : {}),
  });
  return {
    ...server,
    logs,
    db,
    ...(databaseUrl ? { databaseUrl } : {}),
    async stop() {
      await server.close();
      if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * URL of the Redis tests use: `TEST_REDIS_URL`, or the one the runner started, on a logical
 * database of this test process's own. Test files run two at a time, and servers that share a
 * Redis form one fleet: they would list, place and sweep each other's rooms. Keys are per
 * database (the room registry, Colyseus's process table); pub/sub is not, so tests still use
 * unique channel names.
 */
export function redisUrl(): string {
  const url = process.env.TEST_REDIS_URL ?? process.env.TAVERN_TEST_REDIS_URL;
  if (!url) throw new Error('no test Redis: run through `npm test` or set TEST_REDIS_URL');
  const u = new URL(url);
  if (u.pathname === '' || u.pathname === '/') u.pathname = `/${1 + (process.pid % (TEST_DATABASES - 1))}`;
  return u.toString();
}

/** Basic auth header with the default server key, as Nakama clients send it. */
export const serverKeyAuth = 'Basic ' + Buffer.from('defaultkey:').toString('base64');

/** A small fetch wrapper returning status and parsed JSON. */
export async function http(
  base: string,
  method: string,
  path: string,
  opts: { auth?: string; body?: unknown; rawBody?: string; headers?: Record<string, string> } = {},
): Promise<{ status: number; body: any; headers: Headers }> {
  const res = await fetch(base + path, {
    method,
    headers: { ...(opts.auth ? { authorization: opts.auth } : {}), 'content-type': 'application/json', ...opts.headers },
    ...(opts.rawBody !== undefined ? { body: opts.rawBody } : opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}),
  });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    // not JSON
  }
  return { status: res.status, body, headers: res.headers };
}

/** Authenticates a new device and returns its session. */
export async function newDevice(base: string, id = `dev-${Math.random().toString(36).slice(2)}-${Date.now()}`, username?: string) {
  const q = username ? `&username=${encodeURIComponent(username)}` : '';
  const res = await http(base, 'POST', `/v2/account/authenticate/device?create=true${q}`, { auth: serverKeyAuth, body: { id } });
  if (res.status !== 200) throw new Error(`device auth failed: ${res.status} ${JSON.stringify(res.body)}`);
  return {
    deviceId: id,
    token: res.body.token as string,
    refreshToken: res.body.refresh_token as string,
    bearer: `Bearer ${res.body.token}`,
  };
}
