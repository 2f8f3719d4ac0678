/**
 * The `nk` facade: one typed object over src/services for designer code, named as in Nakama's
 * TypeScript runtime. Every later feature adds its functions here
 * (shared/reference/nakama-nk-functions.txt is the checklist).
 */
import { randomUUID } from 'node:crypto';
import type { SessionService } from '../auth/sessions.js';
import { invalid } from '../errors.js';
import * as accounts from '../services/accounts.js';
import * as auth from '../services/authenticate.js';
import type { Em } from '../services/db.js';
import type { LeaderboardPorts } from '../services/leaderboards.js';
import type { PasswordHasher } from '../services/ports.js';
import { getUsers, type User } from '../services/users.js';
import * as v from '../services/validation.js';
import { helpers, type Helpers } from './nk-helpers.js';
import { chatNk } from './nk-chat.js';
import { friendsNk } from './nk-friends.js';
import { groupsNk } from './nk-groups.js';
import { socialNk } from './nk-social.js';
import type { Publisher } from '../services/ports.js';
import { leaderboardNk } from './nk-leaderboards.js';
import type { MatchPort } from './match-port.js';
import { matchNk } from './nk-matches.js';
import { runtimeWallet, storageNk, type RuntimeWallet } from './nk-storage.js';

/** What `nk` needs from the server. */
export interface NkDeps {
  em: () => Em;
  hasher: PasswordHasher;
  sessions: SessionService;
  leaderboards: LeaderboardPorts;
  /** Presence publish, for live notifications and chat delivery. */
  publisher: Publisher;
  /** Largest realtime content (chat messages). */
  messageLimitBytes: number;
  /** `TAVERN_MAX_FRIENDS`. */
  maxFriends: number;
  /** Matches through the realtime side (absent: the match functions answer UNAVAILABLE). */
  matches?: MatchPort;
}

/** A user as the runtime sees it (Nakama's `nkruntime.User`): times in seconds since the epoch. */
export interface RuntimeUser {
  userId: string;
  username: string;
  displayName?: string;
  avatarUrl?: string;
  langTag: string;
  location?: string;
  timezone?: string;
  metadata: Record<string, unknown>;
  edgeCount: number;
  createTime: number;
  updateTime: number;
  online: boolean;
}

export interface RuntimeAccount {
  user: RuntimeUser;
  wallet: RuntimeWallet;
  email?: string;
  devices: { id: string }[];
  customId?: string;
  verifyTime?: number;
  disableTime?: number;
}

export interface AuthResult {
  userId: string;
  username: string;
  created: boolean;
}

/** Optional account fields; `null`/`undefined` leave a field unchanged. */
export interface AccountUpdateFields {
  username?: string | null;
  displayName?: string | null;
  timezone?: string | null;
  location?: string | null;
  langTag?: string | null;
  avatarUrl?: string | null;
  metadata?: Record<string, unknown> | null;
}

const seconds = (d: Date) => Math.floor(d.getTime() / 1000);

function runtimeUser(u: User): RuntimeUser {
  const { id, createTime, updateTime, ...rest } = u;
  return { userId: id, ...rest, createTime: seconds(createTime), updateTime: seconds(updateTime) };
}

function runtimeAccount(a: accounts.Account): RuntimeAccount {
  return {
    user: runtimeUser(a.user),
    wallet: runtimeWallet(a.wallet),
    ...(a.email ? { email: a.email } : {}),
    devices: a.devices,
    ...(a.customId ? { customId: a.customId } : {}),
    ...(a.verifyTime ? { verifyTime: seconds(a.verifyTime) } : {}),
    ...(a.disableTime ? { disableTime: seconds(a.disableTime) } : {}),
  };
}

function check<T>(
  schema: { safeParse(x: unknown): { success: true; data: T } | { success: false; error: { issues: { message: string }[] } } },
  value: unknown,
): T {
  const r = schema.safeParse(value);
  if (!r.success) throw invalid(r.error.issues[0]?.message ?? 'Invalid input.');
  return r.data;
}

function uuids(ids: readonly string[]): string[] {
  for (const id of ids) check(v.uuid, id);
  return [...ids];
}

export function createNk(deps: NkDeps) {
  const { em, hasher, sessions, leaderboards } = deps;
  const authResult = (r: auth.Authenticated): AuthResult => ({ userId: r.user.id, username: r.user.username, created: r.created });
  return {
    ...helpers,
    ...storageNk(em),
    ...leaderboardNk(em, leaderboards),
    ...socialNk(em, deps.publisher),
    ...groupsNk(em, deps.publisher),
    ...friendsNk(em, deps.publisher, deps.maxFriends),
    ...chatNk(em, deps.publisher, deps.messageLimitBytes),
    ...matchNk(deps.matches),

    async authenticateDevice(id: string, username?: string | null, create = true): Promise<AuthResult> {
      return authResult(
        await auth.authenticateDevice(em(), check(v.deviceId, id), create, username ? check(v.username, username) : undefined),
      );
    },
    async authenticateCustom(id: string, username?: string | null, create = true): Promise<AuthResult> {
      return authResult(
        await auth.authenticateCustom(em(), check(v.customId, id), create, username ? check(v.username, username) : undefined),
      );
    },
    async authenticateEmail(email: string, password: string, username?: string | null, create = true): Promise<AuthResult> {
      return authResult(
        await auth.authenticateEmail(
          em(),
          hasher,
          check(v.email, email),
          check(v.password, password),
          create,
          username ? check(v.username, username) : undefined,
        ),
      );
    },
    /** A session token for a user, as if they had authenticated (`exp` in seconds since the epoch). */
    authenticateTokenGenerate(
      userId: string,
      username: string,
      exp?: number,
      vars?: Record<string, string>,
    ): { token: string; exp: number } {
      const expirySec = exp !== undefined ? exp - Math.floor(Date.now() / 1000) : undefined;
      if (expirySec !== undefined && expirySec <= 0) throw invalid('Expiry must be in the future.');
      const pair = sessions.issueWithExpiry({ id: check(v.uuid, userId), username: check(v.username, username) }, vars, expirySec);
      return { token: pair.token, exp: pair.claims.exp };
    },

    async accountGetId(userId: string): Promise<RuntimeAccount> {
      return runtimeAccount(await accounts.getAccount(em(), check(v.uuid, userId)));
    },
    async accountsGetId(userIds: string[]): Promise<RuntimeAccount[]> {
      const out: RuntimeAccount[] = [];
      for (const id of uuids(userIds)) {
        try {
          out.push(runtimeAccount(await accounts.getAccount(em(), id)));
        } catch {
          // Unknown ids are left out, as in Nakama.
        }
      }
      return out;
    },
    async accountUpdateId(userId: string, fields: AccountUpdateFields): Promise<void> {
      const update: accounts.AccountUpdate = {};
      if (fields.username != null) update.username = check(v.username, fields.username);
      if (fields.displayName != null) update.displayName = check(v.displayName, fields.displayName);
      if (fields.timezone != null) update.timezone = check(v.timezone, fields.timezone);
      if (fields.location != null) update.location = check(v.location, fields.location);
      if (fields.langTag != null) update.langTag = check(v.langTag, fields.langTag);
      if (fields.avatarUrl != null) update.avatarUrl = check(v.avatarUrl, fields.avatarUrl);
      if (fields.metadata != null) update.metadata = fields.metadata;
      await accounts.updateAccount(em(), check(v.uuid, userId), update);
    },
    async accountDeleteId(userId: string): Promise<void> {
      await accounts.deleteAccount(em(), check(v.uuid, userId), leaderboards.ranks);
      await sessions.revokeUser(userId);
    },
    async usersGetId(userIds: string[]): Promise<RuntimeUser[]> {
      return (await getUsers(em(), uuids(userIds), [])).map(runtimeUser);
    },
    async usersGetUsername(usernames: string[]): Promise<RuntimeUser[]> {
      return (await getUsers(em(), [], usernames)).map(runtimeUser);
    },
    /** Bans users: they cannot authenticate, and their sessions stop working. */
    async usersBanId(userIds: string[]): Promise<void> {
      for (const id of uuids(userIds)) {
        await accounts.setDisabled(em(), id, true);
        await sessions.revokeUser(id);
      }
    },
    async usersUnbanId(userIds: string[]): Promise<void> {
      for (const id of uuids(userIds)) await accounts.setDisabled(em(), id, false);
    },

    linkDevice: (userId: string, deviceId: string) => accounts.linkDevice(em(), check(v.uuid, userId), check(v.deviceId, deviceId)),
    linkCustom: (userId: string, customId: string) => accounts.linkCustom(em(), check(v.uuid, userId), check(v.customId, customId)),
    linkEmail: (userId: string, email: string, password: string) =>
      accounts.linkEmail(em(), hasher, check(v.uuid, userId), check(v.email, email), check(v.password, password)),
    unlinkDevice: (userId: string, deviceId: string) => accounts.unlinkDevice(em(), check(v.uuid, userId), deviceId),
    unlinkCustom: (userId: string, customId: string) => accounts.unlinkCustom(em(), check(v.uuid, userId), customId),
    unlinkEmail: (userId: string, email: string) => accounts.unlinkEmail(em(), check(v.uuid, userId), email),

    /** Ends a user's sessions: the named ones, or all of them when no token is given. */
    async sessionLogout(userId: string, token?: string, refreshToken?: string): Promise<void> {
      check(v.uuid, userId);
      if (!token && !refreshToken) return sessions.revokeUser(userId);
      await sessions.logoutTokens(userId, token, refreshToken);
    },

    uuidv4: (): string => randomUUID(),
  };
}

/** The `nk` object handed to modules. */
export type Nakama = ReturnType<typeof createNk> & Helpers;
