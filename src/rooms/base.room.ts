/**
 * The base of every Tavern room. It authenticates joins with the session token (through
 * src/auth), re-checks on reconnection, validates every message with zod, runs realtime
 * before/after hooks, and turns any handler failure into a logged `error` message instead of a
 * dead process. Rooms get their dependencies from `bindRoom`, never from module state.
 */
import { matchMaker, Room, ServerError, type AuthContext, type Client, type RoomException, type RoomMethodName } from '@colyseus/core';
import type { Logger } from 'pino';
import { ZodError, type z } from 'zod';
import type { SessionVerifier, VerifiedSession } from '../auth/verifier.js';
import { AppError, Code, httpStatusOf } from '../errors.js';
import type { HookContext, HookLookup } from '../hooks/registry.js';
import type { Metrics } from '../metrics.js';
import type { Em } from '../services/db.js';
import { firstIssue } from '../services/validation.js';
import { CLOSE_FLOOD, CLOSE_SLOW_READER, FlowControl, type FlowLimits } from './flow-control.js';
import type { RoomTicker } from './room-ticker.js';

/** What every room needs from the server. */
export interface RoomDeps {
  verifier: SessionVerifier;
  hooks: HookLookup;
  log: Logger;
  metrics: Metrics;
  /** Largest message content accepted; bigger gets an `error` message. */
  messageLimitBytes: number;
  /** How long a dropped client may take to reconnect. */
  reconnectWindowSec: number;
  /** A fresh entity manager fork, for rooms that read through services. */
  em: () => Em;
  /** A new session of a user closes the user's older sessions (Nakama's `single_socket`). */
  singleSocket: boolean;
  /** Per-client message rate and unsent-data cap. */
  flow: FlowLimits;
  /** How long a draining process gives its rooms (told to clients in `server_shutdown`). */
  shutdownGraceSec: number;
  /** The shared clock timer of quiet rooms (session rooms). */
  ticker: RoomTicker;
}

/** Sent to every client of a draining process before its room closes (Tavern's addition to Nakama's messages). */
export interface ShutdownMessage {
  /** Seconds the process gives its rooms before it exits. */
  grace_seconds: number;
}

/** A message handler of a per-class table: `room` is the room the message arrived at. */
export interface TableHandler<R> {
  schema: z.ZodType;
  fn: (room: R, client: Client, message: never) => unknown;
}
export type MessageTable<R> = ReadonlyMap<string, TableHandler<R>>;

/** One entry of a message table, typed by its schema. */
export function tableHandler<R, S extends z.ZodType>(
  schema: S,
  fn: (room: R, client: Client, message: z.output<S>) => unknown,
): TableHandler<R> {
  return { schema, fn: fn as TableHandler<R>['fn'] };
}

/** The identity attached to every client (`client.auth`). */
export type ClientAuth = Omit<VerifiedSession, 'token' | 'sessionId'> & {
  /**
   * The Nakama session id (`tid`). Deliberately not named `sessionId`: Colyseus would take that as
   * the connection's id, and a seat reserved for a connection id that others can learn (presences
   * show session ids) could be taken by whoever connects with it first. Colyseus now gives every
   * seat a fresh random id.
   */
  sid: string;
};

/** Nakama's realtime error codes (the `code` of an `error` message). */
export const RealtimeCode = {
  RUNTIME_EXCEPTION: 0,
  UNRECOGNIZED_PAYLOAD: 1,
  MISSING_PAYLOAD: 2,
  BAD_INPUT: 3,
  MATCH_NOT_FOUND: 4,
  MATCH_JOIN_REJECTED: 5,
  RUNTIME_FUNCTION_NOT_FOUND: 6,
  RUNTIME_FUNCTION_EXCEPTION: 7,
} as const;
export type RealtimeCode = (typeof RealtimeCode)[keyof typeof RealtimeCode];

/** An error with an explicit realtime code (the gRPC code still travels as `status`). */
export class RealtimeError extends AppError {
  constructor(
    readonly realtimeCode: RealtimeCode,
    code: Code,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
  }
}

/** The `error` message rooms send: Nakama's realtime `Error` shape plus the gRPC status. */
export interface ErrorMessage {
  /** Nakama realtime code (`RealtimeCode`). */
  code: number;
  message: string;
  /** The gRPC status code, as on HTTP. */
  status: number;
  /** The message type that failed, when there was one. */
  type?: string;
}

/** The realtime code for an error: explicit, BAD_INPUT for invalid input, else RUNTIME_EXCEPTION. */
function realtimeCodeOf(e: AppError | undefined): number {
  if (e instanceof RealtimeError) return e.realtimeCode;
  return e?.code === Code.INVALID_ARGUMENT ? RealtimeCode.BAD_INPUT : RealtimeCode.RUNTIME_EXCEPTION;
}

/** Close code for a session that is no longer valid. */
export const CLOSE_SESSION_INVALID = 4401;

/** Verifies a join: called by Colyseus before a seat is reserved. */
export function authenticateJoin(deps: RoomDeps, token: string | undefined): ClientAuth {
  if (!token) throw new ServerError(401, 'Auth token required');
  try {
    const { token: _token, sessionId, ...rest } = deps.verifier.verifyToken(token);
    return { ...rest, sid: sessionId };
  } catch (err) {
    throw new ServerError(401, err instanceof AppError ? err.message : 'Auth token invalid');
  }
}

type RoomClass = (abstract new (...args: never[]) => TavernRoom) & {
  /**
   * Lets a room check a join and copy trusted facts into its create/join options (they reach
   * `onCreate` and `onJoin`). Throwing refuses the join before any room is created.
   */
  prepareOptions?: (options: Record<string, unknown>, auth: ClientAuth, deps: RoomDeps) => void | Promise<void>;
};

/**
 * Returns a subclass of `K` that carries `deps` and authenticates joins with them. Colyseus calls
 * the static `onAuth` unbound, so it closes over `deps` instead of reading `this`.
 */
export function bindRoom<K extends RoomClass>(K: K, deps: RoomDeps): K {
  const Base = K as unknown as new () => TavernRoom;
  class Bound extends Base {
    static deps = deps;
    static onAuth = async (token: string, options: unknown, _context: AuthContext) => {
      const auth = authenticateJoin(deps, token);
      if (K.prepareOptions) {
        if (typeof options !== 'object' || options === null) throw new ServerError(400, 'Join options must be an object.');
        try {
          await K.prepareOptions(options as Record<string, unknown>, auth, deps);
        } catch (err) {
          if (err instanceof ServerError) throw err;
          if (err instanceof AppError) throw new ServerError(httpStatusOf(err.code), err.message);
          if (err instanceof ZodError) throw new ServerError(400, firstIssue(err));
          deps.log.error({ err, room: K.name }, 'join check failed');
          throw new ServerError(500, 'Internal server error.');
        }
      }
      return auth;
    };
  }
  return Bound as unknown as K;
}

export abstract class TavernRoom extends Room {
  /** Set by `bindRoom`. */
  static deps: RoomDeps | undefined;

  /** Colyseus calls a static `onAuth` unbound; `bindRoom` replaces this one with a bound closure. */
  static override onAuth = (_token: string, _options: unknown, _context: AuthContext): Promise<unknown> => {
    throw new ServerError(500, 'room class used without bindRoom()');
  };

  protected get deps(): RoomDeps {
    const deps = (this.constructor as typeof TavernRoom).deps;
    if (!deps) throw new Error(`${this.constructor.name} used without bindRoom()`);
    return deps;
  }

  private _log?: Logger;
  protected get log(): Logger {
    return (this._log ??= this.deps.log.child({ room: this.roomName, roomId: this.roomId }));
  }

  /**
   * Registers a message handler: the content is size-checked and validated, realtime hooks run
   * around it, and failures answer the sender with an `error` message.
   */
  protected handle<S extends z.ZodType>(type: string, schema: S, fn: (client: Client, message: z.output<S>) => unknown): void {
    this.installCatchAll();
    this.onMessage(type, (client: Client, raw: unknown) => this.dispatch(type, schema, fn, client, raw));
  }

  /**
   * Handles the messages of a table built once per room class (`messageTable`), like `handle` but
   * without a Colyseus listener and closures per message type in every room: one catch-all per
   * room looks the type up. For rooms that exist by the thousand (a session room per online user).
   */
  protected handleTable(table: MessageTable<this>): void {
    this.messageTable = table as MessageTable<TavernRoom>;
    this.installCatchAll();
  }

  private installCatchAll(): void {
    if (this.catchAllInstalled) return;
    this.catchAllInstalled = true;
    this.startFlowControl();
    // Colyseus closes the socket on a message type nobody handles; Nakama answers an error instead.
    this.onMessage('*', (client: Client, type: string | number, raw: unknown) => {
      const entry = typeof type === 'string' ? this.messageTable?.get(type) : undefined;
      if (entry) return this.dispatch(type as string, entry.schema, (c, m) => entry.fn(this, c, m as never), client, raw);
      if (!this.admit(client)) return;
      const body: ErrorMessage = {
        code: RealtimeCode.UNRECOGNIZED_PAYLOAD,
        message: `Unrecognized message type: ${String(type).slice(0, 64)}`,
        status: Code.INVALID_ARGUMENT,
      };
      client.send('error', body);
    });
  }
  private messageTable: MessageTable<TavernRoom> | undefined;
  private catchAllInstalled = false;
  private flowControl?: FlowControl;
  /** How often the room looks for clients that do not read their messages. */
  protected flowCheckIntervalMs = 1000;

  /** Checks every client's unsent data once a second; Colyseus's own message cap becomes a far backstop. */
  private startFlowControl(): void {
    const limits = this.deps.flow;
    this.flowControl = new FlowControl(limits);
    if (limits.messagesPerSecond > 0) this.maxMessagesPerSecond = Math.max(this.maxMessagesPerSecond, limits.messagesPerSecond * 10);
    if (limits.maxBufferedBytes > 0) {
      this.clock.setInterval(() => {
        for (const client of this.clients) {
          if (!this.flowControl!.overBuffered(client)) continue;
          this.log.warn({ sessionId: client.sessionId }, 'disconnecting a client that does not read its messages');
          client.leave(CLOSE_SLOW_READER, 'Too much unsent data: the client is not reading.');
        }
      }, this.flowCheckIntervalMs);
    }
  }

  /** Applies the message rate: false when the message must be ignored. */
  private admit(client: Client): boolean {
    const verdict = this.flowControl?.take(client) ?? 'ok';
    if (verdict === 'ok') return true;
    if (verdict === 'warn') {
      const body: ErrorMessage = {
        code: RealtimeCode.RUNTIME_EXCEPTION,
        message: 'Too many messages: slow down.',
        status: Code.RESOURCE_EXHAUSTED,
      };
      client.send('error', body);
    } else if (verdict === 'drop') {
      this.log.warn({ sessionId: client.sessionId }, 'disconnecting a flooding client');
      client.leave(CLOSE_FLOOD, 'Too many messages.');
    }
    return false;
  }

  private async dispatch<S extends z.ZodType>(
    type: string,
    schema: S,
    fn: (client: Client, message: z.output<S>) => unknown,
    client: Client,
    raw: unknown,
  ) {
    if (!this.admit(client)) return;
    try {
      const size = raw === undefined ? 0 : Buffer.byteLength(JSON.stringify(raw) ?? '', 'utf8');
      if (size > this.deps.messageLimitBytes) {
        throw new AppError(Code.INVALID_ARGUMENT, `Message too large: ${size} bytes, at most ${this.deps.messageLimitBytes}.`);
      }
      let message = validate(schema, raw);
      const ctx = this.hookContext(client, type);
      const before = this.deps.hooks.rtBefore(type);
      if (before) {
        const changed = await Promise.resolve(before(ctx, message)).catch((err: unknown) => {
          throw hookFailure(err);
        });
        if (changed === null || changed === undefined) {
          throw new RealtimeError(RealtimeCode.RUNTIME_FUNCTION_EXCEPTION, Code.PERMISSION_DENIED, 'Message rejected by the server.');
        }
        message = validate(schema, changed);
      }
      const result = await fn(client, message);
      const after = this.deps.hooks.rtAfter(type);
      if (after) {
        Promise.resolve()
          .then(() => after(ctx, result, message))
          .catch((err: unknown) => this.log.error({ err, type }, 'realtime after hook failed'));
      }
    } catch (err) {
      this.reply(client, type, err);
    }
  }

  /** The runtime context for a hook called on behalf of a client. */
  protected hookContext(client: Client, operation: string): HookContext {
    const auth = client.auth as ClientAuth;
    return Object.freeze({
      operation,
      userId: auth.userId,
      username: auth.username,
      vars: auth.vars,
      sessionId: auth.sid,
      expiry: auth.expiresAt,
    });
  }

  /** Sends an `error` message for a failure, logging what is not the client's fault. */
  protected reply(client: Client, type: string | undefined, err: unknown): void {
    const e = err instanceof AppError ? err : undefined;
    if (!e || !e.expected) {
      this.deps.metrics.roomErrors.inc({ room: this.roomName, method: type ?? 'unknown' });
      this.log.error({ err, type }, 'room handler failed');
    }
    const body: ErrorMessage = {
      code: realtimeCodeOf(e),
      message: e?.message ?? 'Internal server error.',
      status: e?.code ?? Code.INTERNAL,
      ...(type !== undefined ? { type } : {}),
    };
    client.send('error', body);
  }

  /** Any exception Colyseus caught in a handler, lifecycle method or timer: logged, answered, survived. */
  override onUncaughtException(error: RoomException, methodName: RoomMethodName): void {
    this.deps.metrics.roomErrors.inc({ room: this.roomName, method: methodName });
    this.log.error({ err: error.cause ?? error, method: methodName }, 'uncaught room exception');
    const client = (error as { client?: Client }).client;
    if (client) {
      try {
        const body: ErrorMessage = { code: RealtimeCode.RUNTIME_EXCEPTION, message: 'Internal server error.', status: Code.INTERNAL };
        const type = (error as { type?: unknown }).type;
        client.send('error', typeof type === 'string' ? { ...body, type } : body);
      } catch {
        // The client may be gone.
      }
    }
  }

  /**
   * Drain: the room leaves the listings at once (matchmaking and `GET /v2/match` stop offering it;
   * Colyseus has already locked it), its clients hear `server_shutdown`, then `closeForShutdown`
   * ends it — at once by default; an authoritative match runs its terminate handler first.
   */
  override onBeforeShutdown(): void {
    void Promise.resolve(matchMaker.driver.remove(this.roomId)).catch((err: unknown) =>
      this.log.warn({ err }, 'unlisting a draining room failed'),
    );
    const notice: ShutdownMessage = { grace_seconds: this.deps.shutdownGraceSec };
    this.broadcast('server_shutdown', notice);
    this.closeForShutdown();
  }

  /** How the room ends when its process drains. */
  protected closeForShutdown(): void {
    super.onBeforeShutdown();
  }

  override onDrop(client: Client): void {
    if (this.deps.reconnectWindowSec <= 0) return;
    // The returned promise rejects when the window passes, when the client dropped before it
    // finished joining ("not joined") and when the room is closing ("disposing", e.g. on server
    // shutdown). None of these is an error, and left unhandled it would end the process.
    this.allowReconnection(client, this.deps.reconnectWindowSec).catch(() => undefined);
  }

  /** Reconnections skip `onAuth`: the stored claims must still be valid (not expired, not revoked). */
  override onReconnect(client: Client): void {
    const auth = client.auth as ClientAuth;
    if (!this.deps.verifier.stillValid(auth.claims)) {
      this.log.info({ userId: auth.userId }, 'reconnection refused: session no longer valid');
      client.leave(CLOSE_SESSION_INVALID, 'Auth token invalid');
    }
  }
}

/** A realtime before hook threw: the sender gets RUNTIME_FUNCTION_EXCEPTION with the hook's message when it is safe to show. */
export function hookFailure(err: unknown): RealtimeError {
  if (err instanceof AppError) return new RealtimeError(RealtimeCode.RUNTIME_FUNCTION_EXCEPTION, err.code, err.message, { cause: err });
  return new RealtimeError(RealtimeCode.RUNTIME_FUNCTION_EXCEPTION, Code.INTERNAL, 'Message rejected by the server.', { cause: err });
}

function validate<S extends z.ZodType>(schema: S, raw: unknown): z.output<S> {
  const parsed = schema.safeParse(raw);
  if (!parsed.success) throw new AppError(Code.INVALID_ARGUMENT, firstIssue(parsed.error));
  return parsed.data;
}
