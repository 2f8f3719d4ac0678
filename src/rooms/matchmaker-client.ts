/**
 * How sessions and parties reach a matchmaker queue: the queue is a room (`matchmaker_<queue>`,
 * one in the whole fleet) that nobody joins; callers find or create it through the room registry
 * and call it with `remoteRoomCall`, in this process or over Presence IPC in another one.
 * Replies are values (`{ ok } | { error }`), since IPC loses error types.
 */
import { matchMaker, type Presence } from '@colyseus/core';
import { z } from 'zod';
import { AppError, Code } from '../errors.js';
import type { WirePresence } from '../actors/match-members.js';
import type { PartyMatchmaker } from '../services/parties.js';

/** The name the matchmaker queue room is defined under. */
export const MATCHMAKER_ROOM = 'matchmaker';
/** Nakama has one pool; Tavern's default queue is it, and `queue` names others. */
export const DEFAULT_QUEUE = 'default';
export const queueRoomId = (queue: string) => `matchmaker_${queue}`;
/** Presence channel every queue listens on, for tickets that must go wherever they wait. */
export const QUEUE_EVENTS = 'matchmaker:events';

/** Events on `QUEUE_EVENTS`. */
export type QueueEvent =
  | { type: 'remove_session'; sessionId: string }
  | { type: 'remove_party'; partyId: string }
  /** Users matched by queue `by`: their tickets in other queues go. */
  | { type: 'remove_users'; userIds: string[]; by: string };

const queueName = z
  .string()
  .regex(/^[A-Za-z0-9_.-]{1,64}$/, 'queue must be 1–64 letters, digits, `_`, `.` or `-`.')
  .default(DEFAULT_QUEUE);
const propertyName = z.string().min(1).max(128);
const count = z.number().int().min(1).max(256);

/** The ticket fields of `matchmaker_add` and `party_matchmaker_add` (Nakama's, plus `queue`). */
export const TicketFields = z
  .object({
    min_count: count,
    max_count: count,
    count_multiple: count.optional(),
    query: z.string().max(4096).default('*'),
    string_properties: z.record(propertyName, z.string().max(1024)).optional(),
    numeric_properties: z.record(propertyName, z.number().finite()).optional(),
    queue: queueName,
  })
  .refine((t) => Object.keys(t.string_properties ?? {}).length + Object.keys(t.numeric_properties ?? {}).length <= 64, {
    message: 'At most 64 properties.',
  });
export type TicketFields = z.output<typeof TicketFields>;

/** `matchmaker_remove`. */
export const TicketRemove = z.object({ ticket: z.string().min(1).max(128), queue: queueName });

/** What a queue needs to open a ticket. */
export interface TicketRequest extends TicketFields {
  /** The users the ticket matches together: the session's user, or a party's members. */
  presences: WirePresence[];
  /** The session that owns the ticket (a party's: its leader's). */
  sessionId: string;
  partyId?: string;
}

export type Reply<T> = { ok: T } | { error: { code: number; message: string } };

/** The queue's room: found in the registry, or created (once in the fleet) where there is room. */
async function queueRoom(queue: string): Promise<string> {
  const id = queueRoomId(queue);
  if (await matchMaker.getRoomById(id)) return id;
  try {
    await matchMaker.createRoom(MATCHMAKER_ROOM, { queue });
  } catch (err) {
    throw new AppError(Code.UNAVAILABLE, 'Matchmaker unavailable.', { cause: err });
  }
  return id;
}

async function call<T>(queue: string, method: string, args: unknown[]): Promise<T> {
  const id = await queueRoom(queue);
  let reply: Reply<T>;
  try {
    reply = (await matchMaker.remoteRoomCall(id, method, args)) as Reply<T>;
  } catch (err) {
    throw new AppError(Code.UNAVAILABLE, 'Matchmaker unavailable.', { cause: err });
  }
  if ('error' in reply) throw new AppError(reply.error.code as Code, reply.error.message);
  return reply.ok;
}

/** Opens a ticket; returns its id. */
export function addTicket(request: TicketRequest): Promise<string> {
  return call<{ ticket: string }>(request.queue, 'addTicket', [request]).then((r) => r.ticket);
}

/** Removes a ticket its owner (session or party) holds. */
export async function removeTicket(queue: string, ticket: string, owner: { sessionId?: string; partyId?: string }): Promise<void> {
  await call<Record<string, never>>(queue, 'removeTicket', [ticket, owner]);
}

/**
 * Tells every queue a session ended (its tickets go). Best effort, never rejects: while the
 * process shuts down Presence may already be closed, and a queue that missed the event drops
 * the session's tickets when it next loads (their session room is gone).
 */
export async function sessionEnded(presence: Pick<Presence, 'publish'>, sessionId: string): Promise<void> {
  const event: QueueEvent = { type: 'remove_session', sessionId };
  try {
    await presence.publish(QUEUE_EVENTS, event);
  } catch {
    // See above.
  }
}

/** Parties matchmake as one ticket in the default queue (all members land in the same match). */
export const partyMatchmaker: PartyMatchmaker = {
  addParty(party, request) {
    return addTicket({
      queue: DEFAULT_QUEUE,
      min_count: request.minCount,
      max_count: request.maxCount,
      count_multiple: request.countMultiple,
      query: request.query,
      string_properties: request.stringProperties,
      numeric_properties: request.numericProperties,
      presences: party.members.map((m) => ({ user_id: m.userId, session_id: m.sessionId, username: m.username })),
      sessionId: party.leader.sessionId,
      partyId: party.partyId,
    });
  },
  removeParty(partyId, ticket) {
    return removeTicket(DEFAULT_QUEUE, ticket, { partyId });
  },
};
