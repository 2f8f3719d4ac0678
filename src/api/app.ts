/** The Express application: CORS, request ids, body parsing, the per-IP limit and every endpoint. */
import { randomUUID } from 'node:crypto';
import express, { type NextFunction, type Request, type Response } from 'express';
import { RateLimiterMemory } from 'rate-limiter-flexible';
import { Code } from '../errors.js';
import { accountEndpoints, type AccountDeps } from './account.js';
import { authenticateEndpoints, type AuthenticateDeps } from './authenticate.js';
import { errorBody, toHttpError } from './errors.js';
import { groupEndpoints, type GroupApiDeps } from './groups.js';
import { friendEndpoints, type FriendApiDeps } from './friends.js';
import { leaderboardEndpoints, type LeaderboardApiDeps } from './leaderboards.js';
import { matchEndpoints, type MatchApiDeps } from './matches.js';
import { mountDevPages } from './dev-pages.js';
import { mountPlayground } from './playground.js';
import { partyEndpoints, type PartyApiDeps } from './parties.js';
import { tournamentEndpoints } from './tournaments.js';
import { endpointMiddleware, type Endpoint, type PipelineDeps } from './pipeline.js';
import { channelEndpoints } from './channel.js';
import { notificationEndpoints } from './notifications.js';
import { rpcEndpoints } from './rpc.js';
import { storageEndpoints } from './storage.js';
import { userEndpoints } from './users.js';

export interface AppOptions {
  bodyLimitBytes: number;
  rateLimitPerIp: number;
  rateLimitWindowSec: number;
  trustProxy: string;
  metricsEnabled: boolean;
  /** Dev mode: the example game's page at /play and the Colyseus playground at /playground. */
  dev?: boolean;
}

export type ApiDeps = PipelineDeps &
  AuthenticateDeps &
  AccountDeps &
  LeaderboardApiDeps &
  FriendApiDeps &
  GroupApiDeps &
  MatchApiDeps &
  PartyApiDeps;

/** Every endpoint Tavern serves, in one list (later issues add theirs here). */
export function allEndpoints(deps: ApiDeps): Endpoint[] {
  return [
    ...authenticateEndpoints(deps),
    ...accountEndpoints(deps),
    ...userEndpoints(),
    ...storageEndpoints(),
    ...rpcEndpoints(deps.hooks),
    ...leaderboardEndpoints(deps),
    ...tournamentEndpoints(deps),
    ...notificationEndpoints(),
    ...friendEndpoints(deps),
    ...groupEndpoints(deps),
    ...channelEndpoints(),
    ...matchEndpoints(deps),
    ...partyEndpoints(deps),
  ];
}

/** Express's `trust proxy` from its string form. */
function trustProxy(v: string): boolean | number | string {
  if (v === 'true') return true;
  if (v === 'false' || v === '') return false;
  return /^\d+$/.test(v) ? Number(v) : v;
}

/** The Express app and the Nakama operations it serves. */
export function createApp(options: AppOptions, deps: ApiDeps): { app: express.Express; operations: ReadonlySet<string> } {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', trustProxy(options.trustProxy));
  app.set('etag', false);

  app.use((req: Request, res: Response, next: NextFunction) => {
    // Nakama's CORS policy.
    res.setHeader('Access-Control-Allow-Origin', '*');
    res.setHeader('Access-Control-Allow-Headers', 'Authorization, Content-Type, User-Agent');
    res.setHeader('Access-Control-Allow-Methods', 'GET, HEAD, POST, PUT, DELETE, PATCH');
    const given = req.headers['x-request-id'];
    const id = typeof given === 'string' && given.length > 0 && given.length <= 128 ? given : randomUUID();
    res.locals.requestId = id;
    res.setHeader('X-Request-Id', id);
    if (req.method === 'OPTIONS') {
      res.status(204).end();
      return;
    }
    next();
  });

  if (options.rateLimitPerIp > 0) {
    const limiter = new RateLimiterMemory({ points: options.rateLimitPerIp, duration: options.rateLimitWindowSec, keyPrefix: 'api-ip' });
    app.use((req: Request, res: Response, next: NextFunction) => {
      limiter.consume(req.ip ?? 'unknown').then(
        () => next(),
        () => {
          res.setHeader('Retry-After', String(options.rateLimitWindowSec));
          res.status(429).json(errorBody(Code.RESOURCE_EXHAUSTED, 'Too many requests.'));
        },
      );
    });
  }

  if (options.dev) {
    mountDevPages(app, deps.log);
    void mountPlayground(app, deps.log);
  }
  // RPC bodies are a JSON string literal or, with ?unwrap, anything: the endpoint parses them itself.
  app.use('/v2/rpc', express.text({ limit: options.bodyLimitBytes, type: () => true }));
  // Nakama clients (and curl -d) do not always send a JSON content type: parse every body as JSON.
  app.use(express.json({ limit: options.bodyLimitBytes, type: () => true, strict: false }));

  if (options.metricsEnabled) {
    app.get('/metrics', (_req, res, next) => {
      deps.metrics.registry.metrics().then((text) => {
        res.setHeader('Content-Type', deps.metrics.registry.contentType);
        res.end(text);
      }, next);
    });
  }

  const endpoints = allEndpoints(deps);
  app.use(endpointMiddleware(endpoints, deps));

  app.use((_req: Request, res: Response) => {
    res.status(404).json(errorBody(Code.NOT_FOUND, 'Not Found'));
  });
  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const { status, body } = toHttpError(err, deps.log.child({ reqId: res.locals.requestId, path: req.path }));
    if (!res.headersSent) res.status(status).json(body);
  });
  return { app, operations: new Set(endpoints.map((e) => e.operation)) };
}
