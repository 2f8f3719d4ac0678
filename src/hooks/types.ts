/**
 * The types a designer's module sees, named as in Nakama's TypeScript runtime (`nkruntime`) so
 * Nakama code ports with little change. Exported to modules through the `tavern` entry point.
 */
import type { StateView } from '@colyseus/schema';
import type { Logger as PinoLogger } from 'pino';
import type { Nakama } from './nk.js';
import type { NakamaOperation, RealtimeMessage } from './operations.js';
import type { RequestOf, ResponseOf } from './wire-types.js';

/** Where the code runs. */
export type ExecutionMode =
  | 'event'
  | 'rpc'
  | 'before'
  | 'after'
  | 'match'
  | 'matchmaker'
  | 'leaderboard_reset'
  | 'tournament_reset'
  | 'tournament_end'
  | 'shutdown'
  | 'init';

/** Nakama's runtime context; frozen. Fields a call does not have are absent. */
export interface Context {
  readonly env: Readonly<Record<string, string>>;
  readonly executionMode: ExecutionMode;
  readonly node: string;
  readonly version: string;
  readonly headers?: Readonly<Record<string, string[]>>;
  readonly queryParams?: Readonly<Record<string, string[]>>;
  readonly userId?: string;
  readonly username?: string;
  readonly vars?: Readonly<Record<string, string>>;
  /** Session expiry, seconds since the epoch. */
  readonly userSessionExp?: number;
  readonly sessionId?: string;
  readonly clientIp?: string;
  readonly clientPort?: string;
  readonly lang?: string;
  readonly matchId?: string;
  readonly matchNode?: string;
  readonly matchLabel?: string;
  readonly matchTickRate?: number;
}

/** A module's logger (a pino child named after the module). */
export type Logger = PinoLogger;

/** An error designer code may throw: `code` is a gRPC status code, mapped to HTTP as everywhere. */
export interface RuntimeError {
  message: string;
  code: number;
}

/** An RPC: gets the payload string, returns a string (or nothing). */
export type RpcFunction = (
  ctx: Context,
  logger: Logger,
  nk: Nakama,
  payload: string,
) => string | void | null | undefined | Promise<string | void | null | undefined>;

/** Before hook: return the request (changed or not) to go on, or null/undefined to reject. */
export type BeforeHookFunction<Req = unknown> = (
  ctx: Context,
  logger: Logger,
  nk: Nakama,
  request: Req,
) => Req | null | undefined | void | Promise<Req | null | undefined | void>;

/** After hook: sees the response and the request; runs after the response was sent. */
export type AfterHookFunction<Res = unknown, Req = unknown> = (
  ctx: Context,
  logger: Logger,
  nk: Nakama,
  response: Res,
  request: Req,
) => void | Promise<void>;

/** Realtime hooks get the message envelope (the validated message). */
export type RtBeforeHookFunction = (
  ctx: Context,
  logger: Logger,
  nk: Nakama,
  envelope: Record<string, unknown>,
) => Record<string, unknown> | null | undefined | void | Promise<Record<string, unknown> | null | undefined | void>;
export type RtAfterHookFunction = (
  ctx: Context,
  logger: Logger,
  nk: Nakama,
  output: unknown,
  input: Record<string, unknown>,
) => void | Promise<void>;

/** A connected user in a match. */
export interface Presence {
  userId: string;
  sessionId: string;
  username: string;
  node: string;
}

/** A message received by a match since the last tick. */
export interface MatchMessage {
  sender: Presence;
  opCode: number;
  data: Uint8Array;
  reliable: boolean;
  receiveTimeMs: number;
}

/** What a match handler can do to its match. */
export interface MatchDispatcher {
  broadcastMessage(
    opCode: number,
    data?: string | Uint8Array | null,
    presences?: Presence[] | null,
    sender?: Presence | null,
    reliable?: boolean,
  ): void;
  broadcastMessageDeferred(
    opCode: number,
    data?: string | Uint8Array | null,
    presences?: Presence[] | null,
    sender?: Presence | null,
    reliable?: boolean,
  ): void;
  matchKick(presences: Presence[]): void;
  matchLabelUpdate(label: string): void;
  /**
   * Beyond Nakama: when `matchInit` returned a @colyseus/schema state, a member's `StateView`
   * (`view.add(obj)` shows that member the `.view()` fields of `obj`); undefined otherwise.
   */
  view(presence: Presence): StateView | undefined;
}

/** A value, or a promise of it. */
export type MaybePromise<T> = T | Promise<T>;

/**
 * Nakama's authoritative match handler interface. `S` is the match state. Unlike Nakama's runtimes,
 * functions may return promises (`nk` is asynchronous here); a match runs them one at a time.
 */
export interface MatchHandler<S = unknown> {
  matchInit(
    ctx: Context,
    logger: Logger,
    nk: Nakama,
    params: Record<string, unknown>,
  ): MaybePromise<{ state: S; tickRate: number; label: string }>;
  matchJoinAttempt(
    ctx: Context,
    logger: Logger,
    nk: Nakama,
    dispatcher: MatchDispatcher,
    tick: number,
    state: S,
    presence: Presence,
    metadata: Record<string, unknown>,
  ): MaybePromise<{ state: S; accept: boolean; rejectMessage?: string } | null>;
  matchJoin(
    ctx: Context,
    logger: Logger,
    nk: Nakama,
    dispatcher: MatchDispatcher,
    tick: number,
    state: S,
    presences: Presence[],
  ): MaybePromise<{ state: S } | null>;
  matchLeave(
    ctx: Context,
    logger: Logger,
    nk: Nakama,
    dispatcher: MatchDispatcher,
    tick: number,
    state: S,
    presences: Presence[],
  ): MaybePromise<{ state: S } | null>;
  matchLoop(
    ctx: Context,
    logger: Logger,
    nk: Nakama,
    dispatcher: MatchDispatcher,
    tick: number,
    state: S,
    messages: MatchMessage[],
  ): MaybePromise<{ state: S } | null>;
  matchTerminate(
    ctx: Context,
    logger: Logger,
    nk: Nakama,
    dispatcher: MatchDispatcher,
    tick: number,
    state: S,
    graceSeconds: number,
  ): MaybePromise<{ state: S } | null>;
  matchSignal(
    ctx: Context,
    logger: Logger,
    nk: Nakama,
    dispatcher: MatchDispatcher,
    tick: number,
    state: S,
    data: string,
  ): MaybePromise<{ state: S; data?: string } | null>;
}

/** A matched user as the matchmaker reports it. */
export interface MatchmakerResult {
  presence: Presence;
  properties: Record<string, string | number>;
  partyId?: string;
}

/** Returns a match id to seat the matched users in, or nothing for a relayed match. */
export type MatchmakerMatchedFunction = (
  ctx: Context,
  logger: Logger,
  nk: Nakama,
  matches: MatchmakerResult[],
) => string | void | Promise<string | void>;

/** Leaderboard and tournament period hooks (M1.3 calls them). */
export type LeaderboardResetFunction = (
  ctx: Context,
  logger: Logger,
  nk: Nakama,
  leaderboard: Record<string, unknown>,
  reset: number,
) => void | Promise<void>;
export type TournamentResetFunction = (
  ctx: Context,
  logger: Logger,
  nk: Nakama,
  tournament: Record<string, unknown>,
  end: number,
  reset: number,
) => void | Promise<void>;
export type TournamentEndFunction = TournamentResetFunction;
export type ShutdownFunction = (ctx: Context, logger: Logger, nk: Nakama) => void | Promise<void>;

/** Options of a designer room type (Colyseus's, passed through). */
export interface RoomTypeOptions {
  /** Join options that must match for `join`/`joinOrCreate` to pick a room (Colyseus `filterBy`). */
  filterBy?: string[];
  /** Which room `join`/`joinOrCreate` picks first (Colyseus `sortBy`: `clients`, `createdAt` or a metadata field). */
  sortBy?: Record<string, 1 | -1 | 'asc' | 'desc' | 'ascending' | 'descending'>;
  /** Options every new room of this type gets (merged under the client's). */
  defaults?: Record<string, unknown>;
}

/** A designer room class: a subclass of `tavern`'s `GameRoom`. */
export type RoomClass = abstract new (...args: never[]) => object;

/** Registration functions handed to `InitModule`. */
export interface Initializer {
  registerRpc(id: string, fn: RpcFunction): void;
  registerBefore<N extends OperationName>(operation: N, fn: BeforeHookFunction<RequestOf<Canonical<N>>>): void;
  registerAfter<N extends OperationName>(operation: N, fn: AfterHookFunction<ResponseOf<Canonical<N>>, RequestOf<Canonical<N>>>): void;
  registerRtBefore(message: RealtimeMessage | PascalRealtime, fn: RtBeforeHookFunction): void;
  registerRtAfter(message: RealtimeMessage | PascalRealtime, fn: RtAfterHookFunction): void;
  registerMatch<S>(name: string, handler: MatchHandler<S>): void;
  registerMatchmakerMatched(fn: MatchmakerMatchedFunction): void;
  /** A Colyseus room type written in this module (`RoomClass` extends `GameRoom`), matchmade by name. */
  registerRoom(name: string, roomClass: RoomClass, options?: RoomTypeOptions): void;
  registerLeaderboardReset(fn: LeaderboardResetFunction): void;
  registerTournamentReset(fn: TournamentResetFunction): void;
  registerTournamentEnd(fn: TournamentEndFunction): void;
  registerShutdown(fn: ShutdownFunction): void;
}

/** An operation name as Nakama spells it or in lower case. */
export type OperationName = NakamaOperation | Lowercase<NakamaOperation>;
/** The canonical spelling of an operation name. */
export type Canonical<N extends string> = { [K in NakamaOperation]: N extends K | Lowercase<K> ? K : never }[NakamaOperation];

/** `channel_message_send` → `ChannelMessageSend`. */
type Pascal<S extends string> = S extends `${infer H}_${infer T}` ? `${Capitalize<H>}${Pascal<T>}` : Capitalize<S>;
export type PascalRealtime = Pascal<RealtimeMessage>;

/** A module's entry point. */
export type InitModule = (ctx: Context, logger: Logger, nk: Nakama, initializer: Initializer) => void | Promise<void>;

// Request and response types of the operations Tavern serves (wire shape, snake_case).
export type * from './wire-types.js';
