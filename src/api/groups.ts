/** Group endpoints (Nakama REST v2): create, update, delete, membership, roles and listings. */
import { z } from 'zod';
import { invalid } from '../errors.js';
import * as lists from '../services/group-lists.js';
import * as members from '../services/group-members.js';
import * as roles from '../services/group-roles.js';
import * as groups from '../services/groups.js';
import type { Publisher } from '../services/ports.js';
import { endpoint, type CallContext, type Endpoint } from './pipeline.js';
import { qArray, qBool } from './schema.js';
import { protoTime, wireUser } from './wire.js';

export interface GroupApiDeps {
  /** Where join-request and group-add notifications are published (the Colyseus presence). */
  publisher: Publisher;
}

/** Nakama sends group times in whole seconds. */
const seconds = (d: Date) => protoTime(new Date(Math.floor(d.getTime() / 1000) * 1000));

/** Nakama's `Group` on the wire: zero values omitted, except `open`, a wrapper Nakama always sets. */
export function wireGroup(g: groups.Group) {
  return {
    id: g.id,
    creator_id: g.creatorId,
    name: g.name,
    ...(g.description ? { description: g.description } : {}),
    ...(g.avatarUrl ? { avatar_url: g.avatarUrl } : {}),
    ...(g.langTag ? { lang_tag: g.langTag } : {}),
    metadata: JSON.stringify(g.metadata),
    open: g.open,
    ...(g.edgeCount ? { edge_count: g.edgeCount } : {}),
    ...(g.maxCount ? { max_count: g.maxCount } : {}),
    create_time: seconds(g.createTime),
    update_time: seconds(g.updateTime),
  };
}

const groupIdField = z
  .string({ error: 'Group ID must be set.' })
  .min(1, 'Group ID must be set.')
  .pipe(z.string().uuid('Group ID must be a valid ID.'));
const userIds = qArray(z.string().uuid('User ID must be a valid ID.'));
const limitField = z.coerce
  .number()
  .int()
  .min(1, 'Invalid limit - limit must be between 1 and 100.')
  .max(100, 'Invalid limit - limit must be between 1 and 100.')
  .optional();
const stateField = z.coerce
  .number()
  .int()
  .min(0, 'Invalid state - state must be between 0 and 4.')
  .max(4, 'Invalid state - state must be between 0 and 4.')
  .optional();
/** A protobuf wrapper field in JSON: a value, or null/absent for "not set". */
const wrapped = <T extends z.ZodType>(t: T) => t.nullish().transform((x) => x ?? undefined);

const caller = (ctx: CallContext) => ({ userId: ctx.session!.userId });

/** The user-list operations that share one request shape (`group_id` and repeated `user_ids`). */
function usersOp(
  operation: string,
  action: string,
  run: (req: { group_id: string; user_ids: string[] }, ctx: CallContext) => Promise<void>,
  requireIds = false,
): Endpoint {
  return endpoint({
    operation,
    method: 'POST',
    path: `/v2/group/:group_id/${action}`,
    auth: 'session',
    request: z.object({ group_id: groupIdField, user_ids: userIds }),
    async handler(req, ctx) {
      if (req.user_ids.length === 0) {
        if (requireIds) throw invalid('User IDs must be set.');
        return {};
      }
      await run(req, ctx);
      return {};
    },
  });
}

export function groupEndpoints(deps: GroupApiDeps): Endpoint[] {
  return [
    endpoint({
      operation: 'CreateGroup',
      method: 'POST',
      path: '/v2/group',
      auth: 'session',
      body: '*',
      request: z.object({
        name: z.string({ error: 'Group name must be set.' }).min(1, 'Group name must be set.'),
        description: z.string().optional(),
        lang_tag: z.string().optional(),
        avatar_url: z.string().optional(),
        open: qBool.optional(),
        max_count: z.coerce
          .number()
          .int()
          .min(0, 'Group max count must be >= 1 when set.')
          .max(2 ** 31 - 1)
          .optional(),
      }),
      async handler(req, ctx) {
        const g = await groups.createGroup(ctx.em, ctx.session!.userId, {
          name: req.name,
          ...(req.description ? { description: req.description } : {}),
          ...(req.lang_tag ? { langTag: req.lang_tag } : {}),
          ...(req.avatar_url ? { avatarUrl: req.avatar_url } : {}),
          open: req.open === true,
          // Nakama: 0 (unset) means the default, 100.
          maxCount: req.max_count || 100,
        });
        return wireGroup(g);
      },
    }),
    endpoint({
      operation: 'UpdateGroup',
      method: 'PUT',
      path: '/v2/group/:group_id',
      auth: 'session',
      body: '*',
      request: z.object({
        group_id: groupIdField,
        name: wrapped(z.string()),
        description: wrapped(z.string()),
        lang_tag: wrapped(z.string()),
        avatar_url: wrapped(z.string()),
        open: wrapped(z.boolean()),
      }),
      async handler(req, ctx) {
        await groups.updateGroup(ctx.em, caller(ctx), req.group_id, {
          ...(req.name !== undefined ? { name: req.name } : {}),
          ...(req.description !== undefined ? { description: req.description } : {}),
          ...(req.lang_tag !== undefined ? { langTag: req.lang_tag } : {}),
          ...(req.avatar_url !== undefined ? { avatarUrl: req.avatar_url } : {}),
          ...(req.open !== undefined ? { open: req.open } : {}),
        });
        return {};
      },
    }),
    endpoint({
      operation: 'DeleteGroup',
      method: 'DELETE',
      path: '/v2/group/:group_id',
      auth: 'session',
      request: z.object({ group_id: groupIdField }),
      async handler(req, ctx) {
        await groups.deleteGroup(ctx.em, caller(ctx), req.group_id);
        return {};
      },
    }),
    endpoint({
      operation: 'JoinGroup',
      method: 'POST',
      path: '/v2/group/:group_id/join',
      auth: 'session',
      request: z.object({ group_id: groupIdField }),
      async handler(req, ctx) {
        await members.joinGroup(ctx.em, deps.publisher, req.group_id, ctx.session!.userId);
        return {};
      },
    }),
    endpoint({
      operation: 'LeaveGroup',
      method: 'POST',
      path: '/v2/group/:group_id/leave',
      auth: 'session',
      request: z.object({ group_id: groupIdField }),
      async handler(req, ctx) {
        await members.leaveGroup(ctx.em, req.group_id, ctx.session!.userId);
        return {};
      },
    }),
    usersOp('AddGroupUsers', 'add', (req, ctx) => members.addGroupUsers(ctx.em, deps.publisher, caller(ctx), req.group_id, req.user_ids)),
    usersOp('KickGroupUsers', 'kick', (req, ctx) => roles.kickGroupUsers(ctx.em, caller(ctx), req.group_id, req.user_ids)),
    usersOp('BanGroupUsers', 'ban', (req, ctx) => roles.banGroupUsers(ctx.em, caller(ctx), req.group_id, req.user_ids)),
    usersOp('PromoteGroupUsers', 'promote', (req, ctx) => roles.promoteGroupUsers(ctx.em, caller(ctx), req.group_id, req.user_ids)),
    usersOp('DemoteGroupUsers', 'demote', (req, ctx) => roles.demoteGroupUsers(ctx.em, caller(ctx), req.group_id, req.user_ids), true),
    endpoint({
      operation: 'ListGroups',
      method: 'GET',
      path: '/v2/group',
      auth: 'session',
      request: z.object({
        name: z.string().max(255).optional(),
        cursor: z.string().max(1024).optional(),
        limit: limitField,
        lang_tag: z.string().max(18).optional(),
        members: z.coerce.number().int().optional(),
        open: qBool.optional(),
      }),
      async handler(req, ctx) {
        const page = await lists.listGroups(ctx.em, {
          ...(req.name ? { name: req.name } : {}),
          ...(req.lang_tag ? { langTag: req.lang_tag } : {}),
          ...(req.open !== undefined ? { open: req.open } : {}),
          // Nakama: a negative count is no filter.
          ...(req.members !== undefined && req.members >= 0 ? { members: req.members } : {}),
          // Nakama's REST default is one group per page (its runtime's is 100).
          limit: req.limit ?? 1,
          ...(req.cursor ? { cursor: req.cursor } : {}),
        });
        return {
          ...(page.groups.length > 0 ? { groups: page.groups.map(wireGroup) } : {}),
          ...(page.cursor ? { cursor: page.cursor } : {}),
        };
      },
    }),
    endpoint({
      operation: 'ListGroupUsers',
      method: 'GET',
      path: '/v2/group/:group_id/user',
      auth: 'session',
      request: z.object({ group_id: groupIdField, limit: limitField, state: stateField, cursor: z.string().max(1024).optional() }),
      async handler(req, ctx) {
        const page = await lists.listGroupUsers(ctx.em, req.group_id, {
          limit: req.limit ?? 100,
          ...(req.state !== undefined ? { state: req.state } : {}),
          ...(req.cursor ? { cursor: req.cursor } : {}),
        });
        return {
          ...(page.groupUsers.length > 0
            ? { group_users: page.groupUsers.map((gu) => ({ user: wireUser(gu.user), state: gu.state })) }
            : {}),
          ...(page.cursor ? { cursor: page.cursor } : {}),
        };
      },
    }),
    endpoint({
      operation: 'ListUserGroups',
      method: 'GET',
      path: '/v2/user/:user_id/group',
      auth: 'session',
      request: z.object({
        user_id: z
          .string({ error: 'User ID must be set.' })
          .min(1, 'User ID must be set.')
          .pipe(z.string().uuid('User ID must be a valid ID.')),
        limit: limitField,
        state: stateField,
        cursor: z.string().max(1024).optional(),
      }),
      async handler(req, ctx) {
        const page = await lists.listUserGroups(ctx.em, req.user_id, {
          limit: req.limit ?? 100,
          ...(req.state !== undefined ? { state: req.state } : {}),
          ...(req.cursor ? { cursor: req.cursor } : {}),
        });
        return {
          ...(page.userGroups.length > 0
            ? { user_groups: page.userGroups.map((ug) => ({ group: wireGroup(ug.group), state: ug.state })) }
            : {}),
          ...(page.cursor ? { cursor: page.cursor } : {}),
        };
      },
    }),
  ];
}
