/**
 * The `match` room: one room per match, its room id the match id. A client's `create('match')`
 * starts a relayed match (the room relays `match_data_send` between members); `nk.matchCreate`
 * starts an authoritative one running a registered handler. Either way the room only adapts:
 * the relayed match and the match runner in src/actors hold the logic; this class joins clients
 * (asking the handler first), delivers what the actors send, keeps the listing metadata, and
 * hands the match's `matchTerminate` its grace period on shutdown.
 */
import { CloseCode, ServerError, type Client, type RoomException, type RoomMethodName } from '@colyseus/core';
import type { Logger } from 'pino';
import { z } from 'zod';
import { MatchRunner, type MatchEndReason } from '../actors/match-runner.actor.js';
import type { MatchSend } from '../actors/match-members.js';
import { RelayedMatch } from '../actors/relayed-match.actor.js';
import { AppError, Code, notFound } from '../errors.js';
import type { RuntimeInfo } from '../hooks/context.js';
import type { Nakama } from '../hooks/nk.js';
import type { Registered } from '../hooks/registry.js';
import type { MatchHandler, Presence } from '../hooks/types.js';
import * as v from '../services/validation.js';
import { RealtimeCode, RealtimeError, TavernRoom, type ClientAuth } from './base.room.js';
import { MATCHMAKER_MATCH } from './match-seats.js';

/** The create option that starts an authoritative match. Only the server sets it: client options lose it. */
export const AUTHORITATIVE_MATCH = '__tavern_authoritative_match';

/** What `nk.matchCreate` passes to the room. */
export interface AuthoritativeSpec {
  handler: string;
  params: Record<string, unknown>;
}

/** What the match room needs beyond `RoomDeps`. */
export interface MatchRoomDeps {
  /** The handler registered under a name in the registry in force now. */
  handler(name: string): Registered<MatchHandler> | undefined;
  nk: Nakama;
  info: RuntimeInfo;
  /** The runtime's logger: handlers get a child named after their module. */
  log: Logger;
  /** Grace period `matchTerminate` gets when the process stops. */
  shutdownGraceSec: number;
  /** Messages a match queues between two ticks (Nakama's input queue). */
  inputQueueSize: number;
}

/** The listing metadata of a match room. */
export interface MatchMetadata {
  authoritative: boolean;
  label: string;
  size: number;
  tickRate: number;
  handlerName: string;
}

/** What `matchSignal` answers through `matchMaker.remoteRoomCall` (JSON-safe for Presence IPC). */
export type SignalReply = { data: string } | { error: { code: number; message: string } };

/** `match_data_send`: `data` is base64 (as in Nakama's JSON); `presences` are session ids or presences. */
export const MatchDataSend = z.object({
  match_id: z.string().max(128).optional(),
  op_code: v.opCode,
  data: v.base64Data.optional(),
  presences: z
    .array(z.union([z.string().min(1).max(128), z.looseObject({ session_id: z.string().min(1).max(128) }).transform((p) => p.session_id)]))
    .max(1024)
    .optional(),
  reliable: z.boolean().optional(),
});

export const MatchLeave = z.looseObject({ match_id: z.string().max(128).optional() }).optional();

const JoinMetadata = z.record(z.string(), z.unknown());

export class MatchRoom extends TavernRoom {
  /** Set by `matchRoom(deps)`. */
  static matchDeps: MatchRoomDeps | undefined;
  // Presences change rarely and authoritative matches patch at the end of each tick: no 50 ms timer.
  override patchRate = null;
  private actor: RelayedMatch | MatchRunner | undefined;
  /** Members' clients by session id (after a reconnection, the new client). */
  private readonly members = new Map<string, Client>();
  private meta: MatchMetadata = { authoritative: false, label: '', size: 0, tickRate: 0, handlerName: '' };

  /** Authoritative matches are started by the server only (`nk.matchCreate`). */
  static prepareOptions(options: Record<string, unknown>): void {
    delete options[AUTHORITATIVE_MATCH];
    delete options[MATCHMAKER_MATCH];
  }

  private get matchDeps(): MatchRoomDeps {
    const deps = (this.constructor as typeof MatchRoom).matchDeps;
    if (!deps) throw new Error('MatchRoom used without matchRoom(deps)');
    return deps;
  }

  override async onCreate(options: Record<string, unknown> | undefined): Promise<void> {
    // Private: `join`/`joinOrCreate` never pick a match at random; `joinById` and listings still see it.
    void this.setPrivate(true);
    const preset = options?.[MATCHMAKER_MATCH];
    if (typeof preset === 'string') this.roomId = preset;
    const spec = options?.[AUTHORITATIVE_MATCH] as AuthoritativeSpec | undefined;
    if (spec) await this.startAuthoritative(spec);
    else {
      const relayed = new RelayedMatch(this.roomId, { send: this.sendTo });
      this.actor = relayed;
      this.state = relayed.state;
    }
    this.publish({});
    this.handle('match_data_send', MatchDataSend, (client, message) => this.data(client, message));
    this.handle('match_leave', MatchLeave, (client) => client.leave(CloseCode.CONSENTED));
  }

  private async startAuthoritative(spec: AuthoritativeSpec): Promise<void> {
    const deps = this.matchDeps;
    const registered = deps.handler(spec.handler);
    if (!registered) throw new ServerError(Code.NOT_FOUND, `Match handler "${spec.handler}" not found.`);
    const runner = new MatchRunner(
      {
        matchId: this.roomId,
        handlerName: spec.handler,
        handler: registered.fn,
        logger: deps.log.child({ module: registered.module, matchId: this.roomId }),
        log: this.log.child({ module: registered.module }),
        nk: deps.nk,
        info: deps.info,
        inputQueueSize: deps.inputQueueSize,
      },
      {
        timers: nodeTimers,
        send: this.sendTo,
        kick: (ids) => {
          for (const id of ids) this.members.get(id)?.leave(CloseCode.CONSENTED, 'Kicked from the match.');
        },
        labelChanged: (label) => this.publish({ label }),
        patch: () => this.broadcastPatch(),
        ended: (reason) => this.end(reason),
      },
    );
    try {
      await runner.init(spec.params ?? {});
    } catch (err) {
      // Logged here once, then handed to `nk.matchCreate` as a ServerError (which Colyseus does not print again).
      const e = err instanceof AppError ? err : new AppError(Code.INTERNAL, 'Match could not be started.', { cause: err });
      if (e.expected) this.log.warn({ handler: spec.handler, reason: e.message }, 'match not started');
      else this.log.error({ err: e.cause ?? e, handler: spec.handler }, 'match not started');
      throw new ServerError(e.code, e.message);
    }
    this.actor = runner;
    this.autoDispose = false;
    this.state = runner.state;
    this.meta = { ...this.meta, authoritative: true, label: runner.label, tickRate: runner.rate, handlerName: spec.handler };
  }

  /** Delivers to members by session id, or to all of them but `except`. */
  private readonly sendTo: MatchSend = (type, message, { to, except }) => {
    if (to) for (const id of to) this.members.get(id)?.send(type, message);
    else for (const [id, client] of this.members) if (id !== except) client.send(type, message);
  };

  /** Updates the listing metadata (label, size). */
  private publish(change: Partial<MatchMetadata>): void {
    this.meta = { ...this.meta, ...change };
    this.setMetadata(this.meta).catch((err: unknown) => this.log.error({ err }, 'match listing update failed'));
  }

  private end(reason: MatchEndReason): void {
    if (reason === 'handler_error') this.deps.metrics.roomErrors.inc({ room: this.roomName, method: 'match_handler' });
    const code =
      reason === 'handler_error' ? CloseCode.WITH_ERROR : reason === 'terminated' ? CloseCode.SERVER_SHUTDOWN : CloseCode.CONSENTED;
    try {
      this.disconnect(code).catch((err: unknown) => this.log.error({ err }, 'closing an ended match failed'));
    } catch (err) {
      this.log.error({ err }, 'closing an ended match failed');
    }
  }

  override async onJoin(client: Client, options: unknown): Promise<void> {
    const actor = this.actor;
    if (!actor) throw new ServerError(RealtimeCode.MATCH_NOT_FOUND, 'Match not found.');
    const auth = client.auth as ClientAuth;
    const sessionId = client.sessionId;
    const already = () => new ServerError(RealtimeCode.MATCH_JOIN_REJECTED, 'This session is already in the match.');
    if (this.members.has(sessionId)) throw already();
    const presence: Presence = { userId: auth.userId, sessionId, username: auth.username, node: this.matchDeps.info.node };
    if (actor instanceof MatchRunner) {
      const parsed = JoinMetadata.safeParse((options as { metadata?: unknown } | undefined)?.metadata ?? {});
      const attempt = await actor.joinAttempt(presence, parsed.success ? parsed.data : {}, this.hookContext(client, 'match_join'));
      if (!attempt.accept) {
        const code = actor.running ? RealtimeCode.MATCH_JOIN_REJECTED : RealtimeCode.MATCH_NOT_FOUND;
        throw new ServerError(code, attempt.reason ?? 'Match join rejected.');
      }
      if (this.members.has(sessionId)) throw already();
    }
    // A member from here on: if the client drops before `onJoin` ends, Colyseus calls `onLeave` for it.
    this.members.set(sessionId, client);
    if (actor instanceof MatchRunner) {
      await actor.join(presence, (m) => client.send('match', m));
      const view = actor.viewOf(sessionId);
      if (view) client.view = view;
    } else {
      actor.join(presence, (m) => client.send('match', m));
      this.broadcastPatch();
    }
    this.publish({ size: actor.size });
    this.log.debug({ userId: auth.userId, sessionId }, 'match joined');
  }

  /** A reconnected member continues with a new client object. */
  override onReconnect(client: Client): void {
    super.onReconnect(client);
    if (this.members.has(client.sessionId)) this.members.set(client.sessionId, client);
  }

  /** Leaving for good (a drop that was not followed by a reconnection in time, a kick, a consented leave). */
  override async onLeave(client: Client): Promise<void> {
    if (this.members.get(client.sessionId) !== client) return;
    this.members.delete(client.sessionId);
    const actor = this.actor;
    if (!actor) return;
    if (actor instanceof MatchRunner) {
      await actor.leave(client.sessionId);
      if (actor.running) this.publish({ size: actor.size });
    } else {
      actor.leave(client.sessionId);
      this.broadcastPatch();
      if (this.members.size > 0) this.publish({ size: actor.size });
    }
  }

  private data(client: Client, m: z.output<typeof MatchDataSend>): void {
    if (m.match_id !== undefined && m.match_id !== this.roomId)
      throw new RealtimeError(RealtimeCode.MATCH_NOT_FOUND, Code.NOT_FOUND, 'Match not found.');
    const actor = this.actor;
    if (!actor || !this.members.has(client.sessionId)) return;
    if (actor instanceof MatchRunner) actor.receive(client.sessionId, m.op_code, m.data, m.reliable ?? true);
    else actor.data(client.sessionId, { op_code: m.op_code, data: m.data, presences: m.presences, reliable: m.reliable });
  }

  /**
   * `nk.matchSignal`, reached through `matchMaker.remoteRoomCall` (in this process, or another
   * one over Presence IPC), so the reply is plain JSON.
   */
  async matchSignal(data: string): Promise<SignalReply> {
    try {
      if (!(this.actor instanceof MatchRunner)) throw notFound('Match not found.');
      return { data: await this.actor.signal(String(data)) };
    } catch (err) {
      if (err instanceof AppError) return { error: { code: err.code, message: err.message } };
      this.log.error({ err }, 'match signal failed');
      return { error: { code: Code.INTERNAL, message: 'Match signal failed.' } };
    }
  }

  /** Shutdown: an authoritative match gets `matchTerminate` and its grace period; a relayed one closes now. */
  protected override closeForShutdown(): void {
    if (this.actor instanceof MatchRunner && this.actor.running) {
      // The runner handles its handler's failures; the match ends (and the room closes) when the grace period is over.
      this.actor.terminate(this.matchDeps.shutdownGraceSec).catch((err: unknown) => this.log.error({ err }, 'match terminate failed'));
    } else super.closeForShutdown();
  }

  /** Refused joins and creations are ServerErrors this room raised on purpose: already answered, not failures. */
  override onUncaughtException(error: RoomException, methodName: RoomMethodName): void {
    const cause = (error as { cause?: unknown }).cause ?? error;
    if ((methodName === 'onJoin' || methodName === 'onCreate') && cause instanceof ServerError) {
      this.log.debug({ method: methodName, code: cause.code, reason: cause.message }, 'match join or creation refused');
      return;
    }
    super.onUncaughtException(error, methodName);
  }

  override onDispose(): void {
    if (this.actor instanceof MatchRunner) this.actor.stop();
  }
}

/** Node's timers for the runner (a fake clock replaces them in unit tests). */
const nodeTimers = {
  now: () => Date.now(),
  every(ms: number, fn: () => void) {
    const t = setInterval(fn, ms);
    return () => clearInterval(t);
  },
  after(ms: number, fn: () => void) {
    const t = setTimeout(fn, ms);
    return () => clearTimeout(t);
  },
};

/** The match room class carrying its dependencies (then bound with `bindRoom`). */
export function matchRoom(deps: MatchRoomDeps): typeof MatchRoom {
  return class extends MatchRoom {
    static override matchDeps = deps;
  };
}
