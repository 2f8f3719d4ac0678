/**
 * The one way to declare an HTTP endpoint. A declaration names the Nakama operation, its route, its
 * auth mode, where the JSON body goes in the request message (as grpc-gateway maps it) and a zod
 * schema; `mountEndpoints` gives every declaration auth, validation, before/after hooks, Nakama's
 * error body, logging and a latency metric, so handlers hold only their own logic.
 */
import { randomUUID } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import Router from 'find-my-way';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { SessionVerifier, VerifiedSession } from '../auth/verifier.js';
import { checkHttpKey, checkServerKey } from '../auth/keys.js';
import { AppError, Code, unauthenticated } from '../errors.js';
import type { HookContext, HookLookup } from '../hooks/registry.js';
import type { Metrics } from '../metrics.js';
import type { Em } from '../services/db.js';
import { toHttpError } from './errors.js';

/** How a caller proves who it is. */
export type AuthMode = 'server_key' | 'session' | 'http_key' | 'session_or_http_key' | 'none';

/** What a handler gets beside its request. */
export interface CallContext {
  readonly operation: string;
  readonly requestId: string;
  readonly log: Logger;
  readonly ip: string;
  /** The caller's session, for `session` endpoints (and `session_or_http_key` with a token). */
  readonly session?: VerifiedSession;
  /** A fresh entity manager fork for this request. */
  readonly em: Em;
  readonly hook: HookContext;
}

/** One endpoint: everything the pipeline needs to serve it. */
export interface Endpoint<S extends z.ZodType = z.ZodType, R = unknown> {
  /** Nakama's operation name (`AuthenticateDevice`), used by hooks, logs and metrics. */
  operation: string;
  method: 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH';
  /** Express path (`/v2/group/:group_id`). */
  path: string;
  auth: AuthMode;
  /** Where the JSON body goes: `'*'` merges it into the request, a name puts it in that field. */
  body?: string;
  request: S;
  handler: (request: z.output<S>, ctx: CallContext) => Promise<R> | R;
}

/** A handler result sent as-is instead of as JSON (RPCs with `unwrap`). */
export class RawResponse {
  constructor(
    readonly body: string,
    readonly contentType = 'application/json',
  ) {}
}

/** Declares an endpoint with its types inferred. */
export function endpoint<S extends z.ZodType, R>(e: Endpoint<S, R>): Endpoint<S, R> {
  return e;
}

export interface PipelineDeps {
  serverKey: string;
  httpKey: string;
  hooks: HookLookup;
  metrics: Metrics;
  verifier: SessionVerifier;
  em: () => Em;
  log: Logger;
}

/**
 * One middleware serving every endpoint: a radix-tree lookup (find-my-way) instead of Express's
 * router, which tests each route's regular expression in turn (11% of a device login's CPU with
 * ~35 routes, measured with --cpu-prof under autocannon).
 */
export function endpointMiddleware(
  endpoints: readonly Endpoint[],
  deps: PipelineDeps,
): (req: Request, res: Response, next: NextFunction) => void {
  const routes = Router({ ignoreTrailingSlash: true });
  for (const e of endpoints) routes.on(e.method, e.path, () => undefined, e);
  return (req, res, next) => {
    const found = routes.find(req.method as 'GET', req.path);
    if (!found) return next();
    const params: Record<string, string> = {};
    for (const [k, v] of Object.entries(found.params)) if (v !== undefined) params[k] = v;
    req.params = params;
    serve(found.store as Endpoint, req, res, deps).catch(next);
  };
}

async function serve(e: Endpoint, req: Request, res: Response, deps: PipelineDeps): Promise<void> {
  const started = process.hrtime.bigint();
  const requestId = (res.locals.requestId as string | undefined) ?? randomUUID();
  const log = deps.log.child({ reqId: requestId, op: e.operation });
  let code: number = 0;
  try {
    const session = authenticate(e.auth, req, deps);
    const hook: HookContext = Object.freeze({
      operation: e.operation,
      ...(session
        ? {
            userId: session.userId,
            username: session.username,
            vars: session.vars,
            sessionId: session.sessionId,
            expiry: session.expiresAt,
          }
        : {}),
      clientIp: req.ip,
      headers: req.headers,
      queryParams: req.query as Record<string, unknown>,
    });
    let emFork: Em | undefined;
    const ctx: CallContext = {
      operation: e.operation,
      requestId,
      log,
      ip: req.ip ?? '',
      ...(session ? { session } : {}),
      get em() {
        return (emFork ??= deps.em());
      },
      hook,
    };
    let request = parse(e, rawRequest(e, req));
    const before = deps.hooks.before(e.operation);
    if (before) {
      const changed = await before(hook, request);
      if (changed === null || changed === undefined) throw new AppError(Code.NOT_FOUND, 'Requested resource was not found.');
      request = parse(e, changed);
    }
    const response = (await e.handler(request, ctx)) ?? {};
    if (response instanceof RawResponse) res.status(200).type(response.contentType).send(response.body);
    else res.status(200).json(response);
    const after = deps.hooks.after(e.operation);
    if (after) {
      setImmediate(() => {
        Promise.resolve()
          .then(() => after(hook, response, request))
          .catch((err: unknown) => {
            deps.metrics.hookErrors.inc({ operation: e.operation });
            log.error({ err }, 'after hook failed');
          });
      });
    }
  } catch (err) {
    const { status, body } = toHttpError(err, log);
    code = body.code;
    res.status(status).json(body);
  } finally {
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    deps.metrics.apiDuration.observe({ operation: e.operation, code: String(code) }, seconds);
    log.debug({ code, ms: Math.round(seconds * 1e4) / 10 }, 'request');
  }
}

function authenticate(mode: AuthMode, req: Request, deps: PipelineDeps): VerifiedSession | undefined {
  switch (mode) {
    case 'none':
      return undefined;
    case 'server_key':
      checkServerKey(req.headers.authorization, deps.serverKey);
      return undefined;
    case 'session':
      return deps.verifier.verifyHeader(req.headers.authorization);
    case 'http_key':
      checkHttpKey(queryString(req.query.http_key), deps.httpKey);
      return undefined;
    case 'session_or_http_key': {
      const key = queryString(req.query.http_key);
      if (key !== undefined) {
        checkHttpKey(key, deps.httpKey);
        return undefined;
      }
      if (!req.headers.authorization) throw unauthenticated('Auth token or HTTP key required');
      return deps.verifier.verifyHeader(req.headers.authorization);
    }
  }
}

function queryString(v: unknown): string | undefined {
  return typeof v === 'string' ? v : Array.isArray(v) && typeof v[0] === 'string' ? v[0] : undefined;
}

/** Builds the request message the way grpc-gateway does: query and path fields, then the body. */
function rawRequest(e: Endpoint, req: Request): Record<string, unknown> {
  const out: Record<string, unknown> = { ...(req.query as Record<string, unknown>), ...req.params };
  delete out.http_key;
  if (e.body === '*') {
    const body: unknown = req.body ?? {};
    if (typeof body !== 'object' || body === null || Array.isArray(body))
      throw new AppError(Code.INVALID_ARGUMENT, 'Request body must be a JSON object.');
    Object.assign(out, body);
  } else if (e.body !== undefined && req.body !== undefined) out[e.body] = req.body;
  return out;
}

function parse(e: Endpoint, raw: unknown): unknown {
  const parsed = e.request.safeParse(raw);
  if (!parsed.success) throw parsed.error;
  return parsed.data;
}
