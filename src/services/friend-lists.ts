/**
 * Reading friend lists (Nakama's ListFriends and ListFriendsOfFriends) with keyset cursors that
 * follow the `user_edge` indexes, so every page costs the same however deep it is.
 */
import { invalid } from '../errors.js';
import { query, sql, toDate, type Em } from './db.js';
import type { FriendState } from './friends.js';
import { toUser, USER_COLUMNS, type User, type UserRow } from './users.js';

/** A user on another user's list (Nakama's `Friend`). */
export interface Friend {
  user: User;
  state: FriendState;
  /** When the relationship last changed. */
  updateTime: Date;
  /** The list owner's metadata on this edge, as JSON text. */
  metadata: string;
}

/** A friend of one of the user's friends (Nakama's `FriendOfFriend`). */
export interface FriendOfFriend {
  /** The friend through whom the user is known. */
  referrer: string;
  user: User;
}

export const INVALID_CURSOR = 'Cursor is invalid.';

function decode<T>(cursor: string, valid: (c: T) => boolean): T {
  try {
    const c = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as T;
    if (c !== null && typeof c === 'object' && valid(c)) return c;
  } catch {
    // fall through
  }
  throw invalid(INVALID_CURSOR);
}

const encode = (c: unknown) => Buffer.from(JSON.stringify(c)).toString('base64url');

const isUuid = (s: unknown) => typeof s === 'string' && /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(s);

interface ListCursor {
  s: number;
  p: string;
  i: string;
}

export interface ListFriendsOptions {
  /** 1–1000. */
  limit: number;
  /** Only edges in this state; absent: all, ordered by state. */
  state?: FriendState;
  cursor?: string;
}

/** A user's edges with the other users' profiles, ordered by state, then by when each was made. */
export async function listFriends(em: Em, userId: string, opts: ListFriendsOptions): Promise<{ friends: Friend[]; cursor?: string }> {
  if (!Number.isInteger(opts.limit) || opts.limit < 1 || opts.limit > 1000)
    throw invalid('Invalid limit - limit must be between 1 and 1000.');
  if (opts.state !== undefined && ![0, 1, 2, 3].includes(opts.state)) throw invalid('Invalid state - state must be between 0 and 3.');
  const after = opts.cursor
    ? decode<ListCursor>(opts.cursor, (c) => Number.isInteger(c.s) && typeof c.p === 'string' && /^-?\d{1,19}$/.test(c.p) && isUuid(c.i))
    : undefined;
  // A cursor from a list with another state filter is refused, as in Nakama.
  if (after && opts.state !== undefined && after.s !== opts.state) throw invalid(INVALID_CURSOR);
  const rows = await query<UserRow & { edge_state: number; edge_position: string; edge_metadata: string; edge_update_time: Date | string }>(
    em,
    sql`select ${USER_COLUMNS}, e.state as edge_state, e.position::text as edge_position,
          e.metadata::text as edge_metadata, e.update_time as edge_update_time
        from user_edge e join users u on u.id = e.destination_id
        where e.source_id = ${userId}
          ${opts.state !== undefined ? sql`and e.state = ${opts.state}` : sql``}
          ${after ? sql`and (e.state, e.position, e.destination_id) > (${after.s}, ${after.p}::bigint, ${after.i}::uuid)` : sql``}
        order by e.state, e.position, e.destination_id
        limit ${opts.limit + 1}`,
  );
  const page = rows.slice(0, opts.limit);
  const last = rows.length > opts.limit ? page[page.length - 1] : undefined;
  return {
    friends: page.map((r) => ({
      user: toUser(r),
      state: r.edge_state as FriendState,
      updateTime: toDate(r.edge_update_time),
      metadata: r.edge_metadata,
    })),
    ...(last ? { cursor: encode({ s: last.edge_state, p: last.edge_position, i: last.id } satisfies ListCursor) } : {}),
  };
}

interface FoFCursor {
  r: string;
  u: string;
}

/**
 * Friends of the user's friends, one entry per (friend, their friend), ordered by referrer. Leaves
 * out the user, the user's friends (as Nakama does) and, beyond Nakama, anyone either side
 * blocked: a suggestion list should not surface someone who blocked you.
 */
export async function listFriendsOfFriends(
  em: Em,
  userId: string,
  opts: { limit: number; cursor?: string },
): Promise<{ friendsOfFriends: FriendOfFriend[]; cursor?: string }> {
  if (!Number.isInteger(opts.limit) || opts.limit < 1 || opts.limit > 1000)
    throw invalid('Invalid limit - limit must be between 1 and 1000.');
  const after = opts.cursor ? decode<FoFCursor>(opts.cursor, (c) => isUuid(c.r) && isUuid(c.u)) : undefined;
  const rows = await query<UserRow & { referrer: string }>(
    em,
    sql`select f.source_id as referrer, ${USER_COLUMNS}
        from user_edge mine
          join user_edge f on f.source_id = mine.destination_id and f.state = 0
          join users u on u.id = f.destination_id
        where mine.source_id = ${userId} and mine.state = 0
          and f.destination_id <> ${userId}
          and not exists (select 1 from user_edge x where x.source_id = ${userId} and x.destination_id = f.destination_id and x.state in (0, 3))
          and not exists (select 1 from user_edge y where y.source_id = f.destination_id and y.destination_id = ${userId} and y.state = 3)
          ${after ? sql`and (f.source_id, f.destination_id) > (${after.r}::uuid, ${after.u}::uuid)` : sql``}
        order by f.source_id, f.destination_id
        limit ${opts.limit + 1}`,
  );
  const page = rows.slice(0, opts.limit);
  const last = rows.length > opts.limit ? page[page.length - 1] : undefined;
  return {
    friendsOfFriends: page.map((r) => ({ referrer: r.referrer, user: toUser(r) })),
    ...(last ? { cursor: encode({ r: last.referrer, u: last.id } satisfies FoFCursor) } : {}),
  };
}
