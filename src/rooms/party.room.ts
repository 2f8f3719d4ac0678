/**
 * The `party` room: one room per party, its id `party_<party id>` (the party id is a UUID the
 * server picks), over the transport-free `PartyActor`. Message names and shapes are Nakama's.
 *
 * Client flow (Colyseus SDK; each Nakama `party_*` message maps to the step shown):
 * - `party_create`: `client.create('party', { open, max_size, label?, hidden? })` creates the party
 *   and joins it as its leader (max_size 1–256, label a JSON object of at most 2048 bytes). The
 *   creator gets `party` { party_id, open, max_size, self, leader, presences, label }.
 * - `party_join`: `client.joinById('party_' + party_id)`. An open party with room: the joiner is a
 *   member, gets `party`, and every member gets `party_presence_event` { party_id, joins }. A full
 *   party, a user already in it (one session per user) or a join request already pending refuses
 *   the join. A closed party: the joiner stays connected as a requester (no party data reaches
 *   it) and the leader gets `party_join_request` { party_id, presences }.
 * - leader only (others get an `error`, code 3 BAD_INPUT with the gRPC status):
 *   `party_accept` { presence } makes a requester a member (as an open join);
 *   `party_remove` { presence } kicks a member or declines a requester (they get `party_close`
 *   and are disconnected); `party_promote` { presence } → everyone gets `party_leader`;
 *   `party_close` → everyone gets `party_close` and the room closes;
 *   `party_join_request_list` → `party_join_request` with the pending requests;
 *   `party_update` { label, open, hidden } → members get `party_update`, the listing changes;
 *   `party_matchmaker_add` { min_count, max_count, query, string_properties, numeric_properties,
 *   count_multiple } → every member gets `party_matchmaker_ticket` { party_id, ticket };
 *   `party_matchmaker_remove` { ticket }.
 * - members: `party_data_send` { op_code, data } → the other members get `party_data`
 *   { party_id, presence, op_code, data }.
 * - `party_leave` (or `room.leave()`, or a drop not followed by a reconnection within the window):
 *   the others get `party_presence_event` { party_id, leaves }; a leaving leader hands over to the
 *   oldest member (`party_leader`); the last member leaving ends the party.
 * Every message may carry `party_id`; when it does, it must name this party. Presences are Nakama's
 * `UserPresence` { user_id, session_id (the Nakama session id), username }.
 *
 * Several processes: the room lives in one process and clients follow its public address; the
 * party's state lives only in the room, and `onCreate` has no side effects (the listing is written
 * once the creator has joined). `GET /v2/party` lists parties from the room metadata
 * (party-directory.ts).
 */
import { randomUUID } from 'node:crypto';
import { CloseCode, ServerError, type Client, type RoomException, type RoomMethodName } from '@colyseus/core';
import { z } from 'zod';
import { PartyActor, type PartyJoiner, type PartyPorts } from '../actors/party.actor.js';
import { AppError, Code, httpStatusOf } from '../errors.js';
import {
  normalizeLabel,
  PartyCreate,
  PartyError,
  PartyMatchmakerAdd,
  PartyOp,
  partyFailure,
  type PartyListing,
  type PartyMatchmaker,
} from '../services/parties.js';
import * as v from '../services/validation.js';
import { RealtimeCode, RealtimeError, TavernRoom, type ClientAuth } from './base.room.js';

export const PARTY_ROOM = 'party';

/** The room of a party. */
export const partyRoomId = (partyId: string) => `party_${partyId}`;

/** The option `prepareOptions` sets to the new party's id: the join that carries it is the creator's. */
const PARTY_ID_OPTION = '__tavern_party_id';

/** What the party room needs beyond `RoomDeps`. */
export interface PartyRoomDeps {
  /** The matchmaker parties queue in; absent, `party_matchmaker_add` answers UNAVAILABLE. */
  matchmaker?: PartyMatchmaker | undefined;
}

/** The listing metadata of a party room (what `GET /v2/party` reads). */
export interface PartyMetadata {
  open: boolean;
  label: string;
  max_size: number;
  size: number;
  hidden: boolean;
}

const partyId = z.string().max(256).optional();
const PartyRef = z.looseObject({ party_id: partyId }).optional();

const PresenceShape = z.looseObject({
  user_id: z.string().min(1).max(128),
  session_id: z.string().min(1).max(128),
  username: z.string().max(128).optional(),
});
/** Nakama's "Invalid presence" for a missing or malformed presence. */
const presence = z.unknown().transform((v, ctx) => {
  const parsed = PresenceShape.safeParse(v);
  if (parsed.success) return parsed.data;
  ctx.addIssue({ code: 'custom', message: 'Invalid presence' });
  return z.NEVER;
});
export const PartyPresenceMessage = z.object({ party_id: partyId, presence });

/** `party_data_send`: `data` is base64, as in Nakama's JSON, relayed untouched. */
export const PartyDataSend = z.object({
  party_id: partyId,
  op_code: v.opCode,
  data: v.base64Data.optional(),
});

/** `party_update`: proto defaults for what is left out (so a missing `open` closes the party, as in Nakama). */
export const PartyUpdate = z.object({
  party_id: partyId,
  label: z.string().default(''),
  open: z.boolean().default(false),
  hidden: z.boolean().default(false),
});

export const PartyMatchmakerRemove = z.object({ party_id: partyId, ticket: z.string().max(256).default('') });

export class PartyRoom extends TavernRoom {
  /** Set by `partyRoom(deps)`. */
  static partyDeps: PartyRoomDeps | undefined;
  // No synchronised state: membership changes are rare and travel as messages.
  override patchRate = null;
  private actor!: PartyActor;
  /** Connections by id (after a reconnection, the new client object). */
  private readonly conns = new Map<string, Client>();

  /**
   * Checks a creation's options before any room exists and gives the request a fresh party id;
   * options a client sends are never trusted for it. (Joins by id get one too, and ignore it.)
   */
  static prepareOptions(options: Record<string, unknown>): void {
    const given = PartyCreate.partial().parse(options);
    if (given.label !== undefined) {
      try {
        normalizeLabel(given.label);
      } catch (err) {
        throw partyFailure(PartyOp.create, err);
      }
    }
    options[PARTY_ID_OPTION] = randomUUID();
  }

  override onCreate(options: Record<string, unknown>): void {
    const id = options[PARTY_ID_OPTION];
    if (typeof id !== 'string' || !z.uuid().safeParse(id).success) throw new Error('party room created without a party id');
    const parsed = PartyCreate.safeParse(options);
    if (!parsed.success) throw new ServerError(httpStatusOf(Code.INVALID_ARGUMENT), v.firstIssue(parsed.error));
    this.roomId = partyRoomId(id);
    // Private: `join`/`joinOrCreate` never pick a party; `joinById` and the listing still see it.
    void this.setPrivate(true);
    const ports: PartyPorts = {
      send: (conns, type, message) => {
        for (const conn of conns) this.conns.get(conn)?.send(type, message);
      },
      disconnect: (conn, reason) => this.conns.get(conn)?.leave(CloseCode.CONSENTED, reason),
      listed: (listing) => this.publish(listing),
      ended: () => {
        this.disconnect(CloseCode.CONSENTED).catch((err: unknown) => this.log.error({ err }, 'closing an ended party failed'));
      },
      matchmaker: this.partyDeps.matchmaker,
      failed: (err, what) => this.log.warn({ err }, what),
    };
    try {
      this.actor = new PartyActor(ports, {
        partyId: id,
        open: parsed.data.open,
        maxSize: parsed.data.max_size,
        label: parsed.data.label,
        hidden: parsed.data.hidden,
        createdAt: Date.now(),
      });
    } catch (err) {
      if (err instanceof AppError) throw new ServerError(httpStatusOf(err.code), err.message);
      throw err;
    }
    // No side effects here: two processes could create the same id and the loser is discarded.
    // The listing is written once the creator has joined.
    this.on('party_leave', PartyRef, (conn) => this.conns.get(conn)?.leave(CloseCode.CONSENTED));
    this.on('party_close', PartyRef, (conn) => this.actor.close(conn));
    this.on('party_promote', PartyPresenceMessage, (conn, m) => this.actor.promote(conn, m.presence));
    this.on('party_accept', PartyPresenceMessage, (conn, m) => this.actor.accept(conn, m.presence));
    this.on('party_remove', PartyPresenceMessage, (conn, m) => this.actor.remove(conn, m.presence));
    this.on('party_join_request_list', PartyRef, (conn) => this.actor.joinRequests(conn));
    this.on('party_data_send', PartyDataSend, (conn, m) => this.actor.data(conn, m.op_code, m.data));
    this.on('party_update', PartyUpdate, (conn, m) => this.actor.update(conn, m));
    this.on('party_matchmaker_add', PartyMatchmakerAdd, (conn, m) => this.actor.matchmakerAdd(conn, m));
    this.on('party_matchmaker_remove', PartyMatchmakerRemove, (conn, m) => this.actor.matchmakerRemove(conn, m.ticket));
  }

  private get partyDeps(): PartyRoomDeps {
    return (this.constructor as typeof PartyRoom).partyDeps ?? {};
  }

  /**
   * A party message: it must name this party when it names one, and refusals come back as Nakama
   * sends them (BAD_INPUT, with the gRPC status beside it). A disabled matchmaker keeps its own code.
   */
  private on<S extends z.ZodType>(type: string, schema: S, fn: (conn: string, message: z.output<S>) => unknown): void {
    this.handle(type, schema, async (client, message) => {
      try {
        const named = (message as { party_id?: string } | undefined)?.party_id;
        if (named !== undefined && named !== '' && named.split('.', 1)[0] !== this.actor.partyId) throw PartyError.notFound();
        return await fn(client.sessionId, message);
      } catch (err) {
        if (err instanceof AppError && !(err instanceof RealtimeError) && err.expected && err.code !== Code.UNAVAILABLE) {
          throw new RealtimeError(RealtimeCode.BAD_INPUT, err.code, err.message, { cause: err });
        }
        throw err;
      }
    });
  }

  private publish(listing: PartyListing): void {
    const meta: PartyMetadata = {
      open: listing.open,
      label: listing.label,
      max_size: listing.maxSize,
      size: listing.size,
      hidden: listing.hidden,
    };
    this.setMetadata(meta).catch((err: unknown) => this.log.error({ err }, 'party listing update failed'));
  }

  override onJoin(client: Client, options: Record<string, unknown> | undefined): void {
    const auth = client.auth as ClientAuth;
    const joiner: PartyJoiner = { conn: client.sessionId, userId: auth.userId, sessionId: auth.sid, username: auth.username };
    this.conns.set(client.sessionId, client);
    try {
      if (options?.[PARTY_ID_OPTION] === this.actor.partyId) this.actor.create(joiner);
      else this.actor.join(joiner);
    } catch (err) {
      this.conns.delete(client.sessionId);
      if (err instanceof AppError) throw new ServerError(httpStatusOf(err.code), err.message);
      throw err;
    }
  }

  /** A reconnected connection continues with its new client, unless it was removed meanwhile. */
  override onReconnect(client: Client): void {
    super.onReconnect(client);
    if (!this.conns.has(client.sessionId)) return;
    this.conns.set(client.sessionId, client);
    if (!this.actor.isMember(client.sessionId) && !this.actor.isRequester(client.sessionId)) {
      client.leave(CloseCode.CONSENTED, 'No longer in the party.');
    }
  }

  override onLeave(client: Client): void {
    if (this.conns.get(client.sessionId) !== client) return;
    this.conns.delete(client.sessionId);
    this.actor.leave(client.sessionId);
  }

  /** Shutdown: the party ends with its room (Nakama's parties live in one node's memory too). */
  protected override closeForShutdown(): void {
    this.actor?.dispose();
    super.closeForShutdown();
  }

  /** Refused joins and creations are ServerErrors raised on purpose: already answered, not failures. */
  override onUncaughtException(error: RoomException, methodName: RoomMethodName): void {
    const cause = (error as { cause?: unknown }).cause ?? error;
    if ((methodName === 'onJoin' || methodName === 'onCreate') && cause instanceof ServerError) {
      this.log.debug({ method: methodName, code: cause.code, reason: cause.message }, 'party join or creation refused');
      return;
    }
    super.onUncaughtException(error, methodName);
  }

  override onDispose(): void {
    this.actor?.dispose();
  }
}

/** The party room class carrying its dependencies (then bound with `bindRoom`). */
export function partyRoom(deps: PartyRoomDeps = {}): typeof PartyRoom {
  return class extends PartyRoom {
    static override partyDeps = deps;
  };
}
