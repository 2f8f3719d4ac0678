/**
 * An authoritative match: runs a designer's `MatchHandler` (Nakama's interface) — init, join
 * attempts, joins and leaves, a loop at the handler's tick rate over the messages received since
 * the last tick, signals, and termination with a grace period. Transport-free: it talks to the
 * world through `MatchRunnerPorts` (match-runner-ports.ts: timers, delivery, kicks, listing label,
 * state patches, end), so unit tests drive it with a fake clock.
 *
 * Handler functions may be synchronous or return promises (Tavern's `nk` is asynchronous). They
 * run one at a time, in order, through a mailbox, as Nakama runs a match on one goroutine; a tick
 * that comes while the previous loop still runs is skipped (and logged).
 *
 * The handler is the object the match started with: a dev reload of the modules never swaps it.
 * A handler that throws ends only its own match. When `matchInit` returns a @colyseus/schema
 * instance, that object is the room's synchronised state (the handler mutates it in place) and
 * `dispatcher.view(presence)` gives each member's `StateView`; otherwise the state stays private
 * and the room synchronises the presences only.
 */
import { Schema, StateView } from '@colyseus/schema';
import { AppError, Code, invalid, notFound } from '../errors.js';
import { buildContext } from '../hooks/context.js';
import type { HookContext } from '../hooks/registry.js';
import type { Context, MatchDispatcher, MatchMessage, Presence } from '../hooks/types.js';
import { MAX_TICK_RATE, MIN_TICK_RATE } from '../services/matches.js';
import { checkLabel, createDispatcher, type Outgoing } from './match-dispatcher.js';
import { MatchMembers, MatchState, type MatchMessage as JoinMessage } from './match-members.js';
import type { MatchEndReason, MatchRunnerOptions, MatchRunnerPorts } from './match-runner-ports.js';

export type { MatchEndReason, MatchRunnerOptions, MatchRunnerPorts, MatchTimers } from './match-runner-ports.js';

type Status = 'new' | 'running' | 'terminating' | 'ended';
/** What `call` returns when the handler threw (the match has ended). */
const FAILED = Symbol('failed');

export class MatchRunner {
  readonly authoritative = true;
  private status: Status = 'new';
  private handlerState: unknown;
  /** The room state: the handler's schema instance, or Tavern's presences-only state. */
  private roomState: Schema = new MatchState();
  private synced = false;
  private members!: MatchMembers;
  private readonly views = new Map<string, StateView>();
  private tickRate = 0;
  private currentLabel = '';
  private tickNumber = 0;
  private queue: MatchMessage[] = [];
  private dropped = 0;
  private deferred: Outgoing[] = [];
  private looping = false;
  private skippedTicks = 0;
  private mailbox: Promise<unknown> = Promise.resolve();
  private cancelTick: (() => void) | undefined;
  private cancelGrace: (() => void) | undefined;
  readonly dispatcher: MatchDispatcher;

  constructor(
    private readonly opts: MatchRunnerOptions,
    private readonly ports: MatchRunnerPorts,
  ) {
    this.dispatcher = createDispatcher({
      matchId: opts.matchId,
      isRunning: () => this.running,
      isMember: (sid) => this.members.has(sid),
      deliver: (o) => this.deliver(o),
      defer: (o) => this.deferred.length < (opts.deferredQueueSize ?? 128) && this.deferred.push(o) > 0,
      kick: (ids) => ports.kick(ids),
      relabel: (label) => {
        this.currentLabel = label;
        ports.labelChanged(label);
      },
      viewOf: (sid) => this.views.get(sid),
    });
  }

  get matchId(): string {
    return this.opts.matchId;
  }
  get label(): string {
    return this.currentLabel;
  }
  get rate(): number {
    return this.tickRate;
  }
  get tick(): number {
    return this.tickNumber;
  }
  get state(): Schema {
    return this.roomState;
  }
  /** Whether the handler's state is the synchronised room state. */
  get schemaState(): boolean {
    return this.synced;
  }
  get size(): number {
    return this.members?.size ?? 0;
  }
  get running(): boolean {
    return this.status === 'running' || this.status === 'terminating';
  }

  has(sessionId: string): boolean {
    return this.members?.has(sessionId) ?? false;
  }

  /** A member's view of a schema state (undefined when the state is private or the member unknown). */
  viewOf(sessionId: string): StateView | undefined {
    return this.views.get(sessionId);
  }

  /** Runs `matchInit` and starts ticking. Throws (and starts nothing) when the handler fails or answers badly. */
  async init(params: Record<string, unknown>): Promise<void> {
    if (this.status !== 'new') throw new Error('match already started');
    let init: { state?: unknown; tickRate?: unknown; label?: unknown } | null | undefined;
    try {
      init = (await this.opts.handler.matchInit(this.context(), this.opts.logger, this.opts.nk, params)) as typeof init;
    } catch (err) {
      if (err instanceof AppError) throw err;
      throw new AppError(Code.INTERNAL, `matchInit of "${this.opts.handlerName}" failed: ${(err as Error)?.message ?? String(err)}`, {
        cause: err,
      });
    }
    if (typeof init !== 'object' || init === null || init.state === null || init.state === undefined) {
      throw invalid(`matchInit of "${this.opts.handlerName}" must return { state, tickRate, label } with a state.`);
    }
    const rate = init.tickRate;
    if (typeof rate !== 'number' || !Number.isInteger(rate) || rate < MIN_TICK_RATE || rate > MAX_TICK_RATE) {
      throw invalid(
        `matchInit of "${this.opts.handlerName}": tick rate must be an integer from ${MIN_TICK_RATE} to ${MAX_TICK_RATE}, got ${String(rate)}.`,
      );
    }
    this.currentLabel = checkLabel(init.label ?? '');
    this.tickRate = rate;
    this.handlerState = init.state;
    this.synced = init.state instanceof Schema;
    if (this.synced) this.roomState = init.state as Schema;
    this.members = new MatchMembers(this.opts.matchId, this.ports.send, this.synced ? undefined : (this.roomState as MatchState).presences);
    this.status = 'running';
    this.cancelTick = this.ports.timers.every(1000 / rate, () => this.onTick());
  }

  /** Asks the handler whether `presence` may join. A handler that throws or ends the match refuses. */
  joinAttempt(presence: Presence, metadata: Record<string, unknown>, call?: HookContext): Promise<{ accept: boolean; reason?: string }> {
    return this.enqueue(async () => {
      if (!this.running) return { accept: false, reason: 'Match not found.' };
      const r = await this.call('matchJoinAttempt', call, (ctx) =>
        this.opts.handler.matchJoinAttempt(
          ctx,
          this.opts.logger,
          this.opts.nk,
          this.dispatcher,
          this.tickNumber,
          this.handlerState,
          presence,
          metadata,
        ),
      );
      if (!this.accept('matchJoinAttempt', r)) return { accept: false, reason: 'Match not found.' };
      this.ports.patch();
      const { accept, rejectMessage } = r as { accept?: unknown; rejectMessage?: unknown };
      if (accept === true) return { accept: true };
      return { accept: false, reason: typeof rejectMessage === 'string' && rejectMessage !== '' ? rejectMessage : 'Match join rejected.' };
    });
  }

  /** Adds an accepted member: `welcome` gets its `match` message, the others a presence event, then `matchJoin` runs. */
  join(presence: Presence, welcome: (m: JoinMessage) => void): Promise<void> {
    return this.enqueue(async () => {
      if (!this.running) return;
      this.members.add(presence);
      if (this.synced) this.views.set(presence.sessionId, new StateView());
      welcome(this.members.matchMessage(presence, true, this.currentLabel));
      const r = await this.call('matchJoin', undefined, (ctx) =>
        this.opts.handler.matchJoin(ctx, this.opts.logger, this.opts.nk, this.dispatcher, this.tickNumber, this.handlerState, [presence]),
      );
      if (this.accept('matchJoin', r)) this.ports.patch();
    });
  }

  /** Removes a member and runs `matchLeave`. */
  leave(sessionId: string): Promise<void> {
    return this.enqueue(async () => {
      if (!this.running) return;
      const presence = this.members.remove(sessionId);
      if (!presence) return;
      this.views.get(sessionId)?.dispose();
      this.views.delete(sessionId);
      const r = await this.call('matchLeave', undefined, (ctx) =>
        this.opts.handler.matchLeave(ctx, this.opts.logger, this.opts.nk, this.dispatcher, this.tickNumber, this.handlerState, [presence]),
      );
      if (this.accept('matchLeave', r)) this.ports.patch();
    });
  }

  /** Queues a member's message for the next tick; past the queue size it is dropped (and counted for the log). */
  receive(sessionId: string, opCode: number, data: string | undefined, reliable: boolean): void {
    if (!this.running) return;
    const sender = this.members.get(sessionId);
    if (!sender) return;
    if (this.queue.length >= (this.opts.inputQueueSize ?? 128)) {
      this.dropped++;
      return;
    }
    const bytes = new Uint8Array(Buffer.from(data ?? '', 'base64'));
    this.queue.push({ sender, opCode, data: bytes, reliable, receiveTimeMs: this.ports.timers.now() });
  }

  /** Calls `matchSignal` and returns the data it answers. */
  signal(data: string): Promise<string> {
    return this.enqueue(async () => {
      if (!this.running) throw notFound('Match not found.');
      const r = await this.call('matchSignal', undefined, (ctx) =>
        this.opts.handler.matchSignal(ctx, this.opts.logger, this.opts.nk, this.dispatcher, this.tickNumber, this.handlerState, data),
      );
      if (r === FAILED) throw new AppError(Code.INTERNAL, 'The match handler failed; the match has ended.');
      if (!this.accept('matchSignal', r)) return '';
      this.ports.patch();
      const answer = (r as { data?: unknown }).data;
      return typeof answer === 'string' ? answer : '';
    });
  }

  /** Shutdown: `matchTerminate`, then the match ends when the grace period is over (at once if it returns null). */
  terminate(graceSeconds: number): Promise<void> {
    return this.enqueue(async () => {
      if (this.status !== 'running') return;
      this.status = 'terminating';
      const r = await this.call('matchTerminate', undefined, (ctx) =>
        this.opts.handler.matchTerminate(
          ctx,
          this.opts.logger,
          this.opts.nk,
          this.dispatcher,
          this.tickNumber,
          this.handlerState,
          graceSeconds,
        ),
      );
      if (!this.accept('matchTerminate', r)) return;
      this.ports.patch();
      if (graceSeconds <= 0) this.end('terminated');
      else this.cancelGrace = this.ports.timers.after(graceSeconds * 1000, () => this.end('terminated'));
    });
  }

  /** Stops the timers (the room is going away). */
  stop(): void {
    this.status = 'ended';
    this.cleanup();
  }

  /** Runs `op` after everything queued before it: handler functions never overlap. */
  private enqueue<T>(op: () => Promise<T>): Promise<T> {
    const run = this.mailbox.then(op);
    this.mailbox = run.catch(() => undefined);
    return run;
  }

  private onTick(): void {
    if (this.looping) {
      this.skippedTicks++;
      return;
    }
    this.looping = true;
    this.enqueue(() => this.loop())
      .catch((err: unknown) => {
        // `loop` handles its own failures; this is a last resort so a tick never rejects unhandled.
        this.opts.log.error({ err, matchId: this.opts.matchId }, 'match tick failed');
        this.end('handler_error');
      })
      .finally(() => {
        this.looping = false;
      });
  }

  /** One tick: the loop over the queued messages, then deferred broadcasts, then a state patch. */
  private async loop(): Promise<void> {
    if (!this.running) return;
    const messages = this.queue;
    this.queue = [];
    if (this.dropped > 0 || this.skippedTicks > 0) {
      const { dropped, skippedTicks } = this;
      this.opts.log.warn({ matchId: this.opts.matchId, dropped, skippedTicks }, 'match falling behind: messages dropped or ticks skipped');
      this.dropped = this.skippedTicks = 0;
    }
    const r = await this.call('matchLoop', undefined, (ctx) =>
      this.opts.handler.matchLoop(ctx, this.opts.logger, this.opts.nk, this.dispatcher, this.tickNumber, this.handlerState, messages),
    );
    this.tickNumber++;
    if (!this.accept('matchLoop', r, 'loop_ended')) return;
    try {
      const deferred = this.deferred;
      this.deferred = [];
      for (const d of deferred) this.deliver(d);
      this.ports.patch();
    } catch (err) {
      this.opts.log.error({ err, matchId: this.opts.matchId, handler: this.opts.handlerName }, 'match tick failed: ending the match');
      this.end('handler_error');
    }
  }

  /** Runs a handler function (sync or async); a throw or a rejection ends the match. */
  private async call(hook: string, call: HookContext | undefined, fn: (ctx: Context) => unknown): Promise<unknown> {
    try {
      return await fn(this.context(call));
    } catch (err) {
      this.opts.log.error(
        { err, matchId: this.opts.matchId, handler: this.opts.handlerName, hook },
        'match handler failed: ending its match',
      );
      this.end('handler_error');
      return FAILED;
    }
  }

  /** Takes the state a handler returned; null (or no state) ends the match. False when the match is over. */
  private accept(hook: string, r: unknown, reason: MatchEndReason = 'handler_ended'): boolean {
    if (r === FAILED || this.status === 'ended') return false;
    const next = (r as { state?: unknown } | null | undefined)?.state;
    if (typeof r !== 'object' || r === null || next === null || next === undefined) {
      this.opts.log.info(
        { matchId: this.opts.matchId, handler: this.opts.handlerName, hook },
        'match handler returned no state: ending its match',
      );
      this.end(reason);
      return false;
    }
    if (this.synced && next !== this.roomState) {
      const err = new Error(`${hook} returned another schema object: a synchronised state must be changed in place`);
      this.opts.log.error(
        { err, matchId: this.opts.matchId, handler: this.opts.handlerName, hook },
        'match handler failed: ending its match',
      );
      this.end('handler_error');
      return false;
    }
    this.handlerState = next;
    return true;
  }

  private end(reason: MatchEndReason): void {
    if (this.status === 'ended') return;
    this.status = 'ended';
    this.cleanup();
    this.opts.log.info({ matchId: this.opts.matchId, handler: this.opts.handlerName, reason, tick: this.tickNumber }, 'match ended');
    this.ports.ended(reason);
  }

  private cleanup(): void {
    this.cancelTick?.();
    this.cancelGrace?.();
    this.cancelTick = this.cancelGrace = undefined;
    for (const view of this.views.values()) view.dispose();
    this.views.clear();
    this.queue = [];
    this.deferred = [];
  }

  private context(call?: HookContext): Context {
    const { info, matchId } = this.opts;
    return buildContext(info, 'match', call, {
      matchId,
      matchNode: info.node,
      ...(this.status !== 'new' ? { matchLabel: this.currentLabel, matchTickRate: this.tickRate } : {}),
    });
  }

  private deliver(o: Outgoing): void {
    if (o.to === undefined) this.ports.send('match_data', o.message, {});
    else if (o.to.length > 0) this.ports.send('match_data', o.message, { to: o.to });
  }
}
