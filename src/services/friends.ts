/**
 * Friends (Nakama's core_friend): one `user_edge` row per direction, A→B holding A's view of B.
 * Pairs are 0/0 (friends), 1/2 (invite sent / received); a block is one-sided (3, and the other
 * side's edge is gone unless they blocked back). `users.edge_count` counts a user's own edges in
 * every state, blocks included, as Nakama's does. Every change locks both users' rows in id order
 * first, so edge counts always equal the edges and concurrent adds cannot pass the friend limit.
 * Notifications go out after the transaction commits, as in Nakama.
 */
import { AppError, Code, invalid, notFound } from '../errors.js';
import { query, queryOne, run, sql, type Em } from './db.js';
import { NotificationCode, sendNotifications, type NotificationInput } from './notifications.js';
import type { Publisher } from './ports.js';
import { inTransaction } from './tx.js';
import * as v from './validation.js';

/** Edge states (Nakama's `Friend.State`). */
export const FriendState = { FRIEND: 0, INVITE_SENT: 1, INVITE_RECEIVED: 2, BLOCKED: 3 } as const;
export type FriendState = (typeof FriendState)[keyof typeof FriendState];

/** What adding friends needs from the server. */
export interface FriendPorts {
  publisher: Publisher;
  /** Most edges (friends, invites, blocks) one user may have; new invites beyond it are refused. */
  maxFriends: number;
}

export const FRIEND_LIMIT_REACHED = 'Friend limit reached.';
const NIL_UUID = '00000000-0000-0000-0000-000000000000';

type Op = 'add' | 'delete' | 'block';
const SELF: Record<Op, string> = { add: 'Cannot add self as friend.', delete: 'Cannot delete self.', block: 'Cannot block self.' };

/**
 * The users an operation targets: ids as given plus the ids of the usernames that exist, without
 * the caller (refused, as Nakama does) and without duplicates. `undefined` when nothing was asked.
 */
async function resolveTargets(
  em: Em,
  userId: string,
  op: Op,
  ids: readonly string[],
  usernames: readonly string[],
): Promise<string[] | undefined> {
  if (ids.length === 0 && usernames.length === 0) return undefined;
  if (ids.length + usernames.length > 1000) throw invalid('At most 1000 users per request.');
  for (const id of ids) {
    if (!v.uuid.safeParse(id).success || id === NIL_UUID) throw invalid(`Invalid user ID '${id}'.`);
    if (id.toLowerCase() === userId) throw invalid(SELF[op]);
  }
  for (const name of usernames) {
    if (name === '') throw invalid('Username must not be empty.');
    if (!v.usernameQuery.safeParse(name).success) throw invalid('Username must not contain NUL characters.');
  }
  const found =
    usernames.length === 0
      ? []
      : await query<{ id: string }>(em, sql`select id from users where username = any(${[...usernames]}::text[])`);
  if (found.some((r) => r.id === userId)) throw invalid(SELF[op]);
  return [...new Set([...ids.map((id) => id.toLowerCase()), ...found.map((r) => r.id)])];
}

/**
 * Locks the users' rows in id order (the one lock order every friend operation uses, so they
 * cannot deadlock) and returns the usernames of those that exist. `no key update` is enough to
 * serialize edge changes and still lets other tables insert rows that reference these users.
 */
async function lockUsers(tx: Em, ids: readonly string[]): Promise<Map<string, string>> {
  const sorted = [...new Set(ids)].sort();
  const rows = await query<{ id: string; username: string }>(
    tx,
    sql`select id, username from users where id = any(${sorted}::uuid[]) order by id for no key update`,
  );
  return new Map(rows.map((r) => [r.id, r.username]));
}

/** Both edges between two users, as states (absent: no edge). */
async function edges(em: Em, a: string, b: string): Promise<{ ab?: FriendState; ba?: FriendState }> {
  const rows = await query<{ source_id: string; state: number }>(
    em,
    sql`select source_id, state from user_edge
        where (source_id = ${a} and destination_id = ${b}) or (source_id = ${b} and destination_id = ${a})`,
  );
  const out: { ab?: FriendState; ba?: FriendState } = {};
  for (const r of rows) out[r.source_id === a ? 'ab' : 'ba'] = r.state as FriendState;
  return out;
}

/** A user's position on a list: microseconds since the epoch when the edge was made (Nakama: nanoseconds). */
const NOW_POSITION = sql`(extract(epoch from clock_timestamp()) * 1000000)::bigint`;

/** Metadata as JSON text of an object; `''`/absent is `{}`. */
function metadataText(metadata: string | Record<string, unknown> | undefined): string {
  if (metadata === undefined || metadata === '') return '{}';
  let value: unknown = metadata;
  if (typeof metadata === 'string') {
    try {
      value = JSON.parse(metadata);
    } catch {
      throw invalid('Metadata must be a JSON object.');
    }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid('Metadata must be a JSON object.');
  return typeof metadata === 'string' ? metadata : JSON.stringify(value);
}

/** Adds one, with both users locked: 'accepted', 'invited' or undefined (nothing changed). */
async function addOne(tx: Em, me: string, them: string, metadata: string, maxFriends: number): Promise<'accepted' | 'invited' | undefined> {
  const { ab, ba } = await edges(tx, me, them);
  // A user I blocked stays blocked until I delete them (Nakama ignores the add); a user who
  // blocked me never learns of my invite.
  if (ab === FriendState.BLOCKED || ba === FriendState.BLOCKED) return undefined;
  if (ab === FriendState.INVITE_RECEIVED && ba === FriendState.INVITE_SENT) {
    // Accepting: both sides become friends; my metadata merges into my edge.
    await run(
      tx,
      sql`update user_edge set state = 0, update_time = now(),
            metadata = case when source_id = ${me} then metadata || ${metadata}::jsonb else metadata end
          where (source_id = ${me} and destination_id = ${them}) or (source_id = ${them} and destination_id = ${me})`,
    );
    return 'accepted';
  }
  // Already friends, or already invited: nothing to do.
  if (ab !== undefined || ba !== undefined) return undefined;
  // A new invite adds an edge to each side. A full invitee is skipped quietly (like a block); a
  // full inviter is refused, rolling back the whole batch.
  if (
    (await run(
      tx,
      sql`update users set edge_count = edge_count + 1, update_time = now() where id = ${them} and edge_count < ${maxFriends}`,
    )) === 0
  )
    return undefined;
  if (
    (await run(
      tx,
      sql`update users set edge_count = edge_count + 1, update_time = now() where id = ${me} and edge_count < ${maxFriends}`,
    )) === 0
  )
    throw new AppError(Code.FAILED_PRECONDITION, FRIEND_LIMIT_REACHED);
  await run(
    tx,
    sql`insert into user_edge (source_id, destination_id, state, position, metadata, update_time)
        values (${me}, ${them}, 1, ${NOW_POSITION}, ${metadata}::jsonb, now()),
               (${them}, ${me}, 2, ${NOW_POSITION}, '{}'::jsonb, now())`,
  );
  return 'invited';
}

/**
 * Adds friends by id and/or username (Nakama's AddFriends): accepts invites received, sends new
 * invites (notification −2), tells the inviter of an acceptance (−3). Unknown users, users either
 * side blocked, friends and users already invited are skipped. Invitees at the friend limit are
 * skipped; a caller at the limit gets FAILED_PRECONDITION and nothing changes.
 */
export async function addFriends(
  em: Em,
  ports: FriendPorts,
  userId: string,
  ids: readonly string[],
  usernames: readonly string[],
  metadata?: string | Record<string, unknown>,
): Promise<void> {
  const targets = await resolveTargets(em, userId, 'add', ids, usernames);
  if (targets === undefined) return;
  if (targets.length === 0) throw invalid('No valid ID or username was provided.');
  const meta = metadataText(metadata);
  const { username, changes } = await inTransaction(em, async (tx) => {
    const users = await lockUsers(tx, [userId, ...targets]);
    const me = users.get(userId);
    if (me === undefined) throw notFound('User account not found.');
    const out: { id: string; change: 'accepted' | 'invited' }[] = [];
    for (const id of targets) {
      if (!users.has(id)) continue;
      const change = await addOne(tx, userId, id, meta, ports.maxFriends);
      if (change) out.push({ id, change });
    }
    return { username: me, changes: out };
  });
  await notify(
    em,
    ports.publisher,
    changes.map(({ id, change }) =>
      change === 'accepted'
        ? {
            userId: id,
            code: NotificationCode.FRIEND_ACCEPT,
            subject: `${username} accepted your friend request`,
            content: { username },
            senderId: userId,
            persistent: true,
          }
        : {
            userId: id,
            code: NotificationCode.FRIEND_REQUEST,
            subject: `${username} wants to add you as a friend`,
            content: { username },
            senderId: userId,
            persistent: true,
          },
    ),
  );
}

/** Whether an error is a foreign key violation (a referenced user was deleted meanwhile). */
function foreignKeyViolation(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if ((e as { code?: unknown }).code === '23503') return true;
  }
  return false;
}

/**
 * Sends after the change has committed. A recipient whose account is being deleted at that moment
 * fails the insert's foreign key (the `exists` filter in sendNotifications saw the row before the
 * delete committed): once that delete has committed, a second try skips them.
 */
async function notify(em: Em, publisher: Publisher, inputs: NotificationInput[]): Promise<void> {
  if (inputs.length === 0) return;
  try {
    await sendNotifications(em, publisher, inputs, { system: true });
  } catch (err) {
    if (!foreignKeyViolation(err)) throw err;
    await sendNotifications(em, publisher, inputs, { system: true });
  }
}

/** Takes one edge off each of these users' counts (one per occurrence). */
async function decrement(tx: Em, sources: readonly string[]): Promise<void> {
  if (sources.length === 0) return;
  await run(
    tx,
    sql`update users u set edge_count = u.edge_count - c.n, update_time = now()
        from (select id, count(*)::int as n from unnest(${[...sources]}::uuid[]) as s(id) group by id) c
        where u.id = c.id`,
  );
}

/**
 * Deletes friends (Nakama's DeleteFriends): removes a friendship or an invite in either direction
 * (the other user gets notification −9), or unblocks. A block the other user holds on the caller
 * stays. Unknown users and users with no edge are skipped.
 */
export async function deleteFriends(
  em: Em,
  publisher: Publisher,
  userId: string,
  ids: readonly string[],
  usernames: readonly string[],
): Promise<void> {
  const targets = await resolveTargets(em, userId, 'delete', ids, usernames);
  if (!targets || targets.length === 0) return;
  const { username, removed } = await inTransaction(em, async (tx) => {
    const users = await lockUsers(tx, [userId, ...targets]);
    const me = users.get(userId);
    if (me === undefined) throw notFound('User account not found.');
    const out: string[] = [];
    for (const id of targets) {
      if (!users.has(id)) continue;
      const gone = await query<{ source_id: string }>(
        tx,
        sql`delete from user_edge
            where (source_id = ${userId} and destination_id = ${id}) or (source_id = ${id} and destination_id = ${userId} and state <> 3)
            returning source_id`,
      );
      await decrement(
        tx,
        gone.map((r) => r.source_id),
      );
      // Two edges: a friendship or an invite ended (one edge alone is an unblock).
      if (gone.length === 2) out.push(id);
    }
    return { username: me, removed: out };
  });
  await notify(
    em,
    publisher,
    removed.map((id) => ({
      userId: id,
      code: NotificationCode.FRIEND_REMOVE,
      subject: `${username} removed you as a friend`,
      content: { username },
      senderId: userId,
      persistent: true,
    })),
  );
}

/**
 * Blocks users (Nakama's BlockFriends): the caller's edge becomes 3 (made if absent), and the
 * other user's edge to the caller is removed unless they blocked the caller too. Never refused by
 * the friend limit: anyone must be able to block.
 */
export async function blockFriends(em: Em, userId: string, ids: readonly string[], usernames: readonly string[]): Promise<void> {
  const targets = await resolveTargets(em, userId, 'block', ids, usernames);
  if (targets === undefined) return;
  if (targets.length === 0) throw invalid('No valid ID or username was provided.');
  await inTransaction(em, async (tx) => {
    const users = await lockUsers(tx, [userId, ...targets]);
    if (!users.has(userId)) throw notFound('User account not found.');
    for (const id of targets) {
      if (!users.has(id)) continue;
      const inserted = await queryOne<{ source_id: string }>(
        tx,
        sql`insert into user_edge (source_id, destination_id, state, position, metadata, update_time)
            values (${userId}, ${id}, 3, ${NOW_POSITION}, '{}'::jsonb, now())
            on conflict (source_id, destination_id) do nothing returning source_id`,
      );
      if (inserted) await run(tx, sql`update users set edge_count = edge_count + 1, update_time = now() where id = ${userId}`);
      else
        await run(
          tx,
          sql`update user_edge set state = 3, update_time = now() where source_id = ${userId} and destination_id = ${id} and state <> 3`,
        );
      const theirs = await query<{ source_id: string }>(
        tx,
        sql`delete from user_edge where source_id = ${id} and destination_id = ${userId} and state <> 3 returning source_id`,
      );
      await decrement(
        tx,
        theirs.map((r) => r.source_id),
      );
    }
  });
}

/** Replaces the metadata on a user's edge to another (Nakama's friendMetadataUpdate; no edge: no-op). */
export async function updateFriendMetadata(
  em: Em,
  userId: string,
  friendId: string,
  metadata: Record<string, unknown> | null | undefined,
): Promise<void> {
  await run(
    em,
    sql`update user_edge set metadata = ${metadataText(metadata ?? undefined)}::jsonb where source_id = ${userId} and destination_id = ${friendId}`,
  );
}

/**
 * Deletes every edge of a user, both directions, and takes them off the other users' counts
 * (account deletion; Nakama leaves those counts stale). Run it in the deleting transaction, before
 * the user row goes.
 */
export async function removeUserEdges(tx: Em, userId: string): Promise<void> {
  const neighbours = await query<{ id: string }>(
    tx,
    sql`select destination_id as id from user_edge where source_id = ${userId}
        union select source_id from user_edge where destination_id = ${userId}`,
  );
  // Locks in id order like every friend operation. An edge made between that read and the lock
  // is still counted right: the counts come from what the delete actually removed.
  await lockUsers(tx, [userId, ...neighbours.map((r) => r.id)]);
  const gone = await query<{ source_id: string }>(
    tx,
    sql`delete from user_edge where source_id = ${userId} or destination_id = ${userId} returning source_id`,
  );
  await decrement(
    tx,
    gone.map((r) => r.source_id),
  );
}

/** How two users stand: each one's edge to the other, and whether either blocked the other. */
export interface Relationship {
  /** a's view of b. */
  state?: FriendState;
  /** b's view of a. */
  reverse?: FriendState;
  friends: boolean;
  blocked: boolean;
}

/** The relationship between two users (chat uses it to refuse direct messages across a block). */
export async function relationship(em: Em, a: string, b: string): Promise<Relationship> {
  const { ab, ba } = await edges(em, a, b);
  return {
    ...(ab !== undefined ? { state: ab } : {}),
    ...(ba !== undefined ? { reverse: ba } : {}),
    friends: ab === FriendState.FRIEND && ba === FriendState.FRIEND,
    blocked: ab === FriendState.BLOCKED || ba === FriendState.BLOCKED,
  };
}
