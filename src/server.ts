/**
 * The one composition root: builds the logger, database, presence, driver, HTTP API, Colyseus and
 * the auth services, and hands each part what it needs explicitly.
 */
import { createServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { LocalPresence, matchMaker, Server as GameServer, type IRoomCache, type MatchMakerDriver, type Presence } from '@colyseus/core';
import { RedisPresence } from '@colyseus/redis-presence';
import { WebSocketTransport } from '@colyseus/ws-transport';
import type { Logger } from 'pino';
import { createApp } from './api/app.js';
import { LoginLimiter } from './auth/login-limiter.js';
import { Argon2Hasher } from './auth/passwords.js';
import { RevocationStore } from './auth/revocations.js';
import { SessionService } from './auth/sessions.js';
import { TokenSigner } from './auth/tokens.js';
import { SessionVerifier } from './auth/verifier.js';
import type { Config } from './config.js';
import { startEmbeddedDatabase, type EmbeddedDatabase } from './db/embedded.js';
import { migrate, openOrm, type Orm } from './db/orm.js';
import { createNk } from './hooks/nk.js';
import type { HookRegistry } from './hooks/registry.js';
import { Runtime } from './hooks/runtime.js';
import { Metrics } from './metrics.js';
import { bindRoom, type RoomDeps } from './rooms/base.room.js';
import { IndexedLocalDriver } from './rooms/local.driver.js';
import { TavernRedisDriver } from './rooms/redis.driver.js';
import { RoomPlacement } from './rooms/placement.js';
import { RoomTicker } from './rooms/room-ticker.js';
import { ChatRoom } from './rooms/chat.room.js';
import { GameRoomTypes } from './rooms/game.room.js';
import { SessionRoom, sweepSessionListing } from './rooms/session.room.js';
import { ColyseusMatchPort } from './rooms/match-directory.js';
import { matchRoom } from './rooms/match.room.js';
import { MATCH_ROOM } from './rooms/match-seats.js';
import { MATCHMAKER_ROOM, partyMatchmaker } from './rooms/matchmaker-client.js';
import { ColyseusPartyPort } from './rooms/party-directory.js';
import { PARTY_ROOM, partyRoom } from './rooms/party.room.js';
import { matchmakerRoom } from './rooms/matchmaker.room.js';
import { LocalMatchmakerStore, RedisMatchmakerStore, type MatchmakerStore } from './services/matchmaker-store.js';
import type { Em } from './services/db.js';
import { periodHandlers } from './hooks/leaderboard-events.js';
import { warmRankCache } from './services/leaderboard-records.js';
import { LeaderboardScheduler } from './services/leaderboard-scheduler.js';
import type { LeaderboardPorts } from './services/leaderboards.js';
import { systemClock, type Clock } from './services/ports.js';
import { LocalRankCache } from './services/rank-cache.js';
import { RedisRankCache } from './services/redis-rank-cache.js';

/** Tavern's version, reported to modules as `ctx.version`. */
export const VERSION = '0.1.0';

/** A running Tavern process. */
export interface Tavern {
  readonly config: Config;
  readonly port: number;
  /** `http://127.0.0.1:<port>`. */
  readonly url: string;
  readonly log: Logger;
  readonly orm: Orm;
  /** The hook registry in force (the runtime swaps it on a dev reload). */
  readonly hooks: HookRegistry;
  readonly runtime: Runtime;
  readonly metrics: Metrics;
  readonly presence: Presence;
  /** The rank cache, the clock and the period scheduler (`scheduler.runDue()` ends due periods now). */
  readonly leaderboards: LeaderboardPorts & { scheduler: LeaderboardScheduler };
  /** Drains HTTP, disposes rooms and closes the database. Safe to call twice. */
  close(): Promise<void>;
}

/** What tests (and embedders) may replace; production uses the defaults. */
export interface ServerOptions {
  /** The clock leaderboard periods and tournament windows follow. */
  clock?: Clock;
  /** How often the leaderboard scheduler looks for ended periods (ms); 0 turns the timer off. */
  schedulerIntervalMs?: number;
  /**
   * The room registry. Default: Tavern's Redis driver with REDIS_URL, else an in-process one.
   * Benchmarks pass the stock `@colyseus/redis-driver` here to compare.
   */
  driver?: MatchMakerDriver;
}

/** Starts a server from a parsed configuration. */
export async function startServer(config: Config, log: Logger, options: ServerOptions = {}): Promise<Tavern> {
  if (config.usesDefaultKeys.length > 0) {
    log.warn({ keys: config.usesDefaultKeys }, '*** USING DEFAULT KEYS: anyone can forge sessions. Set these before going live. ***');
  }

  let embedded: EmbeddedDatabase | undefined;
  if (!config.databaseUrl) {
    embedded = await startEmbeddedDatabase(config.dataDir);
    log.info({ dataDir: config.dataDir }, 'embedded database started');
  }
  const orm = await openOrm({
    ...(embedded ? { connection: embedded.connection } : { url: config.databaseUrl! }),
    poolSize: embedded ? 1 : config.dbPoolSize,
    logger: log,
  });
  const applied = await migrate(orm, config.databaseUrl);
  if (applied.length > 0) log.info({ applied }, 'migrations applied');
  const em = () => orm.em.fork() as unknown as Em;

  // REDIS_URL makes this process one of a fleet: presence (pub/sub, shared keys) and the room
  // registry move to Redis, so any process finds, joins and signals any room.
  const presence: Presence = config.redisUrl ? new RedisPresence(config.redisUrl) : new LocalPresence();
  const fleetLog = log.child({ scope: 'fleet' });
  const driver: MatchMakerDriver =
    options.driver ??
    (config.redisUrl
      ? fleetDriver(
          config.redisUrl,
          async (processId, rooms) => {
            // A survivor swept a process that stopped heart-beating (killed, frozen, cut off).
            await matchMaker.stats.excludeProcess(processId);
            let sessions = 0;
            for (const room of rooms) if (await sweepSessionListing(presence, room)) sessions++;
            fleetLog.warn({ processId, rooms: rooms.length, sessions }, 'a process stopped answering: its rooms were removed');
          },
          fleetLog,
        )
      : new IndexedLocalDriver());
  const shared = config.redisUrl !== undefined || options.driver !== undefined;
  const placement = new RoomPlacement(driver instanceof TavernRedisDriver ? driver : undefined);
  const metrics = new Metrics();
  const signer = new TokenSigner(config);
  const revocations = new RevocationStore(em, presence, log.child({ scope: 'revocations' }));
  await revocations.start();
  const verifier = new SessionVerifier(signer, revocations);
  const sessions = new SessionService(signer, revocations, config.refreshTokenExpirySec);
  const hasher = new Argon2Hasher(() => metrics.passwordHashes.inc());
  const limiter = new LoginLimiter(config);
  // Several processes share one rank cache in Redis; a single process keeps its own.
  const redisRanks = config.redisUrl
    ? new RedisRankCache(config.redisUrl, { onError: (err) => log.warn({ err }, 'rank cache: Redis connection error') })
    : undefined;
  const ranks = redisRanks ?? new LocalRankCache();
  const leaderboards: LeaderboardPorts = { clock: options.clock ?? systemClock, ranks };
  // Matchmaker queues share their leases, tickets, user claims and stats through Redis in a fleet.
  const matchmakerStore: MatchmakerStore = config.redisUrl
    ? new RedisMatchmakerStore(config.redisUrl, undefined, (err) => log.warn({ err }, 'matchmaker store: Redis connection error'))
    : new LocalMatchmakerStore();
  const matches = new ColyseusMatchPort(matchmakerStore, config.matchmakerIntervalMs * 3 + 5000, (name) =>
    runtime.registry.matches.has(name),
  );
  const nk = createNk({
    em,
    hasher,
    sessions,
    leaderboards,
    publisher: presence,
    messageLimitBytes: config.socketMessageLimitBytes,
    matches,
    maxFriends: config.maxFriends,
  });
  const runtimeInfo = { env: Object.freeze({ ...config.runtimeEnv }), node: config.nodeName, version: VERSION };
  const runtimeLog = log.child({ scope: 'runtime' });
  const runtime = new Runtime({ path: config.runtimePath, log: runtimeLog, nk, info: runtimeInfo });

  const { app, operations } = createApp(
    {
      bodyLimitBytes: config.bodyLimitBytes,
      rateLimitPerIp: config.rateLimitPerIp,
      rateLimitWindowSec: config.rateLimitWindowSec,
      trustProxy: config.trustProxy,
      metricsEnabled: config.metrics,
      dev: config.dev,
    },
    {
      serverKey: config.serverKey,
      httpKey: config.httpKey,
      hooks: runtime,
      metrics,
      verifier,
      em,
      log,
      sessions,
      hasher,
      limiter,
      leaderboards,
      publisher: presence,
      maxFriends: config.maxFriends,
      matches,
      parties: new ColyseusPartyPort(),
    },
  );
  const roomDeps: RoomDeps = {
    verifier,
    hooks: runtime,
    log,
    metrics,
    messageLimitBytes: config.socketMessageLimitBytes,
    reconnectWindowSec: config.reconnectWindowSec,
    em,
    singleSocket: config.singleSocket,
    flow: { messagesPerSecond: config.messagesPerSecond, maxBufferedBytes: config.maxBufferedBytes },
    shutdownGraceSec: config.shutdownGraceSec,
    ticker: new RoomTicker(),
  };
  // Designer rooms (`initializer.registerRoom`) become Colyseus room types at every load.
  const gameRooms = new GameRoomTypes(roomDeps, (module) => ({ nk, logger: runtimeLog.child({ module }), module, env: runtimeInfo.env }));
  runtime.onLoad((registry) => gameRooms.apply(new Map([...registry.rooms].map(([name, r]) => [name, { ...r.fn, module: r.module }]))));
  try {
    await runtime.load(operations);
  } catch (err) {
    revocations.stop();
    await redisRanks?.close();
    await matchmakerStore.close();
    await orm.close(true);
    await embedded?.stop();
    metrics.close();
    throw err;
  }
  if (config.dev) runtime.watch();
  const scheduler = new LeaderboardScheduler({
    em,
    ports: leaderboards,
    handlers: periodHandlers(runtime, runtimeInfo, log.child({ scope: 'leaderboards' })),
    intervalMs: options.schedulerIntervalMs ?? 1000,
    onError: (err) => log.error({ err }, 'leaderboard scheduler failed'),
  });
  scheduler.start();
  // Rebuild the rank caches in the background; requests that need one wait for its load.
  const warming = warmRankCache(em(), leaderboards).then(
    (periods) => log.debug({ periods }, 'leaderboard ranks loaded'),
    (err: unknown) => log.error({ err }, 'loading leaderboard ranks failed'),
  );
  const publicAddress = advertisedAddress(config, fleetLog);
  const http: HttpServer = createServer(app);
  // The frame limit sits well above the content limit, so oversized content reaches the room and
  // gets an `error` message instead of a silently closed socket.
  const transport = new WebSocketTransport({
    server: http,
    maxPayload: Math.max(64 * 1024, config.socketMessageLimitBytes * 16),
    // Nakama's ping period; a socket that misses two pings in a row is closed.
    pingInterval: config.pingIntervalMs,
    pingMaxRetries: 2,
  });
  const game = new GameServer({
    transport,
    presence,
    driver,
    gracefullyShutdown: false,
    greet: false,
    logger: log.child({ scope: 'colyseus' }),
    ...(publicAddress ? { publicAddress } : {}),
    selectProcessIdToCreateRoom: shared ? (roomName: string) => placement.place(roomName) : async () => matchMaker.processId,
  });
  game.define('session', bindRoom(SessionRoom, roomDeps));
  // By channel: `join`/`joinOrCreate` find the channel's room (its id is the channel's anyway).
  game.define('chat', bindRoom(ChatRoom, roomDeps)).filterBy(['channelId']);
  const matchDeps = {
    // Looked up when a match starts: a running match keeps its handler across dev reloads.
    handler: (name: string) => runtime.registry.matches.get(name),
    nk,
    info: runtimeInfo,
    log: log.child({ scope: 'runtime' }),
    shutdownGraceSec: config.shutdownGraceSec,
    inputQueueSize: 128,
  };
  game.define(MATCH_ROOM, bindRoom(matchRoom(matchDeps), roomDeps));
  game.define(PARTY_ROOM, bindRoom(partyRoom({ matchmaker: partyMatchmaker }), roomDeps));
  game.define(
    MATCHMAKER_ROOM,
    matchmakerRoom({
      store: matchmakerStore,
      verifier,
      matchedHook: () => runtime.registry.matchmakerMatched,
      nk,
      info: runtimeInfo,
      log: log.child({ scope: 'matchmaker' }),
      intervalMs: config.matchmakerIntervalMs,
      maxIntervals: config.matchmakerMaxIntervals,
      maxTicketsPerUser: config.matchmakerMaxTickets,
      tokenTtlSec: Math.max(60, Math.ceil((config.matchmakerIntervalMs * 4) / 1000)),
    }),
  );

  // Colyseus waits for 'listening' only: a port in use would leave startup hanging, still
  // registered in the fleet. Fail instead (the process exits and its supervisor says why).
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    game.listen(config.port, config.host).then(() => {
      http.off('error', reject);
      resolve();
    }, reject);
  });
  // Colyseus puts its own request listener in front of Express; it builds a WHATWG Headers object
  // and tests its router on every request (8% of a device login's CPU). Only its own paths need it.
  const [colyseusListener] = http.listeners('request') as ((req: IncomingMessage, res: ServerResponse) => void)[];
  if (colyseusListener) {
    http.removeAllListeners('request');
    http.on('request', (req: IncomingMessage, res: ServerResponse) => {
      const url = req.url ?? '';
      if (url.startsWith('/matchmake/') || url.startsWith('/__healthcheck')) colyseusListener(req, res);
      else app(req, res);
    });
  }
  const port = (http.address() as AddressInfo).port;
  log.info({ port, database: embedded ? 'embedded' : 'postgresql' }, 'tavern listening');

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      log.info('shutting down');
      const httpClosed = new Promise<void>((resolve) => http.close(() => resolve()));
      http.closeIdleConnections();
      const grace = setTimeout(() => http.closeAllConnections(), config.shutdownGraceSec * 1000);
      grace.unref();
      await game.gracefullyShutdown(false);
      await scheduler.stop();
      await warming;
      await runtime.stop();
      await httpClosed;
      clearTimeout(grace);
      revocations.stop();
      await redisRanks?.close();
      await matchmakerStore.close();
      await orm.close(true);
      await embedded?.stop();
      metrics.close();
      log.info('stopped');
    })());

  return {
    config,
    port,
    url: `http://127.0.0.1:${port}`,
    log,
    orm,
    get hooks() {
      return runtime.registry;
    },
    runtime,
    metrics,
    presence,
    leaderboards: { ...leaderboards, scheduler },
    close,
  };
}

/** The fleet's room registry: Tavern's Redis driver (src/rooms/redis.driver.ts says why not the stock one). */
function fleetDriver(
  url: string,
  onProcessGone: (processId: string, rooms: IRoomCache[]) => Promise<void>,
  log: Logger,
): TavernRedisDriver {
  return new TavernRedisDriver({ url, onProcessGone, onError: (err) => log.warn({ err }, 'room registry: Redis error') });
}

/**
 * The address this process's rooms tell clients to connect to. In a fleet every process needs its
 * own (a client's WebSocket must reach the process that owns its room): TAVERN_PUBLIC_ADDRESS, or
 * `<host>:<port>` of this machine, which only works without a proxy in front.
 */
function advertisedAddress(config: Config, log: Logger): string | undefined {
  if (config.publicAddress) return config.publicAddress;
  if (!config.redisUrl || config.port === 0) return undefined;
  const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
  log.warn(
    { publicAddress: `${host}:${config.port}` },
    'TAVERN_PUBLIC_ADDRESS is unset: clients of this fleet are sent to this host and port',
  );
  return `${host}:${config.port}`;
}
