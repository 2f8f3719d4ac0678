/** `nk` functions for friends (Nakama's names, argument orders and shapes). */
import { invalid } from '../errors.js';
import type { Em } from '../services/db.js';
import * as lists from '../services/friend-lists.js';
import * as friends from '../services/friends.js';
import type { Publisher } from '../services/ports.js';
import type { User } from '../services/users.js';
import * as v from '../services/validation.js';

const seconds = (d: Date) => Math.floor(d.getTime() / 1000);

/** A user as the runtime sees it (the same shape as `nk.usersGetId`'s). */
function runtimeUser(u: User) {
  const { id, createTime, updateTime, ...rest } = u;
  return { userId: id, ...rest, createTime: seconds(createTime), updateTime: seconds(updateTime) };
}

export type RuntimeFriendUser = ReturnType<typeof runtimeUser>;

export interface RuntimeFriend {
  user: RuntimeFriendUser;
  state: friends.FriendState;
  updateTime: number;
  metadata: Record<string, unknown>;
}

function userId(id: unknown, what = 'user ID'): string {
  if (typeof id !== 'string' || !v.uuid.safeParse(id).success) throw invalid(`Expects ${what} to be a valid identifier.`);
  return id.toLowerCase();
}

function limitOf(limit: number | null | undefined): number {
  if (limit === undefined || limit === null) return 100;
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw invalid('Expects limit to be 1-1000.');
  return limit;
}

/**
 * The ids and usernames of a batch, checked as Nakama's runtime does (`username` is the caller's,
 * used to refuse acting on oneself); `undefined` when both lists are absent.
 */
function batch(op: 'add' | 'delete' | 'block', caller: string, username: string, ids?: string[] | null, usernames?: string[] | null) {
  if (!username) throw invalid('Expects a username string.');
  const verb = op === 'add' ? 'add self as friend' : `${op} self`;
  for (const name of usernames ?? []) if (name === username) throw invalid(`Cannot ${verb}.`);
  for (const id of ids ?? []) if (id === caller) throw invalid(`Cannot ${verb}.`);
  return { ids: ids ?? [], usernames: usernames ?? [] };
}

/** `maxFriends` is `TAVERN_MAX_FRIENDS`. */
export function friendsNk(em: () => Em, publisher: Publisher, maxFriends: number) {
  return {
    /** A user's edges; `state` -1 or absent lists every state. Limit 1–1000, default 100. */
    async friendsList(userIdArg: string, limit?: number | null, state?: number | null, cursor?: string | null) {
      const filter = state === undefined || state === null || state === -1 ? undefined : state;
      if (filter !== undefined && ![0, 1, 2, 3].includes(filter)) throw invalid('Expects state to be 0-3.');
      const page = await lists.listFriends(em(), userId(userIdArg), {
        limit: limitOf(limit),
        ...(filter !== undefined ? { state: filter as friends.FriendState } : {}),
        ...(cursor ? { cursor } : {}),
      });
      return {
        friends: page.friends.map((f): RuntimeFriend => ({
          user: runtimeUser(f.user),
          state: f.state,
          updateTime: seconds(f.updateTime),
          metadata: JSON.parse(f.metadata) as Record<string, unknown>,
        })),
        ...(page.cursor ? { cursor: page.cursor } : {}),
      };
    },
    /** Friends of a user's friends. Limit 1–1000, default 100 (as Nakama's runtime). */
    async friendsOfFriendsList(userIdArg: string, limit?: number | null, cursor?: string | null) {
      const page = await lists.listFriendsOfFriends(em(), userId(userIdArg), { limit: limitOf(limit), ...(cursor ? { cursor } : {}) });
      return {
        friendsOfFriends: page.friendsOfFriends.map((f) => ({ referrer: f.referrer, user: runtimeUser(f.user) })),
        ...(page.cursor ? { cursor: page.cursor } : {}),
      };
    },
    async friendsAdd(
      userIdArg: string,
      username: string,
      ids?: string[] | null,
      usernames?: string[] | null,
      metadata?: Record<string, unknown> | null,
    ): Promise<void> {
      const caller = userId(userIdArg);
      const b = batch('add', caller, username, ids, usernames);
      await friends.addFriends(em(), { publisher, maxFriends }, caller, b.ids, b.usernames, metadata ?? undefined);
    },
    async friendsDelete(userIdArg: string, username: string, ids?: string[] | null, usernames?: string[] | null): Promise<void> {
      const caller = userId(userIdArg);
      const b = batch('delete', caller, username, ids, usernames);
      await friends.deleteFriends(em(), publisher, caller, b.ids, b.usernames);
    },
    async friendsBlock(userIdArg: string, username: string, ids?: string[] | null, usernames?: string[] | null): Promise<void> {
      const caller = userId(userIdArg);
      const b = batch('block', caller, username, ids, usernames);
      await friends.blockFriends(em(), caller, b.ids, b.usernames);
    },
    /** Replaces the metadata on `userId`'s edge to `friendUserId` (no edge: nothing happens, as in Nakama). */
    async friendMetadataUpdate(userIdArg: string, friendUserId: string, metadata: Record<string, unknown> | null): Promise<void> {
      if (metadata !== null && (typeof metadata !== 'object' || Array.isArray(metadata)))
        throw invalid('Expects metadata to be an object.');
      await friends.updateFriendMetadata(em(), userId(userIdArg), userId(friendUserId, 'friend user ID'), metadata);
    },
  };
}
