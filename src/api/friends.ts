/** Friend endpoints (Nakama REST v2): add, delete, block, list, and friends of friends. */
import { z } from 'zod';
import * as lists from '../services/friend-lists.js';
import * as friends from '../services/friends.js';
import type { Publisher } from '../services/ports.js';
import { endpoint, type Endpoint } from './pipeline.js';
import { qArray, qString } from './schema.js';
import { protoTime, wireUser } from './wire.js';

export interface FriendApiDeps {
  /** Presence, for the notifications friend changes send. */
  publisher: Publisher;
  /** `TAVERN_MAX_FRIENDS`. */
  maxFriends: number;
}

/** Nakama's `Friend`: `state` is a wrapper type, so 0 is sent, not omitted. */
export function wireFriend(f: lists.Friend) {
  return { user: wireUser(f.user), state: f.state, update_time: protoTime(f.updateTime), metadata: f.metadata };
}

/** A query integer as grpc-gateway reads a wrapper field (the last value when repeated). */
const qInt = (min: number, max: number, message: string) =>
  z.preprocess(
    (x) => (Array.isArray(x) ? x[x.length - 1] : x),
    z.coerce.number({ error: message }).int(message).min(min, message).max(max, message),
  );

const targets = z.object({ ids: qArray(z.string()), usernames: qArray(z.string()) });

export function friendEndpoints({ publisher, maxFriends }: FriendApiDeps): Endpoint[] {
  return [
    endpoint({
      operation: 'AddFriends',
      method: 'POST',
      path: '/v2/friend',
      auth: 'session',
      request: targets.extend({ metadata: qString.optional() }),
      async handler(req, ctx) {
        await friends.addFriends(ctx.em, { publisher, maxFriends }, ctx.session!.userId, req.ids, req.usernames, req.metadata);
        return {};
      },
    }),
    endpoint({
      operation: 'DeleteFriends',
      method: 'DELETE',
      path: '/v2/friend',
      auth: 'session',
      request: targets,
      async handler(req, ctx) {
        await friends.deleteFriends(ctx.em, publisher, ctx.session!.userId, req.ids, req.usernames);
        return {};
      },
    }),
    endpoint({
      operation: 'BlockFriends',
      method: 'POST',
      path: '/v2/friend/block',
      auth: 'session',
      request: targets,
      async handler(req, ctx) {
        await friends.blockFriends(ctx.em, ctx.session!.userId, req.ids, req.usernames);
        return {};
      },
    }),
    endpoint({
      operation: 'ListFriends',
      method: 'GET',
      path: '/v2/friend',
      auth: 'session',
      request: z.object({
        limit: qInt(1, 1000, 'Invalid limit - limit must be between 1 and 1000.').optional(),
        state: qInt(0, 3, 'Invalid state - state must be between 0 and 3.').optional(),
        cursor: qString.optional(),
      }),
      async handler(req, ctx) {
        // Nakama's default: a client that does not page still sees up to 1000 edges.
        const page = await lists.listFriends(ctx.em, ctx.session!.userId, {
          limit: req.limit ?? 1000,
          ...(req.state !== undefined ? { state: req.state as friends.FriendState } : {}),
          ...(req.cursor ? { cursor: req.cursor } : {}),
        });
        return {
          ...(page.friends.length > 0 ? { friends: page.friends.map(wireFriend) } : {}),
          ...(page.cursor ? { cursor: page.cursor } : {}),
        };
      },
    }),
    endpoint({
      operation: 'ListFriendsOfFriends',
      method: 'GET',
      path: '/v2/friend/friends',
      auth: 'session',
      request: z.object({
        limit: qInt(1, 100, 'Invalid limit - limit must be between 1 and 100.').optional(),
        cursor: qString.optional(),
      }),
      async handler(req, ctx) {
        // Nakama's default page is 10, at most 100.
        const page = await lists.listFriendsOfFriends(ctx.em, ctx.session!.userId, {
          limit: req.limit ?? 10,
          ...(req.cursor ? { cursor: req.cursor } : {}),
        });
        return {
          ...(page.friendsOfFriends.length > 0
            ? { friends_of_friends: page.friendsOfFriends.map((f) => ({ referrer: f.referrer, user: wireUser(f.user) })) }
            : {}),
          ...(page.cursor ? { cursor: page.cursor } : {}),
        };
      },
    }),
  ];
}
