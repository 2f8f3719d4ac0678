/**
 * A fleet of real Tavern processes for multi-process tests: each fleet gets a fresh PostgreSQL
 * database and its own throwaway Redis, and runs `src/main.ts` in child processes (one port, one
 * public address and one node name each), as PM2 would. The first process starts alone (it applies
 * the migrations), the others together.
 *
 * Also here: `fleetClient`, an SDK client that remembers which process hosts each room it joins
 * (from the seat reservation's public address), so tests can tell where a room lives.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { Client, type Room } from '@colyseus/sdk';
import { createDatabase } from './postgres.js';
import { freePort } from './ports.js';
import { startRedis, type TestRedis } from './redis.js';
import { adminUrl } from './server.js';

const root = path.resolve(import.meta.dirname, '..', '..');
const READY_TIMEOUT_MS = 60_000;
const KEEP_LINES = 200;

export interface FleetProcess {
  readonly index: number;
  readonly port: number;
  /** `http://127.0.0.1:<port>`. */
  readonly url: string;
  readonly nodeName: string;
  readonly pid: number;
  /** The last ~200 lines the process wrote (stdout and stderr). */
  output(): string;
  /** Sends `signal` (default SIGTERM), waits for the exit (SIGKILL after `timeoutMs`), returns the exit code. */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<number | null>;
  /** SIGKILL, and waits for the exit. */
  kill(): Promise<void>;
  readonly exited: boolean;
}

export interface Fleet {
  readonly processes: FleetProcess[];
  readonly databaseUrl: string;
  readonly redisUrl: string;
  /** Starts one more process (with extra environment variables) and waits until it is ready. */
  add(env?: Record<string, string>): Promise<FleetProcess>;
  /** Stops every process still running (SIGTERM, SIGKILL after 10 s) and the fleet's Redis. */
  stop(): Promise<void>;
}

/** Every child still running, killed if the test process exits without stopping its fleet. */
const live = new Set<ChildProcess>();
let safetyNet = false;
function registerSafetyNet(): void {
  if (safetyNet) return;
  safetyNet = true;
  process.on('exit', () => {
    for (const child of live) {
      try {
        child.kill('SIGKILL');
      } catch {
        // already gone
      }
    }
  });
}

let fleets = 0;

/** Environment of the test process minus Tavern's own settings, which the fleet sets itself. */
function baseEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v === undefined || k.startsWith('TAVERN_') || k === 'DATABASE_URL' || k === 'REDIS_URL' || k === 'NODE_ENV') continue;
    env[k] = v;
  }
  return env;
}

async function spawnProcess(index: number, env: Record<string, string>): Promise<FleetProcess> {
  const port = await freePort();
  const nodeName = env.TAVERN_NODE_NAME ?? `fleet-${index}`;
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    env: {
      TAVERN_HOST: '127.0.0.1',
      ...env,
      TAVERN_PORT: String(port),
      TAVERN_PUBLIC_ADDRESS: `127.0.0.1:${port}`,
      TAVERN_NODE_NAME: nodeName,
    },
  });
  live.add(child);
  const lines: string[] = [];
  const collect = (stream: NodeJS.ReadableStream | null) => {
    let partial = '';
    stream?.setEncoding('utf8');
    stream?.on('data', (chunk: string) => {
      const parts = (partial + chunk).split('\n');
      partial = parts.pop() ?? '';
      lines.push(...parts);
      if (lines.length > KEEP_LINES * 2) lines.splice(0, lines.length - KEEP_LINES);
    });
    stream?.on('end', () => {
      if (partial) lines.push(partial);
      partial = '';
    });
  };
  collect(child.stdout);
  collect(child.stderr);
  const output = () => lines.slice(-KEEP_LINES).join('\n');

  let exitCode: number | null = null;
  let exited = false;
  const exitedPromise = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => {
      exited = true;
      exitCode = code;
      live.delete(child);
      resolve(code);
    });
  });

  let ready = false;
  const failure = await new Promise<string | undefined>((resolve) => {
    const timer = setTimeout(() => resolve(`was not ready within ${READY_TIMEOUT_MS / 1000} s`), READY_TIMEOUT_MS);
    child.on('message', (msg: unknown) => {
      if (msg !== 'ready' || ready) return;
      ready = true;
      clearTimeout(timer);
      resolve(undefined);
    });
    child.once('error', (err) => {
      clearTimeout(timer);
      resolve(`could not start (${err.message})`);
    });
    void exitedPromise.then((code) => {
      clearTimeout(timer);
      resolve(`exited with code ${code} before it was ready`);
    });
  });
  if (failure) {
    child.kill('SIGKILL');
    await exitedPromise;
    // The streams may still hold the last lines.
    await new Promise((r) => setTimeout(r, 50));
    throw new Error(`fleet process ${nodeName} (port ${port}) ${failure}; its output:\n${output()}`);
  }

  const waitExit = async (timeoutMs: number): Promise<number | null> => {
    if (exited) return exitCode;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)));
    const result = await Promise.race([exitedPromise, timedOut]);
    clearTimeout(timer);
    if (result !== 'timeout') return result;
    child.kill('SIGKILL');
    return exitedPromise;
  };

  return {
    index,
    port,
    url: `http://127.0.0.1:${port}`,
    nodeName,
    pid: child.pid!,
    output,
    get exited() {
      return exited;
    },
    async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 15_000) {
      if (exited) return exitCode;
      child.kill(signal);
      return waitExit(timeoutMs);
    },
    async kill() {
      if (exited) return;
      child.kill('SIGKILL');
      await exitedPromise;
    },
  };
}

/**
 * Starts `count` processes on a fresh database and a fresh Redis. `runtimePath` is the modules
 * folder (`TAVERN_RUNTIME_PATH`); `env` adds variables for every process.
 */
export async function startFleet(opts: { count: number; runtimePath?: string; env?: Record<string, string> }): Promise<Fleet> {
  registerSafetyNet();
  const databaseUrl = await createDatabase(adminUrl(), `fleet_${process.pid}_${++fleets}`);
  const redis: TestRedis = await startRedis();
  const env: Record<string, string> = {
    ...baseEnv(),
    DATABASE_URL: databaseUrl,
    REDIS_URL: redis.url,
    TAVERN_LOG_FORMAT: 'json',
    TAVERN_LOG_LEVEL: 'debug',
    TAVERN_RATE_LIMIT_REQUESTS: '0',
    ...(opts.runtimePath ? { TAVERN_RUNTIME_PATH: opts.runtimePath } : {}),
    ...opts.env,
  };
  const processes: FleetProcess[] = [];
  let next = 0;
  const add = async (extra: Record<string, string> = {}) => {
    const p = await spawnProcess(next++, { ...env, ...extra });
    processes.push(p);
    processes.sort((a, b) => a.index - b.index);
    return p;
  };
  const stop = async () => {
    await Promise.all(processes.map((p) => p.stop('SIGTERM', 10_000)));
    await redis.stop();
  };
  try {
    if (opts.count > 0) await add();
    await Promise.all(Array.from({ length: Math.max(0, opts.count - 1) }, () => add()));
  } catch (err) {
    await stop();
    throw err;
  }
  return { processes, databaseUrl, redisUrl: redis.url, add, stop };
}

/** An SDK client that remembers the public address of the process hosting each room it joins. */
export class FleetClient extends Client {
  /** Room id → `host:port` of the process that hosts it (from the last seat reservation). */
  readonly hosts = new Map<string, string>();

  override async consumeSeatReservation<T = any>(response: any, rootSchema?: any): Promise<Room<any, T>> {
    const r = response as { roomId?: string; publicAddress?: string };
    if (r.roomId) this.hosts.set(r.roomId, r.publicAddress ?? '');
    return super.consumeSeatReservation(response, rootSchema) as Promise<Room<any, T>>;
  }
}

/** A `FleetClient` for `url`, authenticated with a session token when given. */
export function fleetClient(url: string, token?: string): FleetClient {
  const client = new FleetClient(url);
  if (token !== undefined) client.auth.token = token;
  return client;
}

/** The process of `fleet` that hosts `room` (joined through `client`), if the client saw its reservation. */
export function hostOf(fleet: Fleet, client: FleetClient, room: Room): FleetProcess | undefined {
  const address = client.hosts.get(room.roomId);
  return fleet.processes.find((p) => `127.0.0.1:${p.port}` === address);
}

/** Rejects when `p` has not settled within `ms`, naming what was awaited. */
export function within<T>(p: Promise<T>, what: string, ms = 10_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** The warning and error lines (pino level ≥ 40) of a process's recent output, for failure messages. */
export function problems(p: FleetProcess, max = 10): string {
  const out: string[] = [];
  for (const line of p.output().split('\n')) {
    try {
      const entry = JSON.parse(line) as { level?: number; msg?: string };
      if ((entry.level ?? 0) >= 40 && !entry.msg?.includes('USING DEFAULT KEYS')) out.push(line);
    } catch {
      if (line.trim()) out.push(line); // not JSON: stderr, a stack trace
    }
  }
  return out.slice(-max).join('\n');
}
