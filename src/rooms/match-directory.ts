/**
 * Matches through the Colyseus matchmaker: `ColyseusMatchPort` creates authoritative match rooms,
 * lists and finds them from the room listing (the label lives in room metadata), and signals them
 * through `remoteRoomCall` (in this process, or another one over Presence IPC).
 */
import { matchMaker, type IRoomCache } from '@colyseus/core';
import { AppError, Code, notFound } from '../errors.js';
import type { MatchPort } from '../hooks/match-port.js';
import { aggregateStats, type MatchmakerStats, type MatchmakerStore } from '../services/matchmaker-store.js';
import { selectMatches, type MatchFilter, type MatchListing } from '../services/matches.js';
import { AUTHORITATIVE_MATCH, type AuthoritativeSpec, type MatchMetadata, type MatchRoom, type SignalReply } from './match.room.js';
import { isGameRoomName } from './game.room.js';
import { MATCH_ROOM } from './match-seats.js';

/** A designer room as a match: authoritative, labelled with its metadata, named after its type. */
function designerListingOf(room: IRoomCache): MatchListing {
  const m: unknown = room.metadata;
  return {
    matchId: room.roomId,
    authoritative: true,
    label: typeof m === 'string' ? m : JSON.stringify(m ?? {}),
    size: room.clients,
    tickRate: 0,
    handlerName: room.name,
    createdAt: room.createdAt ? new Date(room.createdAt).getTime() : 0,
  };
}

function listingOf(room: IRoomCache<MatchMetadata>): MatchListing {
  if (room.name !== MATCH_ROOM) return designerListingOf(room);
  const m = room.metadata;
  return {
    matchId: room.roomId,
    authoritative: m?.authoritative === true,
    label: m?.label ?? '',
    size: m?.size ?? 0,
    tickRate: m?.tickRate ?? 0,
    handlerName: m?.handlerName ?? '',
    createdAt: room.createdAt ? new Date(room.createdAt).getTime() : 0,
  };
}

/** A matchmaker error (a `ServerError` from a room's `onCreate`) as an `AppError`: gRPC codes pass through. */
function appErrorOf(err: unknown, fallback: string): AppError {
  if (err instanceof AppError) return err;
  const e = err as { code?: unknown; message?: unknown };
  if (typeof e?.code === 'number' && Number.isInteger(e.code) && e.code >= 1 && e.code <= 16 && typeof e.message === 'string') {
    return new AppError(e.code as Code, e.message, { cause: err });
  }
  return new AppError(Code.INTERNAL, fallback, { cause: err });
}

export class ColyseusMatchPort implements MatchPort {
  /** `statsStaleMs`: a queue that has not published its stats for this long is gone. */
  constructor(
    private readonly matchmaker: MatchmakerStore,
    private readonly statsStaleMs: number,
    /** Whether a match handler of that name is registered (it wins over a designer room of the same name). */
    private readonly hasMatchHandler: (name: string) => boolean = () => true,
  ) {}

  async matchmakerStats(): Promise<MatchmakerStats> {
    return aggregateStats(await this.matchmaker.allStats(this.statsStaleMs));
  }

  async create(handlerName: string, params: Record<string, unknown>): Promise<string> {
    if (matchMaker.state !== matchMaker.MatchMakerState.READY) {
      throw new AppError(Code.UNAVAILABLE, 'Matches can be created once the server has started, and not while it stops.');
    }
    if (!this.hasMatchHandler(handlerName) && isGameRoomName(handlerName)) {
      try {
        return (await matchMaker.createRoom(handlerName, params)).roomId;
      } catch (err) {
        throw appErrorOf(err, 'Room could not be created.');
      }
    }
    const spec: AuthoritativeSpec = { handler: handlerName, params };
    try {
      const room = await matchMaker.createRoom(MATCH_ROOM, { [AUTHORITATIVE_MATCH]: spec });
      return room.roomId;
    } catch (err) {
      throw appErrorOf(err, 'Match could not be created.');
    }
  }

  async list(filter: MatchFilter): Promise<MatchListing[]> {
    // TODO(scaling): this reads every match room's listing on each call; an index by label field
    // (or Nakama's per-node index) is due when thousands of matches run.
    const names = [MATCH_ROOM, ...Object.keys(matchMaker.getAllHandlers()).filter(isGameRoomName)];
    const rooms = (await Promise.all(names.map((name) => matchMaker.query<MatchRoom>({ name })))).flat();
    return selectMatches(rooms.map(listingOf), filter);
  }

  async get(matchId: string): Promise<MatchListing | undefined> {
    const room = await matchMaker.getRoomById(matchId);
    return room && (room.name === MATCH_ROOM || isGameRoomName(room.name)) ? listingOf(room) : undefined;
  }

  async signal(matchId: string, data: string): Promise<string> {
    const room = await matchMaker.getRoomById(matchId);
    if (!room || room.name !== MATCH_ROOM || room.metadata?.authoritative !== true) throw notFound('Match not found.');
    let reply: SignalReply;
    try {
      reply = (await matchMaker.remoteRoomCall(matchId, 'matchSignal', [data])) as SignalReply;
    } catch (err) {
      throw appErrorOf(err, 'Match signal failed.');
    }
    if ('error' in reply) throw new AppError(reply.error.code as Code, reply.error.message);
    return reply.data;
  }
}
