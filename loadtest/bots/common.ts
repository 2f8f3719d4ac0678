/**
 * Shared code of the load-test bots (loadtest/bots/*.ts): HTTP device authentication, SDK clients,
 * latency histograms and counters, the JSON result file and the one-line summary, and the glue to
 * `@colyseus/loadtest`'s `cli()`.
 *
 * A bot file exports a `BotDefinition` (its settings from `BOT_*` environment variables and a
 * `start(options, ctx)` that connects one bot and returns once it is running). Run as a script
 * (`tsx loadtest/bots/session.ts --endpoint ws://127.0.0.1:7350 --numClients 50`) it hands that to
 * `cli()`, which starts `--numClients` bots one after another (each `start` is awaited) and draws its
 * terminal dashboard; `npm run soak` (loadtest/soak.ts) runs the same definitions in-process
 * through `BotRun` without the dashboard.
 *
 * `@colyseus/loadtest` 0.17 depends on `@colyseus/sdk` ^0.17, which cannot talk to a 0.18 server:
 * package.json `overrides` points it at the project's `@colyseus/sdk` (0.18). `sdkProof()` checks
 * at run time that the bots and the loadtest tool share that one 0.18 SDK.
 *
 * Settings every bot reads:
 *   BOT_SERVER_KEY     server key for Basic auth (default: TAVERN_SERVER_KEY, else `defaultkey`)
 *   BOT_DURATION_SEC   stop after this many seconds (default 0: run until SIGINT / Ctrl-C / q)
 *   BOT_RESULTS_DIR    where result files go (default loadtest/results)
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { createHistogram, performance, type RecordableHistogram } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { cli, type Options as LoadtestOptions } from '@colyseus/loadtest';
import { Client, type Room } from '@colyseus/sdk';

export const projectRoot = path.resolve(import.meta.dirname, '..', '..');

// ---------------------------------------------------------------------------------------------
// Settings

/** A number from the environment, or `fallback` when unset; throws on anything else. */
export function envNumber(env: NodeJS.ProcessEnv, name: string, fallback: number, min = 0): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < min) throw new Error(`${name} must be a number >= ${min}, got "${raw}"`);
  return n;
}

/** A string from the environment, or `fallback` when unset or empty. */
export function envString(env: NodeJS.ProcessEnv, name: string, fallback: string): string {
  const raw = env[name];
  return raw === undefined || raw.trim() === '' ? fallback : raw.trim();
}

/** A boolean from the environment (`1`/`true`/`yes` or `0`/`false`/`no`), or `fallback`. */
export function envBool(env: NodeJS.ProcessEnv, name: string, fallback: boolean): boolean {
  const raw = env[name]?.trim().toLowerCase();
  if (raw === undefined || raw === '') return fallback;
  if (['1', 'true', 'yes'].includes(raw)) return true;
  if (['0', 'false', 'no'].includes(raw)) return false;
  throw new Error(`${name} must be true or false, got "${raw}"`);
}

/** The server key bots authenticate with. */
export function serverKeyFrom(env: NodeJS.ProcessEnv): string {
  return envString(env, 'BOT_SERVER_KEY', envString(env, 'TAVERN_SERVER_KEY', 'defaultkey'));
}

/** The HTTP base URL of an endpoint given as ws(s):// or http(s)://, without a trailing slash. */
export function httpBase(endpoint: string): string {
  const u = new URL(endpoint);
  if (u.protocol === 'ws:') u.protocol = 'http:';
  else if (u.protocol === 'wss:') u.protocol = 'https:';
  return u.toString().replace(/\/+$/, '');
}

// ---------------------------------------------------------------------------------------------
// Authentication

interface SessionBody {
  token?: string;
  refresh_token?: string;
}

function claimsOf(token: string): { uid: string; usn: string; exp: number } {
  const payload = token.split('.')[1] ?? '';
  return JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { uid: string; usn: string; exp: number };
}

/** A device-authenticated account: its session token, refreshed before it expires. */
export class Account {
  private refreshing: Promise<void> | undefined;
  private constructor(
    private readonly base: string,
    private readonly serverKey: string,
    private session: { token: string; refreshToken: string; expiresAtMs: number },
    readonly userId: string,
    readonly username: string,
  ) {}

  /** `POST /v2/account/authenticate/device?create=true` with Basic auth (the server key). */
  static async device(endpoint: string, serverKey: string, deviceId: string): Promise<Account> {
    const base = httpBase(endpoint);
    const body = await postWithRetry(`${base}/v2/account/authenticate/device?create=true`, serverKey, { id: deviceId });
    const claims = claimsOf(body.token!);
    return new Account(
      base,
      serverKey,
      { token: body.token!, refreshToken: body.refresh_token ?? '', expiresAtMs: claims.exp * 1000 },
      claims.uid,
      claims.usn,
    );
  }

  /** A session token valid for at least `minValidMs` more (refreshed through the API when needed). */
  async token(minValidMs = 15_000): Promise<string> {
    if (this.session.expiresAtMs - Date.now() < minValidMs && this.session.refreshToken !== '') {
      this.refreshing ??= (async () => {
        const body = await postWithRetry(`${this.base}/v2/account/session/refresh`, this.serverKey, {
          token: this.session.refreshToken,
        });
        this.session = {
          token: body.token!,
          refreshToken: body.refresh_token ?? this.session.refreshToken,
          expiresAtMs: claimsOf(body.token!).exp * 1000,
        };
      })().finally(() => {
        this.refreshing = undefined;
      });
      await this.refreshing;
    }
    return this.session.token;
  }
}

/** POSTs JSON with Basic auth; retries network errors, 429 and 5xx answers (3 tries). */
async function postWithRetry(url: string, serverKey: string, json: unknown): Promise<SessionBody> {
  const auth = `Basic ${Buffer.from(`${serverKey}:`).toString('base64')}`;
  let last = '';
  for (let attempt = 0; attempt < 3; attempt++) {
    if (attempt > 0) await sleep(250 * 2 ** attempt);
    try {
      const res = await fetch(url, {
        method: 'POST',
        headers: { authorization: auth, 'content-type': 'application/json' },
        body: JSON.stringify(json),
        signal: AbortSignal.timeout(15_000),
      });
      const text = await res.text();
      if (res.status === 200) {
        const body = JSON.parse(text) as SessionBody;
        if (typeof body.token === 'string') return body;
      }
      last = `${res.status} ${text.slice(0, 200)}`;
      if (res.status !== 429 && res.status < 500) break;
    } catch (err) {
      last = (err as Error).message;
    }
  }
  throw new Error(`POST ${new URL(url).pathname} failed: ${last}`);
}

/** A device id no other bot uses: `bot-<name>-<run>-<client>`. */
export const deviceId = (name: string, runId: string, clientId: number) => `bot-${name}-${runId}-${clientId}`;

// ---------------------------------------------------------------------------------------------
// SDK clients

/**
 * An SDK client whose rooms accept every message type from their first frame (the server sends
 * `channel`, presence events … during the join, and the SDK warns about each type nobody
 * registered).
 */
class BotClient extends Client {
  protected override createRoom<T>(roomName: string, rootSchema?: Parameters<Client['create']>[2]): Room<any, T> {
    const room = super.createRoom<T>(roomName, rootSchema as never);
    room.onMessage('*', () => undefined);
    return room;
  }
}

/**
 * An SDK client of `endpoint` authenticated with `token`. With `stats`, every room WebSocket it
 * opens counts under `sockets.<host:port>`: where the seat reservations sent it (in a fleet, the
 * public address of the process that owns the room).
 */
export function sdkClient(endpoint: string, token: string, stats?: Stats): Client {
  const client = new BotClient(endpoint, {
    urlBuilder: (u: URL) => {
      if (stats && (u.protocol === 'ws:' || u.protocol === 'wss:')) stats.count(`sockets.${u.host}`);
      return u.toString();
    },
  });
  client.auth.token = token;
  return client;
}

/** What `watch` returns: set `leaving` before leaving a room on purpose. */
export interface Watched {
  leaving: boolean;
}

/**
 * Counts a room's `error` messages, socket errors, drops and reconnections into `stats`; a close
 * that nobody asked for (not `leaving`, run not stopping) is an error too.
 */
export function watch(room: Room, what: string, ctx: BotContext<unknown, unknown>): Watched {
  const w: Watched = { leaving: false };
  room.onMessage('error', (m: { type?: string; message?: string; code?: number }) =>
    ctx.stats.error(`${what}.error_message`, `${m.type ?? '?'}: ${m.code ?? '?'} ${m.message ?? ''}`),
  );
  room.onMessage('server_shutdown', () => ctx.stats.count('server_shutdown'));
  room.onError((code, message) => ctx.stats.error(`${what}.socket_error`, `${code} ${message ?? ''}`));
  room.onDrop(() => ctx.stats.count(`${what}.drops`));
  room.onReconnect(() => ctx.stats.count(`${what}.reconnects`));
  room.onLeave((code, reason) => {
    if (!w.leaving && !ctx.stopping) ctx.stats.error(`${what}.closed`, `closed with ${code} ${reason ?? ''}`);
  });
  return w;
}

/** Leaves a room on purpose, ignoring failures (the socket may be gone). */
export async function leaveQuietly(room: Room | undefined, w?: Watched): Promise<void> {
  if (!room) return;
  if (w) w.leaving = true;
  try {
    await Promise.race([room.leave(true), sleep(2000)]);
  } catch {
    // already closed
  }
}

/** Waits for the first message of `type` on `room` that satisfies `match`, or rejects after `ms`. */
export function nextMessage<T>(room: Room, type: string, ms: number, match: (m: T) => boolean = () => true): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`no ${type} within ${ms} ms`));
    }, ms);
    const off = room.onMessage(type, (m: T) => {
      if (!match(m)) return;
      clearTimeout(timer);
      off();
      resolve(m);
    });
  });
}

/** Thrown by `Inbox.take` when its signal aborts (the bot is stopping). */
export class Stopped extends Error {}

/**
 * Keeps every message of some types a room receives, so that a bot can wait for one that may
 * already have arrived (a `matchmaker_matched` racing its `matchmaker_ticket`).
 */
export class Inbox {
  private readonly messages: { type: string; body: any }[] = [];
  private readonly waiters = new Set<() => void>();

  constructor(room: Room, types: readonly string[]) {
    for (const type of types)
      room.onMessage(type, (body: unknown) => {
        this.messages.push({ type, body });
        if (this.messages.length > 100) this.messages.shift();
        for (const w of [...this.waiters]) w();
      });
  }

  /** The first message of `type` matching `match` (removed from the inbox); rejects after `ms` or on `signal`. */
  take<T = any>(type: string, ms: number, signal: AbortSignal, match: (body: T) => boolean = () => true): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(check);
        signal.removeEventListener('abort', aborted);
      };
      const check = () => {
        const i = this.messages.findIndex((m) => m.type === type && match(m.body as T));
        if (i < 0) return;
        const body = this.messages.splice(i, 1)[0]!.body as T;
        done();
        resolve(body);
      };
      const aborted = () => {
        done();
        reject(new Stopped('stopping'));
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`no ${type} within ${ms} ms`));
      }, ms);
      if (signal.aborted) return aborted();
      signal.addEventListener('abort', aborted);
      this.waiters.add(check);
      check();
    });
  }
}

// ---------------------------------------------------------------------------------------------
// Measurements

export interface LatencySummary {
  count: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  avg: number;
}

export interface FlowSummary {
  /** Messages the receivers should have got (sent before the cut-off, times their fan-out). */
  expected: number;
  delivered: number;
  lost: number;
  /** Sends after this many seconds into the run are not counted (still in flight at the stop). */
  cutoffSec: number;
}

/** Latency histograms (ms, recorded in µs), counters and delivery flows of one bot kind. */
export class Stats {
  readonly startedAt = performance.now();
  readonly startedAtIso = new Date().toISOString();
  private stoppedAt: number | undefined;
  private readonly histograms = new Map<string, RecordableHistogram>();
  private readonly counters = new Map<string, number>();
  private readonly flows = new Map<string, { expected: Map<number, number>; delivered: Map<number, number> }>();
  readonly errorSamples: string[] = [];

  latency(name: string, ms: number): void {
    let h = this.histograms.get(name);
    if (!h) this.histograms.set(name, (h = createHistogram()));
    h.record(Math.max(1, Math.round(ms * 1000)));
  }

  count(name: string, n = 1): void {
    this.counters.set(name, (this.counters.get(name) ?? 0) + n);
  }

  get(name: string): number {
    return this.counters.get(name) ?? 0;
  }

  /** An error: counted under `errors` and `errors.<kind>`, the first 20 kept as samples. */
  error(kind: string, detail: unknown): void {
    this.count('errors');
    this.count(`errors.${kind}`);
    if (this.errorSamples.length < 20) {
      const text = detail instanceof Error ? detail.message : typeof detail === 'string' ? detail : JSON.stringify(detail);
      this.errorSamples.push(`${kind}: ${text}`.slice(0, 300));
    }
  }

  get errors(): number {
    return this.get('errors');
  }

  /** A message sent at `sentAt` (performance.now()) that `receivers` should get. */
  expect(flow: string, sentAt: number, receivers: number): void {
    this.bucket(flow).expected.set(this.second(sentAt), (this.bucket(flow).expected.get(this.second(sentAt)) ?? 0) + receivers);
  }

  /** One receiver got the message of `flow` sent at `sentAt`. */
  arrive(flow: string, sentAt: number): void {
    const b = this.bucket(flow);
    const s = this.second(sentAt);
    b.delivered.set(s, (b.delivered.get(s) ?? 0) + 1);
  }

  private second(t: number): number {
    return Math.floor((t - this.startedAt) / 1000);
  }

  private bucket(flow: string) {
    let b = this.flows.get(flow);
    if (!b) this.flows.set(flow, (b = { expected: new Map(), delivered: new Map() }));
    return b;
  }

  stop(): void {
    this.stoppedAt ??= performance.now();
  }

  get stopped(): boolean {
    return this.stoppedAt !== undefined;
  }

  /** Seconds from the first bot's start to the stop (or now). */
  get seconds(): number {
    return ((this.stoppedAt ?? performance.now()) - this.startedAt) / 1000;
  }

  latencies(): Record<string, LatencySummary> {
    const out: Record<string, LatencySummary> = {};
    for (const [name, h] of [...this.histograms].sort(([a], [b]) => a.localeCompare(b))) {
      const ms = (v: number) => round(Number.isFinite(v) ? v / 1000 : 0, 2);
      out[name] = {
        count: h.count,
        p50: ms(h.percentile(50)),
        p95: ms(h.percentile(95)),
        p99: ms(h.percentile(99)),
        max: ms(h.max),
        avg: ms(h.mean),
      };
    }
    return out;
  }

  counts(): Record<string, number> {
    return Object.fromEntries([...this.counters].sort(([a], [b]) => a.localeCompare(b)));
  }

  /**
   * Deliveries against expectations for messages sent more than `graceSec` before the stop, so
   * that messages still in flight when the run stopped do not count as lost.
   */
  deliveries(graceSec = 2): Record<string, FlowSummary> {
    const cutoff = Math.floor(this.seconds - graceSec);
    const out: Record<string, FlowSummary> = {};
    for (const [flow, b] of this.flows) {
      let expected = 0;
      let delivered = 0;
      for (const [s, n] of b.expected) if (s < cutoff) expected += n;
      for (const [s, n] of b.delivered) if (s < cutoff) delivered += n;
      out[flow] = { expected, delivered, lost: Math.max(0, expected - delivered), cutoffSec: Math.max(0, cutoff) };
    }
    return out;
  }
}

export const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits;

// ---------------------------------------------------------------------------------------------
// Bots and runs

/** What one bot is started with (a subset of `@colyseus/loadtest`'s options). */
export interface BotOptions {
  endpoint: string;
  clientId: number;
  numClients: number;
}

/** What a running bot gives back: `stop()` ends its timers at once, `leave()` closes its rooms. */
export interface Bot {
  stop(): void;
  leave(): Promise<void>;
}

export interface BotContext<S, Shared> {
  name: string;
  /** Random per run: device ids, matchmaker properties. */
  runId: string;
  serverKey: string;
  settings: S;
  /** State shared by the bots of this run (same process). */
  shared: Shared;
  stats: Stats;
  /** True once the run is stopping: closes and missing answers are no longer errors. */
  readonly stopping: boolean;
  log(message: string): void;
}

export interface BotDefinition<S, Shared> {
  name: string;
  /** The room name given to `cli()` (`--room`), which it requires; the bot decides what it joins. */
  room: string;
  /** Its settings from `BOT_*` environment variables. */
  settings(env: NodeJS.ProcessEnv): S;
  shared(settings: S): Shared;
  start(options: BotOptions, ctx: BotContext<S, Shared>): Promise<Bot>;
  /** Counters the summary line shows as rates (all counters are in the JSON). */
  headline: string[];
}

export interface BotResult {
  bot: string;
  date: string;
  endpoint: string;
  runId: string;
  clients: { requested: number; started: number; failed: number };
  seconds: number;
  settings: unknown;
  sdk: SdkProof;
  latencyMs: Record<string, LatencySummary>;
  counters: Record<string, number>;
  ratesPerSec: Record<string, number>;
  deliveries: Record<string, FlowSummary>;
  errors: number;
  errorSamples: string[];
}

/** The bots of one kind in this process: starts them, stops them, sums up. */
export class BotRun<S, Shared> {
  readonly stats = new Stats();
  readonly runId = randomBytes(4).toString('hex');
  private readonly bots: Bot[] = [];
  private requested = 0;
  private endpoint = '';
  private isStopping = false;
  readonly ctx: BotContext<S, Shared>;

  constructor(
    readonly def: BotDefinition<S, Shared>,
    readonly settings: S,
    serverKey: string,
    log: (message: string) => void = () => undefined,
  ) {
    const run = this; // eslint-disable-line @typescript-eslint/no-this-alias
    this.ctx = {
      name: def.name,
      runId: this.runId,
      serverKey,
      settings,
      shared: def.shared(settings),
      stats: this.stats,
      get stopping() {
        return run.isStopping;
      },
      log,
    };
  }

  get stopping(): boolean {
    return this.isStopping;
  }

  /** Starts one bot; a failure is counted (and thrown, for `cli()` to count it too). */
  async add(options: BotOptions): Promise<void> {
    this.requested = Math.max(this.requested, options.numClients);
    this.endpoint = options.endpoint;
    if (this.isStopping) return;
    try {
      const bot = await this.def.start(options, this.ctx);
      this.bots.push(bot);
      this.stats.count('clients_started');
      if (this.isStopping) bot.stop();
    } catch (err) {
      this.stats.error('start', err);
      this.stats.count('clients_failed');
      throw err;
    }
  }

  /** Stops every bot's timers at once (synchronous: safe in an `exit` listener). */
  halt(): void {
    if (this.isStopping) return;
    this.isStopping = true;
    this.stats.stop();
    for (const b of this.bots) b.stop();
  }

  /** Halts, waits `graceMs` for messages in flight, then leaves every room. */
  async close(graceMs = 1500): Promise<void> {
    this.halt();
    await sleep(graceMs);
    await Promise.allSettled(this.bots.map((b) => b.leave()));
  }

  result(sdk: SdkProof): BotResult {
    const counters = this.stats.counts();
    const seconds = this.stats.seconds;
    const ratesPerSec: Record<string, number> = {};
    for (const [k, v] of Object.entries(counters))
      if (!k.startsWith('errors') && !k.startsWith('clients_') && !k.startsWith('sockets.')) ratesPerSec[k] = round(v / seconds, 2);
    return {
      bot: this.def.name,
      date: new Date().toISOString(),
      endpoint: this.endpoint,
      runId: this.runId,
      clients: { requested: this.requested, started: this.stats.get('clients_started'), failed: this.stats.get('clients_failed') },
      seconds: round(seconds, 1),
      settings: this.settings,
      sdk,
      latencyMs: this.stats.latencies(),
      counters,
      ratesPerSec,
      deliveries: this.stats.deliveries(),
      errors: this.stats.errors,
      errorSamples: this.stats.errorSamples,
    };
  }

  /** Whether the run went wrong: errors, failed clients, lost messages, or the wrong SDK. */
  failed(r: BotResult): boolean {
    return r.errors > 0 || r.clients.failed > 0 || Object.values(r.deliveries).some((d) => d.lost > 0) || !r.sdk.ok;
  }
}

/** `loadtest/results/bot-<name>-<timestamp>.json` (or in BOT_RESULTS_DIR); returns its path. */
export function writeResult(
  prefix: string,
  data: unknown,
  dir = process.env.BOT_RESULTS_DIR || path.join(projectRoot, 'loadtest', 'results'),
): string {
  mkdirSync(dir, { recursive: true });
  const stamp = new Date()
    .toISOString()
    .replace(/[:.]/g, '-')
    .replace(/-\d{3}Z$/, 'Z');
  let file = path.join(dir, `${prefix}-${stamp}.json`);
  if (existsSync(file)) file = path.join(dir, `${prefix}-${stamp}-${process.pid}.json`);
  writeFileSync(file, JSON.stringify(data, null, 2) + '\n');
  return file;
}

const fmt = (n: number, digits = 1) => n.toFixed(digits);

/** The one-line summary of a bot result. */
export function summaryLine(r: BotResult, headline: string[], file?: string): string {
  const parts: string[] = [];
  parts.push(`bot ${r.bot}: ${r.clients.started}/${r.clients.requested} clients, ${fmt(r.seconds)} s`);
  for (const [name, l] of Object.entries(r.latencyMs)) {
    parts.push(`${name} p50/p95/p99 ${fmt(l.p50)}/${fmt(l.p95)}/${fmt(l.p99)} ms (n=${l.count})`);
  }
  for (const name of headline) parts.push(`${name} ${fmt(r.ratesPerSec[name] ?? 0)}/s`);
  for (const [flow, d] of Object.entries(r.deliveries)) parts.push(`${flow} ${d.delivered}/${d.expected} delivered`);
  const sockets = Object.entries(r.counters).filter(([k]) => k.startsWith('sockets.'));
  if (sockets.length > 0) parts.push(`room sockets ${sockets.map(([k, v]) => `${k.slice('sockets.'.length)}=${v}`).join(' ')}`);
  parts.push(`${r.errors} errors`);
  if (!r.sdk.ok) parts.push(`WRONG SDK ${r.sdk.version}`);
  if (file) parts.push(`-> ${path.relative(process.cwd(), file)}`);
  return parts.join(' | ');
}

// ---------------------------------------------------------------------------------------------
// The SDK the bots (and @colyseus/loadtest) run on

export interface SdkProof {
  /** `@colyseus/sdk`'s version as this file resolves it. */
  version: string;
  /** `@colyseus/sdk`'s version as `@colyseus/loadtest` resolves it. */
  loadtestVersion: string;
  /** Both resolve to the same package directory (one module instance). */
  samePackage: boolean;
  /** `cli()` wrapped `Client.prototype.create` of the very class the bots use (only in CLI runs). */
  loadtestPatchedOurClient?: boolean;
  ok: boolean;
}

/** Where and which `@colyseus/sdk` the bots and `@colyseus/loadtest` load. */
export function sdkProof(loadtestPatchedOurClient?: boolean): SdkProof {
  const require = createRequire(import.meta.url);
  const ours = require.resolve('@colyseus/sdk/package.json');
  const loadtestPkg = require.resolve('@colyseus/loadtest/package.json');
  const theirs = createRequire(loadtestPkg).resolve('@colyseus/sdk/package.json');
  const version = (JSON.parse(readFileSync(ours, 'utf8')) as { version: string }).version;
  const loadtestVersion = (JSON.parse(readFileSync(theirs, 'utf8')) as { version: string }).version;
  const samePackage = path.dirname(ours) === path.dirname(theirs);
  return {
    version,
    loadtestVersion,
    samePackage,
    ...(loadtestPatchedOurClient === undefined ? {} : { loadtestPatchedOurClient }),
    ok: version.startsWith('0.18.') && loadtestVersion.startsWith('0.18.') && samePackage && loadtestPatchedOurClient !== false,
  };
}

// ---------------------------------------------------------------------------------------------
// The command line, through @colyseus/loadtest

/**
 * Runs a bot definition under `@colyseus/loadtest`'s `cli()`: `--endpoint`, `--numClients`,
 * `--delay` … as it parses them (`--room` defaults to the definition's). Stops after
 * BOT_DURATION_SEC, or on SIGINT / SIGTERM / Ctrl-C / q; then writes
 * `loadtest/results/bot-<name>-<timestamp>.json` and prints the one-line summary (after the
 * dashboard has given the terminal back). Exits 1 when the run failed (see `BotRun.failed`).
 */
export function runCli<S, Shared>(def: BotDefinition<S, Shared>): void {
  if (!process.argv.slice(2).some((a) => a === '--room' || a.startsWith('--room=') || a === '--roomId' || a.startsWith('--roomId='))) {
    process.argv.push('--room', def.room);
  }
  if (process.argv.includes('--help')) {
    process.stdout.write(
      `${def.name} bot for @colyseus/loadtest; settings through BOT_* environment variables (see loadtest/bots/${def.name}.ts)\n`,
    );
  }
  const settings = def.settings(process.env);
  const durationSec = envNumber(process.env, 'BOT_DURATION_SEC', 0);
  const originalCreate = Client.prototype.create;
  const out = (line: string) => writeSync(1, line + '\n');
  const run = new BotRun(def, settings, serverKeyFrom(process.env), (m) => console.log(m));

  cli(async (options: LoadtestOptions) => {
    await run.add({ endpoint: options.endpoint, clientId: options.clientId, numClients: Number(options.numClients) });
  });
  const sdk = sdkProof(Client.prototype.create !== originalCreate);
  if (!sdk.ok) console.error(`wrong SDK: ${JSON.stringify(sdk)}`);

  let summary: string | undefined;
  let failed = false;
  const finish = () => {
    if (summary !== undefined) return;
    run.halt();
    const r = run.result(sdk);
    failed = run.failed(r);
    const file = writeResult(`bot-${def.name}`, r);
    summary = summaryLine(r, def.headline, file);
  };
  // After blessed's own exit listeners (registered inside cli()) gave the terminal back.
  process.on('exit', (code) => {
    finish();
    out(summary!);
    if (failed && code === 0) process.exitCode = 1;
  });
  if (durationSec > 0) {
    setTimeout(() => {
      void run
        .close()
        .catch(() => undefined)
        .finally(() => {
          finish();
          process.exit(failed ? 1 : 0);
        });
    }, durationSec * 1000);
  }
}

/** A random phase in [0, periodMs): spreads the bots' timers over the period. */
export const phase = (periodMs: number) => Math.floor(Math.random() * periodMs);

/** `performance.now()` as base64 text padded to `bytes` (match data must be base64). */
export function timestampData(t: number, bytes: number): string {
  const s = t.toFixed(3);
  return Buffer.from(s + ' '.repeat(Math.max(0, bytes - s.length)), 'latin1').toString('base64');
}

export const timestampOf = (data: string) => parseFloat(Buffer.from(data, 'base64').toString('latin1'));
