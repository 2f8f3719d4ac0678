/**
 * What the API pipeline and rooms look up: before/after hooks per operation (case-insensitive:
 * `AuthenticateDevice`, `authenticatedevice`), realtime hooks per message (`channel_message_send`
 * or `ChannelMessageSend`), RPCs, and the handlers later features invoke. The designer runtime
 * fills one registry per load; a dev reload builds a new one and swaps it in whole.
 */
import type {
  LeaderboardResetFunction,
  MatchHandler,
  MatchmakerMatchedFunction,
  RoomClass,
  RoomTypeOptions,
  ShutdownFunction,
  TournamentEndFunction,
  TournamentResetFunction,
} from './types.js';

/** What a hook knows about the call it wraps. */
export interface HookContext {
  readonly operation: string;
  readonly userId?: string;
  readonly username?: string;
  readonly vars?: Readonly<Record<string, string>>;
  readonly sessionId?: string;
  readonly expiry?: number;
  readonly clientIp?: string;
  readonly clientPort?: string;
  readonly lang?: string;
  readonly headers?: Readonly<Record<string, string | string[] | undefined>>;
  readonly queryParams?: Readonly<Record<string, unknown>>;
}

/** Returns the (possibly changed) request, or null/undefined to reject it. */
export type BeforeHook = (ctx: HookContext, request: unknown) => unknown;
/** Runs after the response was sent; its errors are logged, never sent. */
export type AfterHook = (ctx: HookContext, response: unknown, request: unknown) => unknown;
/** An RPC as the transports call it: payload string in, payload string (or nothing) out. */
export type Rpc = (ctx: HookContext, payload: string) => Promise<string | undefined>;

/** The lookups the transports need; implemented by a registry and by the runtime that swaps them. */
export interface HookLookup {
  before(operation: string): BeforeHook | undefined;
  after(operation: string): AfterHook | undefined;
  rtBefore(message: string): BeforeHook | undefined;
  rtAfter(message: string): AfterHook | undefined;
  rpc(id: string): Rpc | undefined;
}

/** `ChannelMessageSend` and `channel_message_send` name the same realtime message. */
export function realtimeName(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();
}

/** A registered handler with the logger of the module that registered it. */
export interface Registered<F> {
  fn: F;
  module: string;
}

export class HookRegistry implements HookLookup {
  private readonly befores = new Map<string, BeforeHook>();
  private readonly afters = new Map<string, AfterHook>();
  private readonly rtBefores = new Map<string, BeforeHook>();
  private readonly rtAfters = new Map<string, AfterHook>();
  private readonly rpcs = new Map<string, Rpc>();
  readonly matches = new Map<string, Registered<MatchHandler>>();
  /** Designer room types by name. */
  readonly rooms = new Map<string, Registered<{ roomClass: RoomClass; options: RoomTypeOptions }>>();
  matchmakerMatched: Registered<MatchmakerMatchedFunction> | undefined;
  readonly leaderboardReset: Registered<LeaderboardResetFunction>[] = [];
  readonly tournamentReset: Registered<TournamentResetFunction>[] = [];
  readonly tournamentEnd: Registered<TournamentEndFunction>[] = [];
  readonly shutdown: Registered<ShutdownFunction>[] = [];

  registerBefore(operation: string, fn: BeforeHook): void {
    this.befores.set(operation.toLowerCase(), fn);
  }

  registerAfter(operation: string, fn: AfterHook): void {
    this.afters.set(operation.toLowerCase(), fn);
  }

  registerRtBefore(message: string, fn: BeforeHook): void {
    this.rtBefores.set(realtimeName(message), fn);
  }

  registerRtAfter(message: string, fn: AfterHook): void {
    this.rtAfters.set(realtimeName(message), fn);
  }

  /** RPC ids are case-insensitive, as in Nakama. */
  registerRpc(id: string, fn: Rpc): void {
    this.rpcs.set(id.toLowerCase(), fn);
  }

  before(operation: string): BeforeHook | undefined {
    return this.befores.get(operation.toLowerCase());
  }

  after(operation: string): AfterHook | undefined {
    return this.afters.get(operation.toLowerCase());
  }

  rtBefore(message: string): BeforeHook | undefined {
    return this.rtBefores.get(realtimeName(message));
  }

  rtAfter(message: string): AfterHook | undefined {
    return this.rtAfters.get(realtimeName(message));
  }

  rpc(id: string): Rpc | undefined {
    return this.rpcs.get(id.toLowerCase());
  }

  /** Counts for the startup log line. */
  summary(): Record<string, number> {
    return {
      rpcs: this.rpcs.size,
      before: this.befores.size,
      after: this.afters.size,
      rtBefore: this.rtBefores.size,
      rtAfter: this.rtAfters.size,
      matches: this.matches.size,
      rooms: this.rooms.size,
    };
  }
}
