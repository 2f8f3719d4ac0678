/**
 * A matchmaker queue's room (`matchmaker_<queue>`, one per queue in the fleet, created on the
 * first ticket): a thin adapter over the queue actor. Nobody joins it; sessions and parties call
 * `addTicket` / `removeTicket` through `remoteRoomCall` (src/rooms/matchmaker-client.ts). It keeps
 * no synchronised state and does not auto-dispose; every interval it forms matches, and for each
 * one it runs the `matchmakerMatched` hook (which may create an authoritative match and return
 * its id) or else names a relayed match, then sends every matched session `matchmaker_matched`
 * through its user's channel, wherever that session is connected.
 */
import { randomUUID } from 'node:crypto';
import { matchMaker, Room, type Client } from '@colyseus/core';
import type { Logger } from 'pino';
import type { WirePresence } from '../actors/match-members.js';
import { MatchmakerActor } from '../actors/matchmaker.actor.js';
import { sessionMessage } from '../actors/session.actor.js';
import type { SessionVerifier } from '../auth/verifier.js';
import { AppError, Code } from '../errors.js';
import { buildContext, type RuntimeInfo } from '../hooks/context.js';
import type { Nakama } from '../hooks/nk.js';
import type { MatchmakerMatchedFunction, MatchmakerResult } from '../hooks/types.js';
import type { MatchedGroup, MatchmakerUser } from '../services/matchmaker-pool.js';
import type { MatchmakerStore } from '../services/matchmaker-store.js';
import { userChannel } from '../services/notifications.js';
import { sessionRoomId } from './room-ids.js';
import { QUEUE_EVENTS, queueRoomId, type QueueEvent, type Reply, type TicketRequest } from './matchmaker-client.js';

export interface MatchmakerRoomDeps {
  store: MatchmakerStore;
  verifier: SessionVerifier;
  /** The hook in force (looked up per match: dev reloads swap it). */
  matchedHook: () => { fn: MatchmakerMatchedFunction; module: string } | undefined;
  nk: Nakama;
  info: RuntimeInfo;
  log: Logger;
  intervalMs: number;
  maxIntervals: number;
  maxTicketsPerUser: number;
  /** How long a relayed match's tokens stay valid. */
  tokenTtlSec: number;
}

/** Nakama's `MatchmakerUser` on the wire. */
interface WireMatchmakerUser {
  presence: WirePresence;
  party_id?: string;
  string_properties: Record<string, string>;
  numeric_properties: Record<string, number>;
}

const QUEUE = /^[A-Za-z0-9_.-]{1,64}$/;

export class MatchmakerRoom extends Room {
  /** Set by `matchmakerRoom(deps)`. */
  static deps: MatchmakerRoomDeps | undefined;
  override autoDispose = false;
  override maxClients = 0;
  private actor!: MatchmakerActor;
  private queue = '';
  private log!: Logger;
  private ticking = false;
  private listening = false;

  /** Nobody joins a queue. */
  static override onAuth = (): Promise<unknown> => Promise.resolve(false);

  private get deps(): MatchmakerRoomDeps {
    const deps = (this.constructor as typeof MatchmakerRoom).deps;
    if (!deps) throw new Error('MatchmakerRoom used without matchmakerRoom(deps)');
    return deps;
  }

  private readonly onQueueEvent = (data: unknown) => {
    const e = data as QueueEvent;
    const drop =
      e?.type === 'remove_session'
        ? this.actor.drop({ sessionId: e.sessionId })
        : e?.type === 'remove_party'
          ? this.actor.drop({ partyId: e.partyId })
          : e?.type === 'remove_users' && e.by !== this.queue
            ? this.actor.drop({ userIds: e.userIds })
            : undefined;
    drop?.catch((err: unknown) => this.log.error({ err }, 'dropping matchmaker tickets failed'));
  };

  override onCreate(options: { queue?: unknown }): void {
    if (typeof options.queue !== 'string' || !QUEUE.test(options.queue))
      throw new AppError(Code.INVALID_ARGUMENT, 'Bad matchmaker queue name.');
    const deps = this.deps;
    this.queue = options.queue;
    this.roomId = queueRoomId(this.queue);
    void this.setPrivate(true, false);
    this.log = deps.log.child({ room: 'matchmaker', queue: this.queue });
    // No shared side effects until this room is the queue's (the registry's insert decides):
    // the lease and the event subscription start with the first call or tick.
    this.actor = new MatchmakerActor(
      {
        store: deps.store,
        formed: (group) => this.formed(group),
        usersMatched: (userIds) => {
          const event: QueueEvent = { type: 'remove_users', userIds, by: this.queue };
          void Promise.resolve(this.presence.publish(QUEUE_EVENTS, event)).catch(() => undefined);
        },
        now: () => Date.now(),
        onError: (err, what) => this.log.error({ err }, `matchmaker: ${what} failed`),
        liveSessions: async (ids) => {
          const found = await matchMaker.findRoomsByIds(ids.map(sessionRoomId));
          return new Set(ids.filter((id) => found.has(sessionRoomId(id))));
        },
      },
      {
        queue: this.queue,
        holder: randomUUID(),
        intervalMs: deps.intervalMs,
        maxIntervals: deps.maxIntervals,
        maxTicketsPerUser: deps.maxTicketsPerUser,
      },
    );
    this.clock.setInterval(() => void this.tick(), deps.intervalMs);
  }

  private async listen(): Promise<void> {
    if (this.listening) return;
    this.listening = true;
    await this.presence.subscribe(QUEUE_EVENTS, this.onQueueEvent);
  }

  private async tick(): Promise<void> {
    if (this.ticking) return;
    this.ticking = true;
    try {
      await this.listen();
      await this.actor.tick();
      if (this.actor.closed) {
        this.log.warn('another process took this matchmaker queue: closing here');
        await this.disconnect();
      }
    } catch (err) {
      this.log.error({ err }, 'matchmaker interval failed');
    } finally {
      this.ticking = false;
    }
  }

  /** `remoteRoomCall` target: opens a ticket. */
  async addTicket(request: TicketRequest): Promise<Reply<{ ticket: string }>> {
    return this.reply(async () => {
      await this.listen();
      const ticket = await this.actor.add({
        id: randomUUID(),
        users: request.presences.map((p) => ({ userId: p.user_id, sessionId: p.session_id, username: p.username })),
        partyId: request.partyId,
        stringProperties: request.string_properties ?? {},
        numericProperties: request.numeric_properties ?? {},
        query: request.query,
        minCount: request.min_count,
        maxCount: request.max_count,
        countMultiple: request.count_multiple ?? 1,
      });
      return { ticket: ticket.id };
    });
  }

  /** `remoteRoomCall` target: removes a ticket its owner holds. */
  async removeTicket(ticket: string, owner: { sessionId?: string; partyId?: string }): Promise<Reply<Record<string, never>>> {
    return this.reply(async () => {
      await this.actor.remove(ticket, owner);
      return {};
    });
  }

  private async reply<T>(fn: () => Promise<T>): Promise<Reply<T>> {
    try {
      return { ok: await fn() };
    } catch (err) {
      if (err instanceof AppError) return { error: { code: err.code, message: err.message } };
      this.log.error({ err }, 'matchmaker call failed');
      return { error: { code: Code.INTERNAL, message: 'Matchmaker failed.' } };
    }
  }

  /** Seats a formed match: the hook's authoritative match, or a relayed one joined by token. */
  private async formed(group: MatchedGroup): Promise<void> {
    const deps = this.deps;
    const users: WireMatchmakerUser[] = [];
    const results: MatchmakerResult[] = [];
    const wire = new Map<MatchmakerUser, WireMatchmakerUser>();
    for (const t of group.tickets) {
      for (const u of t.users) {
        const w: WireMatchmakerUser = {
          presence: { user_id: u.userId, session_id: u.sessionId, username: u.username },
          ...(t.partyId !== undefined ? { party_id: t.partyId } : {}),
          string_properties: { ...t.stringProperties },
          numeric_properties: { ...t.numericProperties },
        };
        wire.set(u, w);
        users.push(w);
        results.push({
          presence: { userId: u.userId, sessionId: u.sessionId, username: u.username, node: deps.info.node },
          properties: { ...t.stringProperties, ...t.numericProperties },
          ...(t.partyId !== undefined ? { partyId: t.partyId } : {}),
        });
      }
    }
    const matchId = await this.runHook(results);
    const relayed = matchId === undefined ? randomUUID() : undefined;
    for (const t of group.tickets) {
      for (const u of t.users) {
        const body = {
          ticket: t.id,
          ...(matchId !== undefined
            ? { match_id: matchId }
            : { token: deps.verifier.signMatchToken(relayed!, u.userId, deps.tokenTtlSec) }),
          users,
          self: wire.get(u)!,
        };
        await this.presence.publish(userChannel(u.userId), sessionMessage(u.sessionId, 'matchmaker_matched', body));
      }
    }
    this.log.debug({ size: group.size, matchId: matchId ?? relayed, authoritative: matchId !== undefined }, 'match formed');
  }

  /** The `matchmakerMatched` hook's match id, if it returned one. A failing hook falls back to a relayed match. */
  private async runHook(results: MatchmakerResult[]): Promise<string | undefined> {
    const hook = this.deps.matchedHook();
    if (!hook) return undefined;
    const logger = this.deps.log.child({ module: hook.module });
    try {
      const id = await hook.fn(buildContext(this.deps.info, 'matchmaker'), logger, this.deps.nk, results);
      return typeof id === 'string' && id !== '' ? id : undefined;
    } catch (err) {
      logger.error({ err }, 'matchmakerMatched hook failed: seating the users in a relayed match');
      return undefined;
    }
  }

  override onJoin(_client: Client): void {
    throw new AppError(Code.PERMISSION_DENIED, 'A matchmaker queue cannot be joined.');
  }

  /** Drain: give the lease back at once so another process takes the queue over. */
  override onBeforeShutdown(): void {
    void this.actor
      .stop()
      .catch(() => undefined)
      .finally(() => void this.disconnect().catch(() => undefined));
  }

  override async onDispose(): Promise<void> {
    if (this.listening) await Promise.resolve(this.presence.unsubscribe(QUEUE_EVENTS, this.onQueueEvent)).catch(() => undefined);
    await this.actor?.stop().catch(() => undefined);
  }
}

/** The matchmaker room class carrying its dependencies. */
export function matchmakerRoom(deps: MatchmakerRoomDeps): typeof MatchmakerRoom {
  return class extends MatchmakerRoom {
    static override deps = deps;
  };
}
