/**
 * Seats in matches for sessions that know a match only by its id (the session room's
 * `match_join`), without importing the match room.
 */
import { matchMaker } from '@colyseus/core';
import { Code } from '../errors.js';
import { RealtimeCode, RealtimeError, type ClientAuth } from './base.room.js';
import { isGameRoomName } from './game.room.js';
import { TavernRedisDriver } from './redis.driver.js';

/** The name the match room is defined under. */
export const MATCH_ROOM = 'match';

/**
 * Create option (set by the server only) giving a relayed match the id the matchmaker chose: the
 * match starts when its first matched user joins with a matchmaker token, on whichever process.
 */
export const MATCHMAKER_MATCH = '__tavernMatchmakerMatch';

/**
 * A seat in a match for a session that knows its id (the session room's `match_join`); the
 * client consumes it with `client.consumeSeatReservation`. Authoritative matches still ask the
 * handler when the seat is consumed, with `metadata`.
 */
export async function reserveMatchSeat(
  matchId: string,
  auth: ClientAuth,
  metadata: Record<string, string>,
): Promise<matchMaker.ISeatReservation> {
  const room = await matchMaker.getRoomById(matchId);
  if (!room || (room.name !== MATCH_ROOM && !isGameRoomName(room.name)) || room.locked)
    throw new RealtimeError(RealtimeCode.MATCH_NOT_FOUND, Code.NOT_FOUND, 'Match not found.');
  try {
    return await matchMaker.reserveSeatFor(room, { metadata }, auth);
  } catch (err) {
    // The room went away (or its process did) between the lookup and the reservation.
    throw new RealtimeError(RealtimeCode.MATCH_NOT_FOUND, Code.NOT_FOUND, 'Match not found.', { cause: err });
  }
}

/**
 * A seat in the relayed match a matchmaker token names (`match_join` with `token`). The first
 * matched user to arrive creates it under the id the matchmaker chose; the registry keeps one
 * room per id, so users arriving at once through different processes meet in the same match.
 */
export async function reserveTokenSeat(
  matchId: string,
  auth: ClientAuth,
  metadata: Record<string, string>,
): Promise<matchMaker.ISeatReservation> {
  // Every matched user may arrive at once, through different processes: creations race (the
  // registry keeps one room) and a reservation sent to the winner's process in the moment it
  // starts listening can time out. A few tries settle both.
  for (let attempt = 1; ; attempt++) {
    try {
      if (!(await matchMaker.getRoomById(matchId))) await matchMaker.createRoom(MATCH_ROOM, { [MATCHMAKER_MATCH]: matchId });
      // Listed by another process a moment ago, it may not listen for seat requests yet: one sent
      // now would be lost and time out after 2 s (measured: bots' time to seat p99 ~2.07 s).
      else if (matchMaker.driver instanceof TavernRedisDriver) await matchMaker.driver.untilReachable(matchId);
      return await reserveMatchSeat(matchId, auth, metadata);
    } catch (err) {
      if (attempt >= TOKEN_SEAT_ATTEMPTS) {
        if (err instanceof RealtimeError) throw err;
        throw new RealtimeError(RealtimeCode.MATCH_NOT_FOUND, Code.NOT_FOUND, 'Match not found.', { cause: err });
      }
      await new Promise((r) => setTimeout(r, 50 * attempt));
    }
  }
}

const TOKEN_SEAT_ATTEMPTS = 3;
