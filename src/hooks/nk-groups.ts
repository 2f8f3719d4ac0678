/** `nk` functions for groups (Nakama's TypeScript runtime names, argument orders and shapes). */
import { invalid } from '../errors.js';
import type { Em } from '../services/db.js';
import * as lists from '../services/group-lists.js';
import * as members from '../services/group-members.js';
import * as roles from '../services/group-roles.js';
import * as groups from '../services/groups.js';
import type { Publisher } from '../services/ports.js';
import { SYSTEM_USER_ID } from '../services/storage.js';
import type { User } from '../services/users.js';
import * as v from '../services/validation.js';

const secs = (d: Date) => Math.floor(d.getTime() / 1000);

/** nkruntime.Group: times in seconds since the epoch, empty strings for unset text. */
export interface RuntimeGroup {
  id: string;
  creatorId: string;
  name: string;
  description: string;
  avatarUrl: string;
  langTag: string;
  metadata: Record<string, unknown>;
  open: boolean;
  edgeCount: number;
  maxCount: number;
  createTime: number;
  updateTime: number;
}

export function runtimeGroup(g: groups.Group): RuntimeGroup {
  return {
    id: g.id,
    creatorId: g.creatorId,
    name: g.name,
    description: g.description ?? '',
    avatarUrl: g.avatarUrl ?? '',
    langTag: g.langTag,
    metadata: g.metadata,
    open: g.open,
    edgeCount: g.edgeCount,
    maxCount: g.maxCount,
    createTime: secs(g.createTime),
    updateTime: secs(g.updateTime),
  };
}

/** The user inside nkruntime.GroupUserList. */
function runtimeUser(u: User) {
  return {
    userId: u.id,
    username: u.username,
    displayName: u.displayName ?? '',
    avatarUrl: u.avatarUrl ?? '',
    langTag: u.langTag,
    location: u.location ?? '',
    timezone: u.timezone ?? '',
    metadata: u.metadata,
    online: u.online,
    edgeCount: u.edgeCount,
    createTime: secs(u.createTime),
    updateTime: secs(u.updateTime),
  };
}

const id = (value: unknown, what: string): string => {
  if (typeof value !== 'string' || !v.uuid.safeParse(value).success) throw invalid(`Invalid ${what} '${String(value)}'.`);
  return value;
};

const ids = (values: unknown, what: string): string[] => {
  if (!Array.isArray(values)) throw invalid(`Expects an array of ${what}s.`);
  return values.map((x) => id(x, what));
};

/** A caller id: its role rules apply; absent, null or empty: the server, which bypasses them. */
const callerOf = (callerId: string | null | undefined): groups.GroupCaller => (callerId ? { userId: id(callerId, 'caller ID') } : 'server');

/** An optional argument: null and undefined both mean "not given". */
const opt = <T>(x: T | null | undefined): T | undefined => (x === null ? undefined : x);

export function groupsNk(em: () => Em, publisher: Publisher) {
  return {
    /** Creates a group with `userId` as superadmin; the creator id defaults to the system user. */
    async groupCreate(
      userId: string,
      name: string,
      creatorId?: string | null,
      langTag?: string | null,
      description?: string | null,
      avatarUrl?: string | null,
      open?: boolean | null,
      metadata?: Record<string, unknown> | null,
      maxCount?: number | null,
    ): Promise<RuntimeGroup> {
      if (!name) throw invalid('Expects group name to not be empty.');
      const g = await groups.createGroup(em(), id(userId, 'user ID'), {
        name,
        creatorId: creatorId ? id(creatorId, 'creator ID') : SYSTEM_USER_ID,
        ...(langTag ? { langTag } : {}),
        ...(description ? { description } : {}),
        ...(avatarUrl ? { avatarUrl } : {}),
        open: open === true,
        ...(metadata ? { metadata } : {}),
        // Nakama: 0 or less means the default.
        maxCount: maxCount && maxCount > 0 ? maxCount : 100,
      });
      return runtimeGroup(g);
    },
    /** Updates a group; a null `userId` acts as the server. Null or undefined fields stay unchanged. */
    async groupUpdate(
      groupId: string,
      userId?: string | null,
      name?: string | null,
      creatorId?: string | null,
      langTag?: string | null,
      description?: string | null,
      avatarUrl?: string | null,
      open?: boolean | null,
      metadata?: Record<string, unknown> | null,
      maxCount?: number | null,
    ): Promise<void> {
      const fields: groups.GroupFields = {};
      if (opt(name) !== undefined) fields.name = name!;
      if (creatorId) fields.creatorId = id(creatorId, 'creator ID');
      if (opt(langTag) !== undefined) fields.langTag = langTag!;
      if (opt(description) !== undefined) fields.description = description!;
      if (opt(avatarUrl) !== undefined) fields.avatarUrl = avatarUrl!;
      if (opt(open) !== undefined) fields.open = open!;
      if (opt(metadata) !== undefined) fields.metadata = metadata!;
      if (maxCount && maxCount > 0) fields.maxCount = maxCount;
      await groups.updateGroup(em(), callerOf(userId), id(groupId, 'group ID'), fields);
    },
    async groupDelete(groupId: string): Promise<void> {
      await groups.deleteGroup(em(), 'server', id(groupId, 'group ID'));
    },
    async groupsGetId(groupIds: string[]): Promise<RuntimeGroup[]> {
      return (await groups.getGroups(em(), ids(groupIds, 'group ID'))).map(runtimeGroup);
    },
    /** Members, admins, superadmins and join requests (or one state; -1 or null for all), 1–10000 a page. */
    async groupUsersList(groupId: string, limit?: number | null, state?: number | null, cursor?: string | null) {
      const page = await lists.listGroupUsers(
        em(),
        id(groupId, 'group ID'),
        { limit: limit ?? 100, ...(state !== null && state !== undefined && state !== -1 ? { state } : {}), ...(cursor ? { cursor } : {}) },
        10000,
      );
      return { groupUsers: page.groupUsers.map((gu) => ({ user: runtimeUser(gu.user), state: gu.state })), cursor: page.cursor ?? null };
    },
    async userGroupsList(userId: string, limit?: number | null, state?: number | null, cursor?: string | null) {
      const page = await lists.listUserGroups(em(), id(userId, 'user ID'), {
        limit: limit ?? 100,
        ...(state !== null && state !== undefined && state !== -1 ? { state } : {}),
        ...(cursor ? { cursor } : {}),
      });
      return { userGroups: page.userGroups.map((ug) => ({ group: runtimeGroup(ug.group), state: ug.state })), cursor: page.cursor ?? null };
    },
    /** Joins a group as the user (the username argument is kept for Nakama's signature; the stored one is used). */
    async groupUserJoin(groupId: string, userId: string, _username?: string): Promise<void> {
      await members.joinGroup(em(), publisher, id(groupId, 'group ID'), id(userId, 'user ID'));
    },
    async groupUserLeave(groupId: string, userId: string, _username?: string): Promise<void> {
      await members.leaveGroup(em(), id(groupId, 'group ID'), id(userId, 'user ID'));
    },
    async groupUsersAdd(groupId: string, userIds: string[], callerId?: string | null): Promise<void> {
      await members.addGroupUsers(em(), publisher, callerOf(callerId), id(groupId, 'group ID'), ids(userIds, 'user ID'));
    },
    async groupUsersKick(groupId: string, userIds: string[], callerId?: string | null): Promise<void> {
      await roles.kickGroupUsers(em(), callerOf(callerId), id(groupId, 'group ID'), ids(userIds, 'user ID'));
    },
    async groupUsersBan(groupId: string, userIds: string[], callerId?: string | null): Promise<void> {
      await roles.banGroupUsers(em(), callerOf(callerId), id(groupId, 'group ID'), ids(userIds, 'user ID'));
    },
    async groupUsersPromote(groupId: string, userIds: string[], callerId?: string | null): Promise<void> {
      await roles.promoteGroupUsers(em(), callerOf(callerId), id(groupId, 'group ID'), ids(userIds, 'user ID'));
    },
    async groupUsersDemote(groupId: string, userIds: string[], callerId?: string | null): Promise<void> {
      await roles.demoteGroupUsers(em(), callerOf(callerId), id(groupId, 'group ID'), ids(userIds, 'user ID'));
    },
    /** Finds groups by name (or prefix with a trailing `%`), or by language, open and at most `edgeCount` members. */
    async groupsList(
      name?: string | null,
      langTag?: string | null,
      open?: boolean | null,
      edgeCount?: number | null,
      limit?: number | null,
      cursor?: string | null,
    ) {
      const page = await lists.listGroups(em(), {
        ...(name ? { name } : {}),
        ...(langTag ? { langTag } : {}),
        ...(open !== null && open !== undefined ? { open } : {}),
        ...(edgeCount !== null && edgeCount !== undefined && edgeCount >= 0 ? { members: edgeCount } : {}),
        limit: limit ?? 100,
        ...(cursor ? { cursor } : {}),
      });
      return { groups: page.groups.map(runtimeGroup), cursor: page.cursor ?? null };
    },
  };
}
